/**
 * The inference grid a diffusers pipeline's own scheduler would use (`set_timesteps` of its
 * `scheduler_config.json`), as our continuous times: what the Schedule node's `spacing: "auto"` builds.
 *
 * Each diffusers class has its own rules, selected by `_class_name`:
 * - `ddim` (DDIMScheduler): integer timesteps by `timestep_spacing` (+ `steps_offset` for leading), then the
 *   final step to `final_alpha_cumprod` (t = 0 with `set_alpha_to_one`, else training step 0, t = 1/N).
 * - `euler` (EulerDiscrete, EulerAncestralDiscrete): float timesteps (linspace is not rounded), sigmas
 *   interpolated linearly in sigma between training steps, optionally re-spaced as a Karras or
 *   exponential ramp between the first and last of those sigmas, then `final_sigmas_type` (0 or the
 *   training sigma_min).
 * - `multistep` (DPMSolverMultistep, UniPCMultistep): `steps + 1` spacing points with the last dropped,
 *   integer timesteps; Karras / exponential ramps span the full training range; then `final_sigmas_type`.
 * - `lcm` (LCMScheduler): the distillation grid (k = N // original_inference_steps; timesteps k·j − 1 for
 *   j = original_inference_steps, …, 1) sampled at floor(linspace(0, original, steps, endpoint=False));
 *   `timestep_spacing` and `steps_offset` do not apply. The grid ends at t = 0: LCM's last step returns
 *   the denoised sample (schedules/lcm-grid.ts).
 * - `flow` (FlowMatchEulerDiscrete): sigmas = shift(linspace(1, shift(1/N), steps)), optionally re-spaced,
 *   then 0; flow sigma is our time t.
 *
 * Sigmas are VE noise levels sqrt((1 − ᾱ)/ᾱ) (= e^(−lambda)); a sigma becomes the time whose schedule has
 * it (integer timesteps land exactly on the knots t = (n + 1)/N). A final point that equals the one
 * before (diffusers' zero-length last step) is dropped, as the spacings in grids.ts do.
 */
import type { NoiseSchedule } from '../contracts/sampling.ts';
import type { DiffusersGridConfig, DiffusersGridRule } from '../contracts/scheduler-grid.ts';
import { discreteTimeGrid, roundHalfEven, validateTimeGrid } from './grids.ts';
import { DiscreteVPSchedule, timeOfVeSigma } from './noise-schedules.ts';
import { exponentialSigmas, karrasSigmas } from './sigma-grids.ts';
import { lcmTimesteps } from './lcm-grid.ts';

export type { DiffusersGridConfig, DiffusersGridRule, DiffusersSpacing } from '../contracts/scheduler-grid.ts';



const RULES: Readonly<Record<string, DiffusersGridRule>> = {
  DDIMScheduler: 'ddim',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler',
  DPMSolverMultistepScheduler: 'multistep',
  UniPCMultistepScheduler: 'multistep',
  FlowMatchEulerDiscreteScheduler: 'flow',
  LCMScheduler: 'lcm',
};

/** The rule of a class; unknown classes follow DDIM's rules (flow classes the flow rule). */
export function gridRuleOf(className: string): { rule: DiffusersGridRule; known: boolean } {
  const rule = RULES[className];
  if (rule) return { rule, known: true };
  return { rule: className.startsWith('FlowMatch') ? 'flow' : 'ddim', known: false };
}

/** numpy's arange(start, stop, step) for a negative step: start + i·step for i < ceil((stop − start)/step). */
function arangeDown(start: number, stop: number, step: number): number[] {
  const count = Math.ceil((stop - start) / step);
  return Array.from({ length: Math.max(0, count) }, (_, i) => start + i * step);
}

/** numpy's linspace(start, stop, count): start + i·step, with the last point exactly `stop`. */
function npLinspace(start: number, stop: number, count: number): number[] {
  if (count === 1) return [start];
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? stop : start + i * step));
}

/** numpy's interp on the grid 0, 1, ..., len − 1. */
function interpOnSteps(x: number, ys: ArrayLike<number>): number {
  if (x <= 0) return ys[0];
  if (x >= ys.length - 1) return ys[ys.length - 1];
  const i = Math.floor(x);
  const f = x - i;
  return f === 0 ? ys[i] : ys[i] + f * (ys[i + 1] - ys[i]);
}

function spacingError(cfg: DiffusersGridConfig): never {
  throw new Error(`${cfg.className}: timestep_spacing "${cfg.timestepSpacing as string}" is not one of linspace, leading, trailing`);
}

