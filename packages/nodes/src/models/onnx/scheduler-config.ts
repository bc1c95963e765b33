/**
 * `scheduler/scheduler_config.json` → the noise schedule the UNet was trained on. The DDIM/PNDM/Euler/…
 * schedulers all describe the same 1000-step discrete VP schedule by their beta fields; the flow
 * matching scheduler means rectified flow with network timestep = 1000·sigma.
 */
import type { NoiseSchedule } from '../../sampling/contracts.ts';
import { DiscreteVPSchedule, FlowSchedule, makeBetas, type BetaScheduleName } from '../../schedules/noise-schedules.ts';
import { numberField, stringField, type Json } from './config-files.ts';
import type { Parameterization } from '../../sampling/parameterization.ts';
import { parameterizationOf } from './prediction-type.ts';

export interface SchedulerInfo {
  className: string;
  schedule: NoiseSchedule;
  /** From `prediction_type` (absent from flow configs: they always predict velocity). */
  parameterization?: Parameterization;
  /** diffusers' `timestep_spacing` and `steps_offset`: what the pipeline's own scheduler would use. */
  timestepSpacing?: string;
  stepsOffset: number;
  /** Things the engine's grids do not reproduce, for the log. */
  notes: string[];
}

const BETA_SCHEDULES: readonly BetaScheduleName[] = ['linear', 'scaled_linear', 'squaredcos_cap_v2'];

function cumprod(betas: ArrayLike<number>): Float64Array {
  const out = new Float64Array(betas.length);
  let p = 1;
  for (let i = 0; i < betas.length; i++) out[i] = p *= 1 - betas[i];
  return out;
}

function flowScheduler(cfg: Json, file: string, className: string): SchedulerInfo {
  const n = numberField(cfg, 'num_train_timesteps', file, 1000);
  const shift = numberField(cfg, 'shift', file, 1);
  const notes: string[] = [];
  if (shift !== 1) notes.push(`${file}: shift ${shift} is a grid choice in diffusers; the Schedule node's grids do not apply it`);
  if (cfg.use_dynamic_shifting === true) notes.push(`${file}: use_dynamic_shifting is not applied by the Schedule node's grids`);
  // diffusers: timesteps = sigmas · num_train_timesteps.
  return { className, schedule: new FlowSchedule({ modelTimeScale: n }), parameterization: 'flow', stepsOffset: 0, notes };
}

function discreteScheduler(cfg: Json, file: string, className: string): SchedulerInfo {
  const n = numberField(cfg, 'num_train_timesteps', file, 1000);
  if (cfg.rescale_betas_zero_snr === true) {
    throw new Error(`${file}: rescale_betas_zero_snr (zero terminal SNR) is not supported: the schedule would reach alpha = 0`);
  }
  let alphasCumprod: Float64Array;
  if (Array.isArray(cfg.trained_betas) && cfg.trained_betas.length > 0) {
    alphasCumprod = cumprod(cfg.trained_betas as number[]);
  } else {
    const name = stringField(cfg, 'beta_schedule', file) ?? 'linear';
    if (!BETA_SCHEDULES.includes(name as BetaScheduleName)) {
      throw new Error(`${file}: beta_schedule "${name}" is not supported (expected ${BETA_SCHEDULES.join(', ')})`);
    }
    const betas = makeBetas(name as BetaScheduleName, {
      numTrainTimesteps: n,
      betaStart: cfg.beta_start === undefined ? undefined : numberField(cfg, 'beta_start', file, 0),
      betaEnd: cfg.beta_end === undefined ? undefined : numberField(cfg, 'beta_end', file, 0),
    });
    alphasCumprod = cumprod(betas);
  }
  const predictionType = stringField(cfg, 'prediction_type', file);
  return {
    className,
    schedule: new DiscreteVPSchedule(alphasCumprod),
    parameterization: predictionType === undefined ? undefined : parameterizationOf(predictionType, file),
    timestepSpacing: stringField(cfg, 'timestep_spacing', file),
    stepsOffset: numberField(cfg, 'steps_offset', file, 0),
    notes: [],
  };
}

export function schedulerFromConfig(cfg: Json, file: string): SchedulerInfo {
  const className = stringField(cfg, '_class_name', file) ?? 'DDIMScheduler';
  return className.startsWith('FlowMatch') ? flowScheduler(cfg, file, className) : discreteScheduler(cfg, file, className);
}
