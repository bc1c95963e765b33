/**
 * The sampling contracts (DESIGN §5). Everything here is continuous time t, decreasing while sampling,
 * with the state in the model's own space: x_t = alpha(t)·x0 + sigma(t)·eps.
 */
import type { Tensor } from '@diffgraph/engine';

export interface NoiseSchedule {
  /** `discrete` (1000-step tables), `linear_vp` (continuous VP), `flow` (alpha = 1 − t, sigma = t), `ve` (alpha = 1). */
  readonly kind: 'discrete' | 'linear_vp' | 'flow' | 've';
  /** Largest time a sampler starts from (T = 1 for VP and flow). */
  readonly tMax: number;
  /** Smallest time a grid ends on by default (1/N for discrete, 1e-3 for continuous VP). */
  readonly tMin: number;
  logAlpha(t: number): number;
  alpha(t: number): number;
  sigma(t: number): number;
  /** Half log-SNR: log(alpha/sigma). +Infinity at sigma = 0. */
  lambda(t: number): number;
  /** Exact inverse of lambda on [tMin, tMax] (and down to 0 where the schedule defines it). */
  tOfLambda(lambda: number): number;
  /** What the network's timestep input expects at time t (discrete: 1000·t − 1). */
  modelTime(t: number): number;
}

/**
 * The model seen by a solver: data prediction x0(x, t) for a batch of states at continuous time t.
 * Async because a network call is.
 */
export type Denoiser = (x: Tensor, t: number) => Promise<Tensor>;

export interface SolverHooks {
  /** Called after each step with the new state and the step's x0-prediction. */
  onStep?: (info: { step: number; steps: number; t: number; x: Tensor; denoised: Tensor }) => void;
  /** Checked between steps: a solver throws the signal's reason when aborted. */
  signal?: AbortSignal;
}

/** A seeded source of standard normal noise shaped like a template tensor (stochastic solvers). */
export type NoiseSource = (like: Tensor, step: number) => Tensor;

export interface SolveArgs {
  denoiser: Denoiser;
  schedule: NoiseSchedule;
  /** Initial state at times[0]. Not modified. */
  x: Tensor;
  /** Decreasing times; may end at t = 0 (sigma = 0). */
  times: readonly number[];
  hooks?: SolverHooks;
  noise?: NoiseSource;
}

/** A solver is a pure function over a denoiser and a time grid. */
export type SolverFn = (args: SolveArgs) => Promise<Tensor>;
