/**
 * Sample quality against an analytic Gaussian mixture: exact draws, exact moments, the share of
 * samples each component explains, and the energy distance between two sample sets. Used to check
 * samplers whose output is a distribution rather than one ODE solution (consistency sampling,
 * Denoising MCMC) and by their benchmark.
 */
import { Tensor } from '@diffgraph/engine';
import { normalCdf } from '../noise/normal-cdf.ts';
import { randomNormal } from '../noise/philox.ts';
import type { GaussianMixture } from './gmm.ts';

/** n exact draws [n, D] (float64): component by the weights from a seeded uniform, then mean + std·z. */
export function sampleMixture(gmm: GaussianMixture, n: number, seed: number): Tensor {
  const { D, K, weights, means, stds } = gmm;
  const z = randomNormal([n, D + 1], seed, 'float64');
  const out = Tensor.zeros([n, D], 'float64');
  for (let b = 0; b < n; b++) {
    // The component comes from a uniform made of the extra normal coordinate, u = Phi(z).
    const u = normalCdf(z.data[b * (D + 1) + D]);
    let k = 0;
    for (let acc = weights[0]; acc < u && k < K - 1; acc += weights[++k]);
    for (let d = 0; d < D; d++) out.data[b * D + d] = means[k * D + d] + stds[k] * z.data[b * (D + 1) + d];
  }
  return out;
}

/** Mean [D] and covariance [D·D] of the mixture: Σ w_k μ_k and Σ w_k (s_k² I + μ_k μ_kᵀ) − mean meanᵀ. */
export function mixtureMoments(gmm: GaussianMixture): { mean: Float64Array; cov: Float64Array } {
  const { D, K, weights, means, stds } = gmm;
  const mean = new Float64Array(D);
  const cov = new Float64Array(D * D);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < D; i++) {
      mean[i] += weights[k] * means[k * D + i];
      cov[i * D + i] += weights[k] * stds[k] * stds[k];
      for (let j = 0; j < D; j++) cov[i * D + j] += weights[k] * means[k * D + i] * means[k * D + j];
    }
  }
  for (let i = 0; i < D; i++) for (let j = 0; j < D; j++) cov[i * D + j] -= mean[i] * mean[j];
  return { mean, cov };
}

/** Sample mean and (1/n) covariance of x [n, D]. */
export function sampleMoments(x: Tensor): { mean: Float64Array; cov: Float64Array } {
  const n = x.batch;
  const D = x.size / n;
  const mean = new Float64Array(D);
  const cov = new Float64Array(D * D);
  for (let b = 0; b < n; b++) for (let i = 0; i < D; i++) mean[i] += x.data[b * D + i] / n;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < D; i++) {
      const di = x.data[b * D + i] - mean[i];
      for (let j = 0; j < D; j++) cov[i * D + j] += (di * (x.data[b * D + j] - mean[j])) / n;
    }
  }
  return { mean, cov };
}

/** Fraction of samples whose most likely component (exact responsibilities at noise 0) is k, per k. */
export function componentShares(gmm: GaussianMixture, x: Tensor): number[] {
  const { D, K, weights, means, stds } = gmm;
  const counts = new Array<number>(K).fill(0);
  for (let b = 0; b < x.batch; b++) {
    let best = 0;
    let bestLogit = -Infinity;
    for (let k = 0; k < K; k++) {
      let sq = 0;
      for (let d = 0; d < D; d++) sq += (x.data[b * D + d] - means[k * D + d]) ** 2;
      const logit = Math.log(weights[k]) - D * Math.log(stds[k]) - sq / (2 * stds[k] * stds[k]);
      if (logit > bestLogit) [best, bestLogit] = [k, logit];
    }
    counts[best]++;
  }
  return counts.map((c) => c / x.batch);
}

function meanPairDistance(x: Tensor, y: Tensor, skipDiagonal: boolean): number {
  const D = x.size / x.batch;
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < x.batch; a++) {
    for (let b = 0; b < y.batch; b++) {
      if (skipDiagonal && a === b) continue;
      let sq = 0;
      for (let d = 0; d < D; d++) sq += (x.data[a * D + d] - y.data[b * D + d]) ** 2;
      sum += Math.sqrt(sq);
      pairs++;
    }
  }
  return sum / pairs;
}

/**
 * The (U-statistic) energy distance 2E|X − Y| − E|X − X'| − E|Y − Y'| between two sample sets: zero in
 * expectation when they come from the same distribution, positive otherwise.
 */
export function energyDistance(x: Tensor, y: Tensor): number {
  return 2 * meanPairDistance(x, y, false) - meanPairDistance(x, x, true) - meanPairDistance(y, y, true);
}
