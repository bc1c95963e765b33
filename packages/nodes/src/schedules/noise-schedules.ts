/**
 * Noise schedules: the map from continuous time t to (alpha_t, sigma_t, lambda_t), in the conventions of
 * packages/nodes/test/data/refs/README.md §2 (which follow the official DPM-Solver `NoiseScheduleVP`).
 *
 *   x_t = alpha_t·x0 + sigma_t·eps,   lambda_t = log(alpha_t / sigma_t)   (half log-SNR)
 *
 * Time decreases while sampling. t = 0 is the data itself (alpha = 1, sigma = 0, lambda = +Infinity) for
 * every schedule, so a k-diffusion-style grid may end there; solvers decide what a step to it means.
 */
import type { NoiseSchedule } from '../contracts/sampling.ts';

/** log(1 + e^y) without overflow: max(0, y) + log1p(e^-|y|). */
export function softplus(y: number): number {
  if (y === Infinity) return Infinity;
  return Math.max(0, y) + Math.log1p(Math.exp(-Math.abs(y)));
}

/** sigma = sqrt(1 − alpha²) from log alpha; expm1 keeps the digits when alpha is close to 1. */
function vpSigmaFromLogAlpha(logAlpha: number): number {
  return Math.sqrt(Math.max(0, -Math.expm1(2 * logAlpha)));
}

/** lambda = log alpha − ½·log(1 − alpha²); +Infinity at alpha = 1. */
function vpLambdaFromLogAlpha(logAlpha: number): number {
  return logAlpha - 0.5 * Math.log(Math.max(0, -Math.expm1(2 * logAlpha)));
}

/** The VP log alpha that has half log-SNR lambda: −½·log(1 + e^(−2·lambda)) (a logaddexp). */
export function vpLogAlphaOfLambda(lambda: number): number {
  return -0.5 * softplus(-2 * lambda);
}

function assertTime(t: number): void {
  if (!(t >= 0)) throw new RangeError(`noise schedule: time must be >= 0, got ${t}`);
}

/**
 * Piecewise-linear interpolation through knots (xs increasing or decreasing), extending the first and
 * last segments linearly outside them — the official `interpolate_fn`, in its
 * y0 + (x − x0)·(y1 − y0)/(x1 − x0) form.
 */
function interpolate(x: number, xs: Float64Array, ys: Float64Array): number {
  const n = xs.length;
  const increasing = xs[n - 1] > xs[0];
  // Binary search for the segment [lo, lo + 1] that holds x (clamped to the end segments).
  let lo = 0;
  let hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (increasing ? xs[mid] <= x : xs[mid] >= x) lo = mid;
    else hi = mid;
  }
  const x0 = xs[lo], x1 = xs[lo + 1], y0 = ys[lo], y1 = ys[lo + 1];
  return y0 + ((x - x0) * (y1 - y0)) / (x1 - x0);
}

/**
 * A VP schedule (alpha² + sigma² = 1) is fixed by log alpha(t); sigma and lambda follow from it
 * without cancellation near alpha = 1.
 */
abstract class VPSchedule implements NoiseSchedule {
  abstract readonly kind: 'discrete' | 'linear_vp';
  abstract readonly tMax: number;
  abstract readonly tMin: number;
  abstract logAlpha(t: number): number;
  abstract tOfLambda(lambda: number): number;
  abstract modelTime(t: number): number;

  alpha(t: number): number {
    return Math.exp(this.logAlpha(t));
  }

  sigma(t: number): number {
    return vpSigmaFromLogAlpha(this.logAlpha(t));
  }

  lambda(t: number): number {
    return vpLambdaFromLogAlpha(this.logAlpha(t));
  }
}

/**
 * A discrete-time VP schedule (DDPM / Stable Diffusion), made continuous as in DPM-Solver:
 * training step n = 0..N−1 sits at t_n = (n + 1)/N with log alpha(t_n) = ½·log(alphas_cumprod[n]),
 * and log alpha is piecewise linear in t between knots, extended linearly above t = 1.
 *
 * Below the first knot (t < 1/N) the official code extends the first segment; that overshoots to
 * alpha > 1 just above t = 0 (the betas grow, so the segment is steeper than the line to the origin).
 * We interpolate instead towards the clean point (t = 0, log alpha = 0), whose slope differs from the
 * first segment's by under 1 %: identical at every knot, and it keeps alpha ≤ 1 so a grid can end at t = 0.
 * The inverse interpolates t in log alpha through the same knots, so it is the exact inverse.
 */
