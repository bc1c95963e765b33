/**
 * Time grids: decreasing arrays of continuous times t_0 > t_1 > ... > t_M (M = number of steps) on a
 * NoiseSchedule. Grids may end at t = 0 (sigma = 0) for k-diffusion-style samplers.
 *
 * - `time_uniform`, `logSNR`, `time_quadratic`: DPM-Solver's `get_time_steps`
 *   (packages/nodes/test/data/refs/README.md §4), with
 *   torch-style float64 linspace, from tStart (default schedule.tMax) to tEnd (default schedule.tMin).
 * - `uniform`, `trailing`, `leading`: diffusers' `timestep_spacing` ("linspace", "trailing", "leading")
 *   on a discrete schedule's training steps n, expressed as times t = (n + 1)/N.
 * - `custom`: a validated user list.
 * - `denoise` < 1 (img2img): see `truncateForDenoise`.
 */
import type { NoiseSchedule, TimeGrid } from '../contracts/sampling.ts';
import { linspace, timeOfVeSigma } from './noise-schedules.ts';

export type ContinuousSpacing = 'time_uniform' | 'logSNR' | 'time_quadratic';
export type DiscreteSpacing = 'uniform' | 'trailing' | 'leading';
export type GridSpacing = ContinuousSpacing | DiscreteSpacing;

export interface TimeGridOptions {
  spacing: GridSpacing;
  /** Number of intervals (solver steps), before any `denoise` truncation. */
  steps: number;
  /** Continuous spacings: first time (default schedule.tMax). */
  tStart?: number;
  /** Continuous spacings: last time (default schedule.tMin). */
  tEnd?: number;
  /** 0 < denoise ≤ 1; below 1 the grid is truncated for img2img (see `truncateForDenoise`). */
  denoise?: number;
  /** Discrete spacings: see `discreteTimeGrid`. */
  discrete?: DiscreteGridOptions;
}

/** Build a grid by name; the single entry point the sampler nodes use. */
export function timeGrid(schedule: NoiseSchedule, options: TimeGridOptions): number[] {
  const build = (steps: number): number[] =>
    isDiscreteSpacing(options.spacing)
      ? discreteTimeGrid(schedule, options.spacing, steps, options.discrete)
      : dpmSolverTimeGrid(schedule, options.spacing, steps, options.tStart, options.tEnd);
  return truncateForDenoise(build, options.steps, options.denoise ?? 1);
}

function isDiscreteSpacing(spacing: GridSpacing): spacing is DiscreteSpacing {
  return spacing === 'uniform' || spacing === 'trailing' || spacing === 'leading';
}

function assertSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`steps must be a positive integer, got ${steps}`);
}

/**
 * DPM-Solver's grids with `steps` intervals from tStart down to tEnd:
 * - time_uniform: t_i = linspace(tStart, tEnd, M + 1)
 * - logSNR: lambda_i = linspace(lambda(tStart), lambda(tEnd), M + 1), t_i = tOfLambda(lambda_i)
 *   (as in the official code the ends are round-tripped through lambda, so they may differ by an ulp)
 * - time_quadratic: t_i = linspace(√tStart, √tEnd, M + 1)²
 */
export function dpmSolverTimeGrid(
  schedule: NoiseSchedule,
  spacing: ContinuousSpacing,
  steps: number,
  tStart: number = schedule.tMax,
  tEnd: number = schedule.tMin,
): number[] {
  assertSteps(steps);
  if (!(tStart > tEnd && tEnd >= 0)) throw new RangeError(`grid needs tStart > tEnd >= 0, got ${tStart} .. ${tEnd}`);
  switch (spacing) {
    case 'time_uniform':
      return linspace(tStart, tEnd, steps + 1);
    case 'logSNR': {
      const lambdaStart = schedule.lambda(tStart);
      const lambdaEnd = schedule.lambda(tEnd);
      if (!Number.isFinite(lambdaStart) || !Number.isFinite(lambdaEnd)) {
        throw new RangeError('logSNR grid needs finite lambda at both ends (tEnd > 0, alpha(tStart) > 0)');
      }
      return linspace(lambdaStart, lambdaEnd, steps + 1).map((l) => schedule.tOfLambda(l));
    }
    case 'time_quadratic':
      return linspace(Math.sqrt(tStart), Math.sqrt(tEnd), steps + 1).map((r) => r * r);
    default:
      throw new Error(`unknown grid spacing '${spacing as string}'`);
  }
}

export interface DiscreteGridOptions {
  /** Training steps N (default: the schedule's `numTrainTimesteps`, else 1000). */
  numTrainTimesteps?: number;
  /** diffusers `steps_offset`, added to `leading` timesteps (SD: 1). */
  stepsOffset?: number;
  /**
   * diffusers `set_alpha_to_one`: whether the last step lands on the clean sample (t = 0, alpha = 1) or
   * on the first training step (t = 1/N, alpha = alphas_cumprod[0]). Default false, as in SD's and this
   * project's scheduler config.
   */
  setAlphaToOne?: boolean;
}

/**
 * diffusers' discrete timesteps (DDIMScheduler.set_timesteps), decreasing integers in [0, N − 1]:
 * - uniform ("linspace"): round(linspace(0, N − 1, steps)) reversed — 999, 888, ..., 0 for 10 of 1000
 * - trailing: round(arange(N, 0, −N/steps)) − 1 — 999, 899, ..., 99
 * - leading: arange(steps)·(N // steps) reversed, + stepsOffset — 900, 800, ..., 0 (+ offset)
 */