/** EulerDiscreteScheduler's float timesteps. */
function eulerTimesteps(cfg: DiffusersGridConfig, steps: number): number[] {
  const n = cfg.numTrainTimesteps;
  switch (cfg.timestepSpacing) {
    case 'linspace':
      return npLinspace(0, n - 1, steps).reverse();
    case 'leading': {
      const ratio = Math.floor(n / steps);
      return Array.from({ length: steps }, (_, i) => (steps - 1 - i) * ratio + cfg.stepsOffset);
    }
    case 'trailing':
      return arangeDown(n, 0, -n / steps).map((v) => roundHalfEven(v) - 1);
    default:
      return spacingError(cfg);
  }
}

/** DPMSolverMultistep / UniPC: `steps + 1` points with the last (0) dropped, integers. */
function multistepTimesteps(cfg: DiffusersGridConfig, steps: number, lastTimestep: number): number[] {
  switch (cfg.timestepSpacing) {
    case 'linspace':
      return npLinspace(0, lastTimestep - 1, steps + 1).map(roundHalfEven).reverse().slice(0, -1);
    case 'leading': {
      const ratio = Math.floor(lastTimestep / (steps + 1));
      return Array.from({ length: steps }, (_, i) => (steps - i) * ratio + cfg.stepsOffset);
    }
    case 'trailing':
      return arangeDown(lastTimestep, 0, -cfg.numTrainTimesteps / steps).map((v) => roundHalfEven(v) - 1);
    default:
      return spacingError(cfg);
  }
}

/** The training sigmas sqrt((1 − ᾱ_n)/ᾱ_n), n = 0..N − 1 (increasing). */
function trainingSigmas(schedule: DiscreteVPSchedule): Float64Array {
  return schedule.alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
}

function ramp(cfg: DiffusersGridConfig, steps: number, sigmaMin: number, sigmaMax: number): number[] {
  const sigmas = cfg.sigmaRamp === 'karras' ? karrasSigmas(steps, sigmaMin, sigmaMax, 7) : exponentialSigmas(steps, sigmaMin, sigmaMax);
  return sigmas.slice(0, -1); // both append a 0; diffusers appends its own final sigma
}

/** Sigmas → times; an integer timestep's sigma is a knot, whose time is exactly (n + 1)/N. */
function timesOf(schedule: DiscreteVPSchedule, sigmas: readonly number[], timesteps: readonly (number | undefined)[]): number[] {
  const n = schedule.numTrainTimesteps;
  return sigmas.map((s, i) => {
    const step = timesteps[i];
    return step !== undefined && Number.isInteger(step) ? (step + 1) / n : timeOfVeSigma(schedule, s);
  });
}

/** Append the final point unless it repeats the last one (a zero-length step, up to round-off). */
function withFinal(times: number[], finalTime: number): number[] {
  if (times[times.length - 1] > finalTime * (1 + 1e-9)) times.push(finalTime);
  return times;
}

function discreteRuleTimes(schedule: DiscreteVPSchedule, cfg: DiffusersGridConfig, steps: number): number[] {
  const trainSigmas = trainingSigmas(schedule);
  const finalTime = cfg.finalSigmasType === 'zero' ? 0 : 1 / schedule.numTrainTimesteps;
  if (cfg.rule === 'euler') {
    const timesteps = eulerTimesteps(cfg, steps);
    const sigmas = timesteps.map((step) => interpOnSteps(step, trainSigmas));
    if (cfg.sigmaRamp === 'none') return withFinal(timesOf(schedule, sigmas, timesteps), finalTime);
    const ramped = ramp(cfg, steps, cfg.sigmaMin ?? sigmas[sigmas.length - 1], cfg.sigmaMax ?? sigmas[0]);
    return withFinal(timesOf(schedule, ramped, []), finalTime);
  }
  // multistep
  const lastTimestep = schedule.numTrainTimesteps - clippedCount(schedule, cfg.lambdaMinClipped);
  if (cfg.sigmaRamp === 'none') {
    const timesteps = multistepTimesteps(cfg, steps, lastTimestep);
    return withFinal(timesOf(schedule, timesteps.map((step) => trainSigmas[step]), timesteps), finalTime);
  }
  const ramped = ramp(cfg, steps, cfg.sigmaMin ?? trainSigmas[0], cfg.sigmaMax ?? trainSigmas[trainSigmas.length - 1]);
  const times = timesOf(schedule, ramped, []);
  // UniPC's sigma_min ends on its ramp's last sigma, DPM-Solver's on training step 0: the same point unless sigma_min is overridden.
  const rampEnd = cfg.className === 'UniPCMultistepScheduler' ? times[times.length - 1] : 1 / schedule.numTrainTimesteps;
  return withFinal(times, cfg.finalSigmasType === 'zero' ? 0 : rampEnd);
}