export class DiscreteVPSchedule extends VPSchedule {
  readonly kind = 'discrete' as const;
  readonly numTrainTimesteps: number;
  readonly tMax = 1;
  readonly tMin: number;
  readonly alphasCumprod: Float64Array;
  /** Knot times [0, 1/N, 2/N, ..., 1] and their log alphas [0, ½ log ac[0], ..., ½ log ac[N−1]]. */
  private readonly knotTimes: Float64Array;
  private readonly knotLogAlphas: Float64Array;

  constructor(alphasCumprod: ArrayLike<number>) {
    super();
    const n = alphasCumprod.length;
    if (n < 2) throw new Error('DiscreteVPSchedule: need at least 2 alphas_cumprod entries');
    this.alphasCumprod = Float64Array.from(alphasCumprod);
    for (let i = 0; i < n; i++) {
      const a = this.alphasCumprod[i];
      if (!(a > 0 && a < 1)) throw new Error(`DiscreteVPSchedule: alphas_cumprod[${i}] = ${a} is not in (0, 1)`);
      if (i > 0 && !(a < this.alphasCumprod[i - 1])) {
        throw new Error('DiscreteVPSchedule: alphas_cumprod must be strictly decreasing');
      }
    }
    this.numTrainTimesteps = n;
    this.tMin = 1 / n;
    this.knotTimes = new Float64Array(n + 1);
    this.knotLogAlphas = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      this.knotTimes[i + 1] = (i + 1) / n;
      this.knotLogAlphas[i + 1] = 0.5 * Math.log(this.alphasCumprod[i]);
    }
  }

  /** Build from a named beta schedule (diffusers' names), cumulative product in float64. */
  static fromBetas(name: BetaScheduleName, options: BetaScheduleOptions = {}): DiscreteVPSchedule {
    const betas = makeBetas(name, options);
    const alphasCumprod = new Float64Array(betas.length);
    let product = 1;
    for (let i = 0; i < betas.length; i++) {
      product *= 1 - betas[i];
      alphasCumprod[i] = product;
    }
    return new DiscreteVPSchedule(alphasCumprod);
  }

  logAlpha(t: number): number {
    assertTime(t);
    if (t === 0) return 0;
    return interpolate(t, this.knotTimes, this.knotLogAlphas);
  }


  tOfLambda(lambda: number): number {
    const logAlpha = vpLogAlphaOfLambda(lambda);
    if (logAlpha === 0) return 0;
    return Math.max(0, interpolate(logAlpha, this.knotLogAlphas, this.knotTimes));
  }

  /** The network's step label: N·(t − 1/N), i.e. 999 at t = 1 and 0 at t = 1/N (fractional between). */
  modelTime(t: number): number {
    return this.numTrainTimesteps * (t - 1 / this.numTrainTimesteps);
  }

  /** Time of training step n (0-based): (n + 1)/N. */
  timeOfStep(n: number): number {
    return (n + 1) / this.numTrainTimesteps;
  }
}

export type BetaScheduleName = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

export interface BetaScheduleOptions {
  numTrainTimesteps?: number;
  /** linear: 1e-4, scaled_linear: 0.00085 (ignored by squaredcos_cap_v2). */
  betaStart?: number;
  /** linear: 0.02, scaled_linear: 0.012 (ignored by squaredcos_cap_v2). */
  betaEnd?: number;
  /** squaredcos_cap_v2 only: clip for the last betas (diffusers: 0.999). */
  maxBeta?: number;
}

/**
 * linspace as torch computes it (the refs were made with torch float64): the first half steps up from
 * `start`, the second half steps down from `end`, so both ends are exact.
 */
export function linspace(start: number, end: number, count: number): number[] {
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`linspace: count must be a positive integer, got ${count}`);
  if (count === 1) return [start];
  const step = (end - start) / (count - 1);
  const half = Math.floor(count / 2);
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = i < half ? start + step * i : end - step * (count - 1 - i);
  return out;
}

