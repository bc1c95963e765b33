/**
 * The sampling contracts (DESIGN §5). Everything here is continuous time t, decreasing while sampling,
 * with the state in the model's own space: x_t = alpha(t)·x0 + sigma(t)·eps.
 */
import type { Tensor } from '@diffgraph/engine';
import type { DiffusersGridConfig } from './scheduler-grid.ts';

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
  /**
   * Called after each step with the new state and the step's x0-prediction; solvers that take per-step
   * orders (SolveArgs.orders) also say the order the step ran at.
   */
  onStep?: (info: { step: number; steps: number; t: number; x: Tensor; denoised: Tensor; order?: number }) => void;
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
  /** The rule that built `times` (e.g. 'logSNR'); singlestep solvers place their inner points by it. */
  spacing?: string;
  /** The consistency boundary of the LCM scheduler config the grid reproduces (TimeGrid.lcm). */
  lcm?: LcmBoundary;
  /**
   * The order of each step, one per interval of `times` (TimeGrid.orders). Multistep DPM-Solver(++) and
   * UniPC take it in place of their own plan, capped by the history available (step i, 0-based, has
   * i + 1 model values); every other solver of the catalog rejects it.
   */
  orders?: readonly number[];
}

/** A solver is a pure function over a denoiser and a time grid. */
export type SolverFn = (args: SolveArgs) => Promise<Tensor>;

/** What flows through a CONDITIONING socket: model-specific fields (a prompt embedding, a class subset). */
export type Conditioning = Readonly<Record<string, unknown>>;

/** A linear latent → RGB projection for cheap live previews (image/latent-rgb.ts fits one). */
export interface LatentRgb {
  matrix: number[][];
  bias: number[];
  /** Image pixels per latent pixel along each side. */
  scale: number;
}

/** What flows through a MODEL socket: a data predictor on its own noise schedule. */
export interface DiffusionModel {
  readonly name: string;
  readonly schedule: NoiseSchedule;
  /** Shape of one sample (without the batch dimension). */
  readonly sampleShape: readonly number[];
  /** The dtype the model computes in; latents it starts from are made in it. */
  readonly dtype: 'float32' | 'float64';
  /** x0 prediction for a batch of states at continuous time t. */
  predictX0(x: Tensor, t: number, conditioning?: Conditioning): Promise<Tensor>;
  /**
   * x0 predictions of the same states under several conditionings, in ONE model call where the model
   * can batch them (CFG, composable guidance). Result i belongs to conditionings[i].
   */
  predictX0Many?(x: Tensor, t: number, conditionings: readonly (Conditioning | undefined)[]): Promise<Tensor[]>;
  /** A linear latent → RGB projection for live previews, fitted to the model's own VAE (computed once). */
  latentRgb?(): Promise<LatentRgb>;
  /** The grid its own scheduler config asks for (loaded pipelines); the Schedule node's spacing "auto" builds it. */
  schedulerGrid?: DiffusersGridConfig;
}

/** IMAGE: Tensor [B, 3, H, W], float32, RGB in [0, 1]. MASK: Tensor [B, 1, H, W] in [0, 1], 1 = repaint. */
export const IMAGE_LAYOUT = 'BCHW, RGB in [0, 1]';

/** What flows through a GUIDER socket: the denoiser a sampler calls, built from one or more models. */
export interface Guider {
  readonly schedule: NoiseSchedule;
  readonly denoise: Denoiser;
  /** The underlying model's preview projection, when the guider knows it. */
  latentRgb?(): Promise<LatentRgb>;
}

/** What flows through a NOISE socket. Stream 0 is the start noise; stream k > 0 the noise of step k. */
export interface NoiseGenerator {
  readonly seed: number | null;
  sample(like: Tensor, stream: number): Tensor;
}

/** What flows through a SIGMAS socket: decreasing times of the model's schedule, and how they were made. */
export interface TimeGrid {
  readonly times: readonly number[];
  readonly spacing: string;
  /**
   * How the scheduler this grid reproduces starts a full denoise, in VP terms (spacing auto only):
   * 'noise': the noise itself (diffusers' init_noise_sigma = 1, or Euler's sqrt(sigma_max² + 1) with
   * leading spacing); 'sigma': sigma(t0)·noise (Euler's sigma_max with linspace / trailing).
   * Sample's start_scale auto follows it.
   */
  readonly start?: 'noise' | 'sigma';
  /** A grid of an LCMScheduler config (spacing auto): the config's consistency boundary, for the consistency solver. */
  readonly lcm?: LcmBoundary;
  /**
   * The order of each step (1–3), one per interval: a grid searched together with its solver's orders
   * (SearchSchedule's search_orders). Only solvers that take per-step orders can run it.
   */
  readonly orders?: readonly number[];
}

/** An LCMScheduler config's boundary scalings: c_skip/c_out at network timestep n use n·timestepScaling. */
export interface LcmBoundary {
  readonly timestepScaling: number;
}

/** What flows through a SOLVER socket: a solver with its options bound. */
export interface Solver {
  readonly kind: string;
  readonly solve: SolverFn;
}