/** DPMSolverMultistep's `searchsorted(flip(lambda_t), lambda_min_clipped)`: how many steps have lambda below the clip. */
function clippedCount(schedule: DiscreteVPSchedule, lambdaMinClipped: number): number {
  let count = 0;
  for (let i = 0; i < schedule.numTrainTimesteps; i++) if (schedule.lambda((i + 1) / schedule.numTrainTimesteps) < lambdaMinClipped) count++;
  return count;
}

function flowRuleTimes(schedule: NoiseSchedule, cfg: DiffusersGridConfig, steps: number): number[] {
  const n = cfg.numTrainTimesteps;
  const shift = (s: number) => (cfg.shift * s) / (1 + (cfg.shift - 1) * s);
  // __init__ shifts the training sigmas; set_timesteps spaces between the shifted ends and shifts again.
  let sigmas = npLinspace(n * shift(1), n * shift(1 / n), steps).map((t) => shift(t / n));
  if (cfg.sigmaRamp !== 'none') sigmas = ramp(cfg, steps, sigmas[sigmas.length - 1], sigmas[0]);
  // Flow sigma is our time; lambda is infinite at sigma = 1, so the grid starts at the schedule's tMax.
  return [...sigmas.map((s) => Math.min(s, schedule.tMax)), 0];
}

/**
 * How the scheduler starts a full denoise, in VP terms. Pipelines draw `noise·init_noise_sigma` and feed
 * the network `scale_model_input(x)`: for DDIM, DPM-Solver, UniPC and FlowMatch both are 1 and the
 * identity, so the state is the noise itself. Euler's state is VE (x0 + sigma·eps) and scale_model_input
 * divides it by sqrt(sigma² + 1), which is exactly our VP state; its init_noise_sigma is sigma_max for
 * linspace / trailing (VP: sigma(t0)·noise) and sqrt(sigma_max² + 1) for leading (VP: the noise itself).
 */
export function diffusersStart(cfg: DiffusersGridConfig): 'noise' | 'sigma' {
  return cfg.rule === 'euler' && cfg.timestepSpacing !== 'leading' ? 'sigma' : 'noise';
}

/** The grid `cfg`'s scheduler would sample `steps` steps on, as times of `schedule`. */
export function diffusersTimes(schedule: NoiseSchedule, cfg: DiffusersGridConfig, steps: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
  if (cfg.unsupported.length > 0) {
    throw new Error(`spacing "auto" cannot reproduce this ${cfg.className} config (${cfg.unsupported.join('; ')}): choose a spacing explicitly`);
  }
  if (cfg.rule === 'flow') {
    if (schedule.kind !== 'flow') throw new Error(`${cfg.className} needs a flow schedule, the model has a ${schedule.kind} one`);
    return validateTimeGrid(flowRuleTimes(schedule, cfg, steps), schedule);
  }
  if (!(schedule instanceof DiscreteVPSchedule)) throw new Error(`${cfg.className} needs a discrete schedule, the model has a ${schedule.kind} one`);
  if (steps > cfg.numTrainTimesteps) throw new RangeError(`${steps} steps exceed the ${cfg.numTrainTimesteps} training steps`);
  if (cfg.rule === 'lcm') {
    const timesteps = lcmTimesteps(cfg.numTrainTimesteps, cfg.originalInferenceSteps ?? 50, steps);
    return validateTimeGrid([...timesteps.map((n) => (n + 1) / schedule.numTrainTimesteps), 0], schedule);
  }
  if (cfg.rule === 'ddim') {
    const spacing = cfg.timestepSpacing === 'linspace' ? 'uniform' : cfg.timestepSpacing;
    if (!['uniform', 'leading', 'trailing'].includes(spacing)) spacingError(cfg);
    return discreteTimeGrid(schedule, spacing, steps, { stepsOffset: cfg.stepsOffset, setAlphaToOne: cfg.setAlphaToOne });
  }
  const times = discreteRuleTimes(schedule, cfg, steps);
  if (times[0] > schedule.tMax) throw new RangeError(`${cfg.className}: steps_offset ${cfg.stepsOffset} moves the first timestep past ${cfg.numTrainTimesteps - 1}`);
  return validateTimeGrid(times, schedule);
}
