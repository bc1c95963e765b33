/**
 * `scheduler/scheduler_config.json` → the noise schedule the UNet was trained on. The DDIM/PNDM/Euler/…
 * schedulers all describe the same 1000-step discrete VP schedule by their beta fields; the flow
 * matching scheduler means rectified flow with network timestep = 1000·sigma.
 */
import type { NoiseSchedule } from '../../contracts/sampling.ts';
import { DiscreteVPSchedule, FlowSchedule, makeBetas, veSigmaOf, type BetaScheduleName } from '../../schedules/noise-schedules.ts';
import { gridRuleOf, type DiffusersGridConfig, type DiffusersSpacing } from '../../schedules/diffusers-grids.ts';
import { numberField, stringField, type Json } from './config-files.ts';
import type { Parameterization } from '../../contracts/parameterization.ts';
import { parameterizationOf } from './prediction-type.ts';

export interface SchedulerInfo {
  className: string;
  schedule: NoiseSchedule;
  /** From `prediction_type` (absent from flow configs: they always predict velocity). */
  parameterization?: Parameterization;
  /** diffusers' `timestep_spacing` and `steps_offset`: what the pipeline's own scheduler would use. */
  timestepSpacing?: string;
  stepsOffset: number;
  /** What the Schedule node's `spacing: "auto"` builds for this model. */
  grid: DiffusersGridConfig;
  /** Things the engine's grids do not reproduce, for the log. */
  notes: string[];
}

function booleanField(cfg: Json, key: string, file: string, fallback: boolean): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw new Error(`${file}: "${key}" must be true or false, found ${JSON.stringify(v)}`);
  return v;
}

/**
 * The grid fields of a config, with `_class_name`'s own defaults for absent ones (DDIM: leading spacing
 * and set_alpha_to_one true; the others: linspace). Features auto cannot reproduce are listed, not
 * dropped silently: the Schedule node refuses auto on them and says which.
 */
function gridConfigOf(cfg: Json, file: string, className: string, notes: string[]): DiffusersGridConfig {
  const { rule, known } = gridRuleOf(className);
  if (!known) notes.push(`${file}: ${className} is not one of the schedulers spacing "auto" knows; it follows ${rule === 'flow' ? 'FlowMatchEulerDiscreteScheduler' : 'DDIMScheduler'}'s rules`);
  const unsupported: string[] = [];
  const flag = (key: string) => booleanField(cfg, key, file, false);
  const timestepSpacing = stringField(cfg, 'timestep_spacing', file) ?? (rule === 'ddim' ? 'leading' : 'linspace');
  if (rule !== 'flow' && rule !== 'lcm' && !['linspace', 'leading', 'trailing'].includes(timestepSpacing)) unsupported.push(`timestep_spacing "${timestepSpacing}"`);
  const finalSigmasType = stringField(cfg, 'final_sigmas_type', file) ?? 'zero';
  if (finalSigmasType !== 'zero' && finalSigmasType !== 'sigma_min') unsupported.push(`final_sigmas_type "${finalSigmasType}"`);
  for (const key of ['use_beta_sigmas', 'use_lu_lambdas', 'use_flow_sigmas', 'invert_sigmas']) if (flag(key)) unsupported.push(key);
  if (rule === 'flow' && flag('use_dynamic_shifting')) unsupported.push('use_dynamic_shifting (the shift depends on the image size through the pipeline\'s mu)');
  if (rule === 'flow' && cfg.shift_terminal != null) unsupported.push('shift_terminal');
  if (rule === 'euler' && (stringField(cfg, 'interpolation_type', file) ?? 'linear') !== 'linear') unsupported.push(`interpolation_type "${cfg.interpolation_type as string}"`);
  const rampEnds = className === 'EulerDiscreteScheduler' || className === 'UniPCMultistepScheduler';
  // EulerAncestral has no sigma ramps and always ends at 0 (diffusers ignores those keys there).
  const plainSigmas = className === 'EulerAncestralDiscreteScheduler';
  const optionalNumber = (key: string) => (rampEnds && cfg[key] != null ? numberField(cfg, key, file, 0) : undefined);
  return {
    className,
    rule,
    numTrainTimesteps: numberField(cfg, 'num_train_timesteps', file, 1000),
    timestepSpacing: timestepSpacing as DiffusersSpacing,
    stepsOffset: numberField(cfg, 'steps_offset', file, 0),
    setAlphaToOne: booleanField(cfg, 'set_alpha_to_one', file, true),
    sigmaRamp: plainSigmas ? 'none' : flag('use_karras_sigmas') ? 'karras' : flag('use_exponential_sigmas') ? 'exponential' : 'none',
    sigmaMin: optionalNumber('sigma_min'),
    sigmaMax: optionalNumber('sigma_max'),
    finalSigmasType: plainSigmas ? 'zero' : (finalSigmasType as DiffusersGridConfig['finalSigmasType']),
    lambdaMinClipped: className === 'DPMSolverMultistepScheduler' ? numberField(cfg, 'lambda_min_clipped', file, -Infinity) : -Infinity,
    shift: rule === 'flow' ? numberField(cfg, 'shift', file, 1) : 1,
    ...(rule === 'lcm' ? {
      originalInferenceSteps: numberField(cfg, 'original_inference_steps', file, 50),
      timestepScaling: numberField(cfg, 'timestep_scaling', file, 10),
    } : {}),
    unsupported,
  };
}

/**
 * EulerDiscreteScheduler with `timestep_type: "continuous"` and v-prediction feeds the network
 * 0.25·log(sigma) instead of the training step (EDM's c_noise).
 */
class ContinuousTimestepSchedule extends DiscreteVPSchedule {
  override modelTime(t: number): number {
    return 0.25 * Math.log(veSigmaOf(this, t));
  }
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
  const grid = gridConfigOf(cfg, file, className, notes);
  if (shift !== 1) notes.push(`${file}: shift ${shift} is a grid choice in diffusers; the Schedule node applies it with spacing "auto" only`);
  if (grid.unsupported.length > 0) notes.push(`${file}: spacing "auto" cannot reproduce ${grid.unsupported.join('; ')}`);
  // diffusers: timesteps = sigmas · num_train_timesteps.
  return { className, schedule: new FlowSchedule({ modelTimeScale: n }), parameterization: 'flow', stepsOffset: 0, grid, notes };
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
  const parameterization = predictionType === undefined ? undefined : parameterizationOf(predictionType, file);
  const notes: string[] = [];
  const grid = gridConfigOf(cfg, file, className, notes);
  if (grid.unsupported.length > 0) notes.push(`${file}: spacing "auto" cannot reproduce ${grid.unsupported.join('; ')}`);
  const continuousTimestep = className === 'EulerDiscreteScheduler' && cfg.timestep_type === 'continuous' && parameterization === 'v';
  return {
    className,
    schedule: continuousTimestep ? new ContinuousTimestepSchedule(alphasCumprod) : new DiscreteVPSchedule(alphasCumprod),
    parameterization,
    timestepSpacing: stringField(cfg, 'timestep_spacing', file),
    stepsOffset: numberField(cfg, 'steps_offset', file, 0),
    grid,
    notes,
  };
}

export function schedulerFromConfig(cfg: Json, file: string): SchedulerInfo {
  const className = stringField(cfg, '_class_name', file) ?? 'DDIMScheduler';
  return className.startsWith('FlowMatch') ? flowScheduler(cfg, file, className) : discreteScheduler(cfg, file, className);
}