export function discreteTimesteps(spacing: DiscreteSpacing, steps: number, numTrainTimesteps = 1000, stepsOffset = 0): number[] {
  assertSteps(steps);
  const n = numTrainTimesteps;
  if (steps > n) throw new RangeError(`${steps} steps exceed the ${n} training steps`);
  switch (spacing) {
    case 'uniform':
      // numpy rounds half to even; linspace(0, N−1, steps) only hits .5 exactly when that is intended.
      return linspace(0, n - 1, steps).map(roundHalfEven).reverse();
    case 'trailing': {
      const ratio = n / steps;
      const out: number[] = [];
      for (let i = 0; i < steps; i++) out.push(roundHalfEven(n - i * ratio) - 1);
      return out;
    }
    case 'leading': {
      const ratio = Math.floor(n / steps);
      const out: number[] = [];
      for (let i = steps - 1; i >= 0; i--) out.push(i * ratio + stepsOffset);
      return out;
    }
    default:
      throw new Error(`unknown discrete spacing '${spacing as string}'`);
  }
}

/** numpy's round: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * A discrete spacing as continuous times t = (n + 1)/N, followed by the final time of diffusers' last
 * step (t = 0 with setAlphaToOne, else t = 1/N). When the last timestep already sits at the final time
 * (`uniform` ends on n = 0 without setAlphaToOne), diffusers would take a zero-length step there; we
 * drop it, so that grid has steps − 1 intervals.
 */
export function discreteTimeGrid(
  schedule: NoiseSchedule,
  spacing: DiscreteSpacing,
  steps: number,
  options: DiscreteGridOptions = {},
): number[] {
  const n = options.numTrainTimesteps ?? (schedule as { numTrainTimesteps?: number }).numTrainTimesteps ?? 1000;
  const timesteps = discreteTimesteps(spacing, steps, n, options.stepsOffset ?? 0);
  if (timesteps[0] > n - 1) throw new RangeError(`stepsOffset moves the first timestep past ${n - 1}`);
  const times = timesteps.map((step) => (step + 1) / n);
  const finalTime = options.setAlphaToOne ? 0 : 1 / n;
  if (times[times.length - 1] > finalTime) times.push(finalTime);
  return validateTimeGrid(times, schedule);
}

/**
 * img2img truncation (ComfyUI's rule): build the grid for floor(steps/denoise) steps and keep its last
 * steps + 1 points, so exactly `steps` steps run, starting part-way down the full-denoise grid. (A tiny
 * tolerance absorbs round-off such as 3/0.3 = 10.000000000000002.) denoise = 1 builds the grid as is.
 */
export function truncateForDenoise(build: (steps: number) => number[], steps: number, denoise: number): number[] {
  assertSteps(steps);
  if (!(denoise > 0 && denoise <= 1)) throw new RangeError(`denoise must be in (0, 1], got ${denoise}`);
  if (denoise === 1) return build(steps);
  const totalSteps = Math.floor(steps / denoise + 1e-9);
  const full = build(totalSteps);
  return full.slice(Math.max(0, full.length - (steps + 1)));
}

/**
 * Check a user grid: at least two finite times, strictly decreasing, ending at ≥ 0, and (except for VE,
 * whose time is an unbounded noise level) starting no later than schedule.tMax. Returns a copy.
 */
export function validateTimeGrid(times: readonly number[], schedule?: NoiseSchedule): number[] {
  if (times.length < 2) throw new RangeError('a time grid needs at least 2 times');
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new RangeError(`time grid: entry ${i} is not a finite number`);
    if (i > 0 && !(t < times[i - 1])) throw new RangeError(`time grid must be strictly decreasing (entry ${i}: ${t} after ${times[i - 1]})`);
  }
  if (times[times.length - 1] < 0) throw new RangeError('time grid must end at t >= 0');
  if (schedule && schedule.kind !== 've' && times[0] > schedule.tMax * (1 + 1e-12)) {
    throw new RangeError(`time grid starts at ${times[0]}, after the schedule's tMax ${schedule.tMax}`);
  }
  return [...times];
}

/** `custom` spacing: the user's times, validated. */
export function customTimeGrid(times: readonly number[], schedule?: NoiseSchedule): number[] {
  return validateTimeGrid(times, schedule);
}

/**
 * Times for a k-diffusion sigma list (VE noise levels sigma/alpha = e^(−lambda), decreasing, possibly
 * ending with 0): t_i = tOfLambda(−log sigma_i), and sigma = 0 maps to t = 0.
 */
export function timesFromVeSigmas(schedule: NoiseSchedule, sigmas: readonly number[]): number[] {
  return validateTimeGrid(sigmas.map((s) => timeOfVeSigma(schedule, s)), schedule);
}

/**
 * The per-step orders of intervals `from`..`to` of a grid (a segment run as a grid of its own), or
 * undefined for a grid without orders. A solve of the segment starts with no history, so its solver
 * caps the first orders again.
 */
export function segmentOrders(grid: Pick<TimeGrid, 'orders'>, from: number, to: number): number[] | undefined {
  return grid.orders?.slice(from, to);
}
