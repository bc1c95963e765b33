/**
 * The analytic isotropic Gaussian mixture p0(x) = sum_k w_k N(x; mu_k, s_k² I) in R^D, whose noised
 * marginals, score and posterior mean are exact (packages/nodes/test/data/refs/README.md §1). It is the
 * ground-truth model for solver and guidance tests.
 *
 * Under x_t = a·x0 + s·eps the marginal is sum_k w_k N(a·mu_k, v_k I) with v_k = a²s_k² + s². Then
 *   r_k(x)   = softmax_k( log w_k − (D/2)·log v_k − |x − a·mu_k|²/(2 v_k) )     (log-sum-exp form)
 *   eps(x)   = s · sum_k r_k (x − a·mu_k)/v_k                                     (= −s·score)
 *   x0(x)    = sum_k r_k [ mu_k + (a·s_k²/v_k)(x − a·mu_k) ]                     (Tweedie)
 * The VE (k-diffusion) denoiser D(u, sigma) is the same formula with a = 1, s = sigma, and stays
 * finite at sigma = 0 (where it returns u, provided every s_k > 0).
 *
 * Tensors are [batch, ...] with D values per item; arithmetic is double precision and the result has
 * the input's dtype.
 */
import type { Tensor } from '@diffgraph/engine';
import type { Denoiser, NoiseSchedule } from '../contracts/sampling.ts';

export interface GaussianMixtureParams {
  weights: readonly number[];
  means: readonly (readonly number[])[];
  stds: readonly number[];
}

export class GaussianMixture {
  readonly K: number;
  readonly D: number;
  readonly weights: Float64Array;
  /** Row-major [K][D]. */
  readonly means: Float64Array;
  readonly stds: Float64Array;
  private readonly logWeights: Float64Array;

  constructor(params: GaussianMixtureParams) {
    const K = params.weights.length;
    if (K === 0) throw new Error('GaussianMixture: need at least one component');
    if (params.means.length !== K || params.stds.length !== K) {
      throw new Error('GaussianMixture: weights, means and stds must have one entry per component');
    }
    const D = params.means[0].length;
    this.K = K;
    this.D = D;
    this.weights = Float64Array.from(params.weights);
    this.stds = Float64Array.from(params.stds);
    this.means = new Float64Array(K * D);
    for (let k = 0; k < K; k++) {
      if (params.means[k].length !== D) throw new Error(`GaussianMixture: mean ${k} has length ${params.means[k].length}, expected ${D}`);
      if (!(this.weights[k] > 0)) throw new Error(`GaussianMixture: weight ${k} must be > 0`);
      if (!(this.stds[k] > 0)) throw new Error(`GaussianMixture: std ${k} must be > 0`);
      this.means.set(params.means[k], k * D);
    }
    this.logWeights = this.weights.map(Math.log);
  }

  /**
   * The mixture restricted to some components (a "class"), weights renormalized. Used for
   * class-conditional denoisers, e.g. the conditional branch of classifier-free guidance.
   */
  restrict(components: readonly number[]): GaussianMixture {
    if (components.length === 0) throw new Error('GaussianMixture.restrict: empty component list');
    const seen = new Set<number>();
    for (const k of components) {
      if (!Number.isInteger(k) || k < 0 || k >= this.K) throw new RangeError(`GaussianMixture.restrict: no component ${k}`);
      if (seen.has(k)) throw new Error(`GaussianMixture.restrict: component ${k} listed twice`);
      seen.add(k);
    }
    const total = components.reduce((sum, k) => sum + this.weights[k], 0);
    return new GaussianMixture({
      weights: components.map((k) => this.weights[k] / total),
      means: components.map((k) => Array.from(this.means.subarray(k * this.D, (k + 1) * this.D))),
      stds: components.map((k) => this.stds[k]),
    });
  }

  /** Exact data prediction E[x0 | x_t = x] for VP-form coefficients (alpha, sigma). */
  x0(x: Tensor, alpha: number, sigma: number): Tensor {
    return this.evaluate(x, alpha, sigma, 'x0');
  }

