/**
 * The noise levels of a Denoising MCMC chain and the two ways to estimate a state's level. Levels are
 * VE noise levels sigma = sigma_t/alpha_t (state u = x/alpha), geometric between two ends, each with
 * its time on the model's schedule.
 *
 * - exact (analytic mixture): p(sigma_j | u) ∝ p_{sigma_j}(u), the mixture's exact noised density with a
 *   uniform prior over the levels; the Gibbs step draws j from it with a seeded uniform.
 * - residual energy (any model, no classifier): the level where ‖u − D(u, sigma_j)‖²/(d·sigma_j²) crosses 1,
 *   found by bisection over the level index (one model call per sample per halving). Tweedie gives
 *   u − D(u, sigma) = sigma·E[eps | u], so at the true level the ratio is 1 − tr Cov[eps | u]/d ≤ 1: it is
 *   close to 1 where the noise dominates the data's own spread (high dimension, data near a low-dimensional
 *   set), and it reads levels low for data with full-dimensional spread at small noise. An estimate,
 *   not the posterior; the tests say how close it gets on the mixtures.
 */
import { Tensor } from '@diffgraph/engine';
import type { NoiseSchedule } from '../contracts/sampling.ts';
import type { GaussianMixture } from '../models/gmm.ts';
import { timeOfVeSigma, veSigmaOf } from '../schedules/noise-schedules.ts';

export interface ChainLevels {
  /** VE noise levels, increasing. */
  readonly sigmas: Float64Array;
  /** The schedule's time of each level. */
  readonly times: readonly number[];
}

/** `count` geometric levels from sigmaMin to sigmaMax, which must lie inside the schedule's range. */
export function chainLevels(schedule: NoiseSchedule, sigmaMin: number, sigmaMax: number, count: number): ChainLevels {
  if (!(sigmaMin > 0 && sigmaMax > sigmaMin)) throw new RangeError(`noise levels need 0 < sigma_min < sigma_max, got ${sigmaMin} .. ${sigmaMax}`);
  if (!Number.isInteger(count) || count < 2) throw new RangeError(`levels must be an integer ≥ 2, got ${count}`);
  const [lo, hi] = [veSigmaOf(schedule, schedule.tMin), veSigmaOf(schedule, schedule.tMax)];
  if (sigmaMin < lo * (1 - 1e-9) || sigmaMax > hi * (1 + 1e-9)) {
    throw new RangeError(`noise levels ${sigmaMin} .. ${sigmaMax} leave the schedule's range ${lo.toPrecision(4)} .. ${hi.toPrecision(4)}`);
  }
  const ratio = Math.log(sigmaMax / sigmaMin) / (count - 1);
  const sigmas = Float64Array.from({ length: count }, (_, j) => sigmaMin * Math.exp(ratio * j));
  return { sigmas, times: Array.from(sigmas, (s) => timeOfVeSigma(schedule, s)) };
}

/**
 * Evaluates D(u_b, sigma_{level_b}) for every row b (grouping rows that share a level into one call);
 * rows with a negative level are skipped (their output row is u_b, and they cost no model call).
 */
export type LevelDenoiser = (u: Tensor, level: Int32Array) => Promise<Tensor>;

/** A level for every row of u; `uniforms` (one per row, in (0, 1)) drive a sampling estimator. */
export type NoiseLevelEstimator = (u: Tensor, uniforms: Float64Array) => Promise<Int32Array>;

/** Gibbs draw from the exact posterior over the levels for the (unconditional) analytic mixture. */
export function exactMixtureLevel(gmm: GaussianMixture, levels: ChainLevels): NoiseLevelEstimator {
  const { D, K, weights, means, stds } = gmm;
  const L = levels.sigmas.length;
  return async (u, uniforms) => {
    if (u.size !== u.batch * D) throw new Error(`exact noise level: expected ${D} values per item, got ${u}`);
    const out = new Int32Array(u.batch);
    const logPost = new Float64Array(L);
    const sq = new Float64Array(K);
    for (let b = 0; b < u.batch; b++) {
      for (let k = 0; k < K; k++) {
        let s = 0;
        for (let d = 0; d < D; d++) s += (u.data[b * D + d] - means[k * D + d]) ** 2;
        sq[k] = s;
      }
      let max = -Infinity;
      for (let j = 0; j < L; j++) {
        // log p_sigma(u) = logsumexp_k [log w_k − (D/2)·log(2π v) − |u − mu_k|²/(2v)], v = s_k² + sigma².
        let kMax = -Infinity;
        const terms = new Float64Array(K);
        for (let k = 0; k < K; k++) {
          const v = stds[k] * stds[k] + levels.sigmas[j] ** 2;
          terms[k] = Math.log(weights[k]) - 0.5 * D * Math.log(2 * Math.PI * v) - sq[k] / (2 * v);
          kMax = Math.max(kMax, terms[k]);
        }
        let sum = 0;
        for (let k = 0; k < K; k++) sum += Math.exp(terms[k] - kMax);
        logPost[j] = kMax + Math.log(sum);
        max = Math.max(max, logPost[j]);
      }
      let total = 0;
      for (let j = 0; j < L; j++) total += logPost[j] = Math.exp(logPost[j] - max);
      let j = 0;
      for (let acc = logPost[0]; acc < uniforms[b] * total && j < L - 1; acc += logPost[++j]);
      out[b] = j;
    }
    return out;
  };
}

/** Residual-energy estimate by bisection over the level index (see the file comment). */
export function residualEnergyLevel(denoiseAt: LevelDenoiser, levels: ChainLevels): NoiseLevelEstimator {
  const L = levels.sigmas.length;
  return async (u) => {
    const n = u.batch;
    const per = u.size / n;
    const lo = new Int32Array(n);
    const hi = new Int32Array(n).fill(L - 1);
    const mid = new Int32Array(n);
    for (;;) {
      let open = false;
      for (let b = 0; b < n; b++) {
        const searching = hi[b] - lo[b] > 1;
        mid[b] = searching ? (lo[b] + hi[b]) >> 1 : -1;
        open ||= searching;
      }
      if (!open) break;
      const denoised = await denoiseAt(u, mid);
      for (let b = 0; b < n; b++) {
        if (mid[b] < 0) continue;
        let sq = 0;
        for (let i = b * per; i < (b + 1) * per; i++) sq += (u.data[i] - denoised.data[i]) ** 2;
        const sigma = levels.sigmas[mid[b]];
        // Residual larger than the level's own noise: the state is noisier than sigma_mid.
        if (sq / (per * sigma * sigma) > 1) lo[b] = mid[b];
        else hi[b] = mid[b];
      }
    }
    return hi;
  };
}