/**
 * diffusers' beta schedules, in float64 (diffusers builds `linear`/`scaled_linear` in float32, which moves
 * alphas_cumprod by ~1e-8 relative; the refs use float64).
 * - linear: linspace(betaStart, betaEnd, N) — DDPM (1e-4 .. 0.02).
 * - scaled_linear: linspace(√betaStart, √betaEnd, N)² — Stable Diffusion (0.00085 .. 0.012).
 * - squaredcos_cap_v2: beta_n = min(1 − ᾱ((n+1)/N)/ᾱ(n/N), maxBeta) with ᾱ(s) = cos²((s + 0.008)/1.008 · π/2)
 *   (Nichol & Dhariwal's cosine schedule).
 */
export function makeBetas(name: BetaScheduleName, options: BetaScheduleOptions = {}): Float64Array {
  const n = options.numTrainTimesteps ?? 1000;
  switch (name) {
    case 'linear':
      return Float64Array.from(linspace(options.betaStart ?? 1e-4, options.betaEnd ?? 0.02, n));
    case 'scaled_linear': {
      const roots = linspace(Math.sqrt(options.betaStart ?? 0.00085), Math.sqrt(options.betaEnd ?? 0.012), n);
      return Float64Array.from(roots, (r) => r * r);
    }
    case 'squaredcos_cap_v2': {
      const maxBeta = options.maxBeta ?? 0.999;
      const alphaBar = (s: number) => Math.cos(((s + 0.008) / 1.008) * Math.PI * 0.5) ** 2;
      const betas = new Float64Array(n);
      for (let i = 0; i < n; i++) betas[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), maxBeta);
      return betas;
    }
    default:
      throw new Error(`unknown beta schedule '${name as string}'`);
  }
}

/**
 * The continuous linear VP-SDE (Song et al.): beta(t) = beta0 + t·(beta1 − beta0) on t ∈ [0, 1], so
 * log alpha(t) = −¼·t²·(beta1 − beta0) − ½·t·beta0, with a closed-form inverse of lambda.
 * The network takes the continuous t directly.
 */
export class LinearVPSchedule extends VPSchedule {
  readonly kind = 'linear_vp' as const;
  readonly tMax = 1;
  readonly tMin: number;
  readonly beta0: number;
  readonly beta1: number;

  /** Defaults: beta0 = 0.1, beta1 = 20 (score-SDE / DPM-Solver), tMin = 1e-3. */
  constructor(options: { beta0?: number; beta1?: number; tMin?: number } = {}) {
    super();
    this.beta0 = options.beta0 ?? 0.1;
    this.beta1 = options.beta1 ?? 20;
    this.tMin = options.tMin ?? 1e-3;
    if (!(this.beta1 > this.beta0 && this.beta0 >= 0)) throw new Error('LinearVPSchedule: need 0 <= beta0 < beta1');
  }

  logAlpha(t: number): number {
    assertTime(t);
    return -0.25 * t * t * (this.beta1 - this.beta0) - 0.5 * t * this.beta0;
  }


  /**
   * Solve ¼(b1 − b0)t² + ½b0·t = −log alpha for t ≥ 0, written without cancellation:
   * with T = 2(b1 − b0)·log(1 + e^(−2λ)) (= −8·(b1 − b0)·log alpha) and Δ = b0² + T,
   * t = T / (√Δ + b0) / (b1 − b0).
   */
  tOfLambda(lambda: number): number {
    const span = this.beta1 - this.beta0;
    const tmp = 2 * span * softplus(-2 * lambda);
    const delta = this.beta0 * this.beta0 + tmp;
    return tmp / (Math.sqrt(delta) + this.beta0) / span;
  }

  modelTime(t: number): number {
    return t;
  }
}

/**
 * Rectified flow / flow matching: x_t = (1 − t)·x0 + t·eps, so lambda = log((1 − t)/t) and
 * t = 1/(1 + e^lambda). t = 1 is pure noise (alpha = 0, lambda = −Infinity). The network input follows
 * diffusers' FlowMatchEulerDiscreteScheduler: timestep = 1000·t (configurable).
 *
 * Grids start at tMax = 1 − tMin by default, not at 1: there lambda and the VE noise level sigma/alpha
 * are infinite, which log-SNR grids, exponential integrators and k-diffusion's VE form cannot step
 * from. Starting the noise at t = 0.999 instead of 1 changes the start state by 0.1 % of x0.
 */
export class FlowSchedule implements NoiseSchedule {
  readonly kind = 'flow' as const;
  readonly tMax: number;
  readonly tMin: number;
  readonly modelTimeScale: number;

