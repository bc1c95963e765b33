/**
 * Denoiser wrappers: whatever a network predicts (eps, x0, v or a flow velocity), the solvers see x0.
 * With x_t = alpha·x0 + sigma·eps:
 *   eps:  x0 = (x − sigma·eps)/alpha
 *   v:    v = alpha·eps − sigma·x0 (Salimans & Ho), so x0 = (alpha·x − sigma·v)/(alpha² + sigma²)
 *         (= alpha·x − sigma·v on a VP schedule)
 *   flow: u = eps − x0, which is dx/dt for alpha = 1 − t, sigma = t (rectified flow);
 *         x = alpha·x0 + sigma·(u + x0) gives x0 = (x − sigma·u)/(alpha + sigma) (= x − t·u there)
 *   x0:   as is
 */
import { combine, type Tensor } from '@diffgraph/engine';
import type { Denoiser, NoiseSchedule } from './sampling.ts';

export const PARAMETERIZATIONS = ['eps', 'x0', 'v', 'flow'] as const;
export type Parameterization = (typeof PARAMETERIZATIONS)[number];

export function x0FromPrediction(kind: Parameterization, prediction: Tensor, x: Tensor, alpha: number, sigma: number): Tensor {
  switch (kind) {
    case 'x0':
      return prediction;
    case 'eps':
      return combine([1 / alpha, -sigma / alpha], [x, prediction]);
    case 'v': {
      const norm = alpha * alpha + sigma * sigma;
      return combine([alpha / norm, -sigma / norm], [x, prediction]);
    }
    case 'flow':
      return combine([1 / (alpha + sigma), -sigma / (alpha + sigma)], [x, prediction]);
  }
}

/** The inverse: what a model of this parameterization would output for a given x0 (tests, conversions). */
export function predictionFromX0(kind: Parameterization, x0: Tensor, x: Tensor, alpha: number, sigma: number): Tensor {
  const eps = combine([1 / sigma, -alpha / sigma], [x, x0]);
  switch (kind) {
    case 'x0':
      return x0;
    case 'eps':
      return eps;
    case 'v':
      return combine([alpha, -sigma], [eps, x0]);
    case 'flow':
      return combine([1, -1], [eps, x0]);
  }
}

/** A Denoiser from a raw network call `(x, t) → prediction` of the given kind. */
export function wrapPrediction(kind: Parameterization, schedule: NoiseSchedule, predict: (x: Tensor, t: number) => Promise<Tensor>): Denoiser {
  return async (x, t) => x0FromPrediction(kind, await predict(x, t), x, schedule.alpha(t), schedule.sigma(t));
}