  /** Exact noise prediction E[eps | x_t = x] = −sigma·score. */
  eps(x: Tensor, alpha: number, sigma: number): Tensor {
    return this.evaluate(x, alpha, sigma, 'eps');
  }

  /** VE denoiser D(u, sigma) = E[x0 | x0 + sigma·n = u]; valid at sigma = 0. */
  denoiseVE(u: Tensor, sigma: number): Tensor {
    return this.evaluate(u, 1, sigma, 'x0');
  }

  /**
   * VE noise prediction (u − D(u, sigma))/sigma = sigma·sum_k r_k (u − mu_k)/(s_k² + sigma²), computed in
   * the second form so it is finite (zero) at sigma = 0: the right-hand side of du/dsigma.
   */
  epsVE(u: Tensor, sigma: number): Tensor {
    return this.evaluate(u, 1, sigma, 'eps');
  }

  /** x0 at time t of a schedule. */
  x0At(x: Tensor, schedule: NoiseSchedule, t: number): Tensor {
    return this.x0(x, schedule.alpha(t), schedule.sigma(t));
  }

  /** eps at time t of a schedule. */
  epsAt(x: Tensor, schedule: NoiseSchedule, t: number): Tensor {
    return this.eps(x, schedule.alpha(t), schedule.sigma(t));
  }

  private evaluate(x: Tensor, alpha: number, sigma: number, output: 'x0' | 'eps'): Tensor {
    const { K, D, means, stds, logWeights } = this;
    const batch = x.batch;
    if (x.size !== batch * D) throw new Error(`GaussianMixture: expected ${D} values per item, got ${x}`);
    if (!(alpha >= 0 && sigma >= 0) || (alpha === 0 && sigma === 0)) {
      throw new RangeError(`GaussianMixture: invalid coefficients alpha=${alpha}, sigma=${sigma}`);
    }
    const variances = new Float64Array(K);
    const logits = new Float64Array(K);
    for (let k = 0; k < K; k++) variances[k] = alpha * alpha * stds[k] * stds[k] + sigma * sigma;
    const out = x.zerosLike();
    const xs = x.data;
    const os = out.data;
    const acc = new Float64Array(D);
    for (let b = 0; b < batch; b++) {
      const base = b * D;
      // Responsibilities in log-sum-exp form.
      let maxLogit = -Infinity;
      for (let k = 0; k < K; k++) {
        let sq = 0;
        for (let d = 0; d < D; d++) {
          const diff = xs[base + d] - alpha * means[k * D + d];
          sq += diff * diff;
        }
        logits[k] = logWeights[k] - 0.5 * D * Math.log(variances[k]) - sq / (2 * variances[k]);
        if (logits[k] > maxLogit) maxLogit = logits[k];
      }
      let normalizer = 0;
      for (let k = 0; k < K; k++) {
        logits[k] = Math.exp(logits[k] - maxLogit);
        normalizer += logits[k];
      }
      acc.fill(0);
      for (let k = 0; k < K; k++) {
        const r = logits[k] / normalizer;
        if (output === 'x0') {
          const shrink = (alpha * stds[k] * stds[k]) / variances[k];
          for (let d = 0; d < D; d++) {
            const mu = means[k * D + d];
            acc[d] += r * (mu + shrink * (xs[base + d] - alpha * mu));
          }
        } else {
          const invV = 1 / variances[k];
          for (let d = 0; d < D; d++) acc[d] += r * (xs[base + d] - alpha * means[k * D + d]) * invV;
        }
      }
      for (let d = 0; d < D; d++) os[base + d] = output === 'x0' ? acc[d] : sigma * acc[d];
    }
    return out;
  }
}

export interface GmmDenoiserOptions {
  /** Restrict the mixture to these components (class-conditional model); weights are renormalized. */
  components?: readonly number[];
}

/** A `Denoiser` (x0 prediction at time t on the schedule) backed by the exact mixture posterior mean. */
export function makeGmmDenoiser(gmm: GaussianMixture, schedule: NoiseSchedule, options: GmmDenoiserOptions = {}): Denoiser {
  const model = options.components ? gmm.restrict(options.components) : gmm;
  return async (x: Tensor, t: number) => model.x0(x, schedule.alpha(t), schedule.sigma(t));
}