  constructor(options: { tMin?: number; tMax?: number; modelTimeScale?: number } = {}) {
    this.tMin = options.tMin ?? 1e-3;
    this.tMax = options.tMax ?? 1 - this.tMin;
    this.modelTimeScale = options.modelTimeScale ?? 1000;
    if (!(0 < this.tMin && this.tMin < this.tMax && this.tMax <= 1)) throw new Error('FlowSchedule: need 0 < tMin < tMax <= 1');
  }

  logAlpha(t: number): number {
    assertTime(t);
    return Math.log1p(-t);
  }

  alpha(t: number): number {
    assertTime(t);
    return 1 - t;
  }

  sigma(t: number): number {
    assertTime(t);
    return t;
  }

  lambda(t: number): number {
    assertTime(t);
    return Math.log1p(-t) - Math.log(t);
  }

  /** sigmoid(−lambda), in the form that does not overflow for either sign. */
  tOfLambda(lambda: number): number {
    if (lambda >= 0) {
      const e = Math.exp(-lambda);
      return e / (1 + e);
    }
    return 1 / (1 + Math.exp(lambda));
  }

  modelTime(t: number): number {
    return this.modelTimeScale * t;
  }
}

/**
 * Variance exploding / EDM: alpha = 1, sigma = t (time *is* the noise level), lambda = −log t.
 * Defaults are EDM's range [0.002, 80]. The network's conditioning on sigma (EDM's c_noise) belongs to
 * the model wrapper, so modelTime passes sigma through.
 */
export class VESchedule implements NoiseSchedule {
  readonly kind = 've' as const;
  readonly tMax: number;
  readonly tMin: number;

  constructor(options: { sigmaMin?: number; sigmaMax?: number } = {}) {
    this.tMin = options.sigmaMin ?? 0.002;
    this.tMax = options.sigmaMax ?? 80;
    if (!(this.tMax > this.tMin && this.tMin > 0)) throw new Error('VESchedule: need 0 < sigmaMin < sigmaMax');
  }

  logAlpha(t: number): number {
    assertTime(t);
    return 0;
  }

  alpha(t: number): number {
    assertTime(t);
    return 1;
  }

  sigma(t: number): number {
    assertTime(t);
    return t;
  }

  lambda(t: number): number {
    assertTime(t);
    return -Math.log(t);
  }

  tOfLambda(lambda: number): number {
    return Math.exp(-lambda);
  }

  modelTime(t: number): number {
    return t;
  }
}

/** A JSON-able description of a schedule (workflow parameters, ref files). */
export type NoiseScheduleSpec =
  | { kind: 'discrete'; alphasCumprod: readonly number[] }
  | ({ kind: 'discrete'; betaSchedule: BetaScheduleName } & BetaScheduleOptions)
  | { kind: 'linear_vp'; beta0?: number; beta1?: number; tMin?: number }
  | { kind: 'flow'; tMin?: number; tMax?: number; modelTimeScale?: number }
  | { kind: 've'; sigmaMin?: number; sigmaMax?: number };

export function makeNoiseSchedule(spec: NoiseScheduleSpec): NoiseSchedule {
  switch (spec.kind) {
    case 'discrete':
      if ('alphasCumprod' in spec) return new DiscreteVPSchedule(spec.alphasCumprod);
      return DiscreteVPSchedule.fromBetas(spec.betaSchedule, spec);
    case 'linear_vp':
      return new LinearVPSchedule(spec);
    case 'flow':
      return new FlowSchedule(spec);
    case 've':
      return new VESchedule(spec);
    default:
      throw new Error(`unknown noise schedule kind '${(spec as { kind: string }).kind}'`);
  }
}

/** The k-diffusion (VE) noise level of a VP time: sigma/alpha = e^(−lambda); 0 at t = 0. */
export function veSigmaOf(schedule: NoiseSchedule, t: number): number {
  return Math.exp(-schedule.lambda(t));
}

/** The time whose VE noise level sigma/alpha equals `sigma` (sigma = 0 gives t = 0). */
export function timeOfVeSigma(schedule: NoiseSchedule, sigma: number): number {
  if (!(sigma >= 0)) throw new RangeError(`sigma must be >= 0, got ${sigma}`);
  return sigma === 0 ? 0 : schedule.tOfLambda(-Math.log(sigma));
}
