/**
 * Ground truth for solver tests: the probability-flow ODE of the analytic Gaussian mixture, integrated
 * to near machine precision with an adaptive Dormand–Prince 5(4) method.
 *
 * In the VE variable u = x/alpha with noise level sigma = sigma_t/alpha_t = e^(−lambda), the ODE is
 *   du/dsigma  = (u − D(u, sigma))/sigma = eps_VE(u, sigma)            (finite at sigma = 0)
 *   du/dlambda = D(u, e^(−lambda)) − u  = −sigma·eps_VE(u, sigma)
 * so the solution depends on the schedule only through the end values of lambda
 * (packages/nodes/test/data/refs/README.md §8).
 * lambda is the better variable over many decades of sigma; sigma is needed to reach sigma = 0.
 */
import { Tensor } from '@diffgraph/engine';
import type { GaussianMixture } from '../models/gmm.ts';
import type { NoiseSchedule } from '../contracts/sampling.ts';

export interface OdeOptions {
  /** Relative tolerance per component (default 1e-12). */
  rtol?: number;
  /** Absolute tolerance per component (default 1e-12). */
  atol?: number;
  /** Give up after this many attempted steps (default 1e6). */
  maxSteps?: number;
}

export interface OdeResult {
  y: Float64Array;
  acceptedSteps: number;
  rejectedSteps: number;
  evaluations: number;
}

/** dy/ds written into `dy`. */
export type OdeRhs = (s: number, y: Float64Array, dy: Float64Array) => void;

// Dormand–Prince 5(4) tableau (Dormand & Prince 1980). The 5th-order weights equal the last stage's
// row, so the final stage is the next step's first (FSAL).
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A: readonly (readonly number[])[] = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
/** 5th-order minus embedded 4th-order weights: the local error estimate. */
const E = [71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40];

/**
 * Integrate dy/ds = f(s, y) from s0 to s1 (either direction) with local error control in the max norm:
 * |err_i| ≤ atol + rtol·max(|y_i|, |y_new_i|) for every component.
 */
export function integrateDormandPrince(f: OdeRhs, y0: ArrayLike<number>, s0: number, s1: number, options: OdeOptions = {}): OdeResult {
  const rtol = options.rtol ?? 1e-12;
  const atol = options.atol ?? 1e-12;
  const maxSteps = options.maxSteps ?? 1_000_000;
  const n = y0.length;
  let y = Float64Array.from(y0);
  let yNew = new Float64Array(n);
  const stage = new Float64Array(n);
  const k = Array.from({ length: 7 }, () => new Float64Array(n));
  const result: OdeResult = { y, acceptedSteps: 0, rejectedSteps: 0, evaluations: 0 };
  if (s0 === s1) return result;

  const direction = Math.sign(s1 - s0);
  const span = Math.abs(s1 - s0);
  let s = s0;
  f(s, y, k[0]);
  result.evaluations++;
  // A small first step; the controller grows it by up to 5x per step, so its choice hardly matters.
  let h = span * 1e-4;

  for (let attempt = 0; attempt < maxSteps; attempt++) {
    const remaining = Math.abs(s1 - s);
    const last = h >= remaining;
    const step = direction * (last ? remaining : h);
    for (let j = 1; j < 7; j++) {
      const row = A[j];
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (let m = 0; m < j; m++) sum += row[m] * k[m][i];
        stage[i] = y[i] + step * sum;
      }
      if (j === 6) yNew.set(stage);
      f(s + C[j] * step, stage, k[j]);
      result.evaluations++;
    }
    let err = 0;
    for (let i = 0; i < n; i++) {
      let e = 0;
      for (let m = 0; m < 7; m++) e += E[m] * k[m][i];
      const scale = atol + rtol * Math.max(Math.abs(y[i]), Math.abs(yNew[i]));
      err = Math.max(err, Math.abs(step * e) / scale);
    }
    if (!Number.isFinite(err)) throw new Error(`integrateDormandPrince: non-finite error estimate at s = ${s}`);
    const factor = err === 0 ? 5 : Math.min(5, Math.max(0.2, 0.9 * Math.pow(err, -0.2)));
    if (err <= 1) {
      s = last ? s1 : s + step;
      [y, yNew] = [yNew, y];
      [k[0], k[6]] = [k[6], k[0]]; // FSAL: the last stage is f(s_new, y_new)
      result.acceptedSteps++;
      if (last) {
        result.y = y;
        return result;
      }
      h = Math.abs(step) * factor;
    } else {
      result.rejectedSteps++;
      h = Math.abs(step) * Math.min(1, factor);
    }
  }
  throw new Error(`integrateDormandPrince: no convergence within ${maxSteps} steps (reached s = ${s})`);
}

/** Wrap a flat buffer as a [batch, D] float64 tensor view for the model. */
function asBatch(gmm: GaussianMixture, data: Float64Array): Tensor {
  return new Tensor([data.length / gmm.D, gmm.D], data);
}

/**
 * Exact VE probability-flow ODE in sigma: u at noise level sigma0 → u at sigma1 (sigma1 may be 0).
 * Returns the input's shape and dtype.
 */
export function exactVEFlow(gmm: GaussianMixture, u: Tensor, sigma0: number, sigma1: number, options: OdeOptions = {}): Tensor {
  if (!(sigma0 >= 0 && sigma1 >= 0)) throw new RangeError('exactVEFlow: noise levels must be >= 0');
  const rhs: OdeRhs = (sigma, y, dy) => dy.set(gmm.epsVE(asBatch(gmm, y), sigma).data);
  const { y } = integrateDormandPrince(rhs, u.data, sigma0, sigma1, options);
  return Tensor.from(u.shape, y, u.dtype);
}

/**
 * Exact VE ODE in lambda = −log sigma (both ends finite): du/dlambda = −sigma·eps_VE(u, sigma).
 */
export function exactVEFlowInLambda(gmm: GaussianMixture, u: Tensor, lambda0: number, lambda1: number, options: OdeOptions = {}): Tensor {
  if (!Number.isFinite(lambda0) || !Number.isFinite(lambda1)) throw new RangeError('exactVEFlowInLambda: lambda must be finite');
  const rhs: OdeRhs = (lambda, y, dy) => {
    const sigma = Math.exp(-lambda);
    const eps = gmm.epsVE(asBatch(gmm, y), sigma).data;
    for (let i = 0; i < dy.length; i++) dy[i] = -sigma * eps[i];
  };
  const { y } = integrateDormandPrince(rhs, u.data, lambda0, lambda1, options);
  return Tensor.from(u.shape, y, u.dtype);
}

/**
 * Exact probability-flow ODE for a state x at time t0 of a VP-form schedule, to time t1 (either
 * direction): u = x/alpha(t0), integrate in lambda (in sigma when an end has sigma = 0, i.e. t = 0),
 * return alpha(t1)·u. The start must have alpha(t0) > 0 (not the pure-noise end of a flow schedule).
 */
export function exactProbabilityFlow(
  gmm: GaussianMixture,
  schedule: NoiseSchedule,
  x: Tensor,
  t0: number,
  t1: number,
  options: OdeOptions = {},
): Tensor {
  const alpha0 = schedule.alpha(t0);
  if (!(alpha0 > 0)) throw new RangeError(`exactProbabilityFlow: alpha(${t0}) = ${alpha0}; cannot form u = x/alpha`);
  const u = Tensor.from(x.shape, x.data, 'float64');
  for (let i = 0; i < u.data.length; i++) u.data[i] /= alpha0;
  const lambda0 = schedule.lambda(t0);
  const lambda1 = schedule.lambda(t1);
  const uEnd =
    Number.isFinite(lambda0) && Number.isFinite(lambda1)
      ? exactVEFlowInLambda(gmm, u, lambda0, lambda1, options)
      : exactVEFlow(gmm, u, Math.exp(-lambda0), Math.exp(-lambda1), options);
  const alpha1 = schedule.alpha(t1);
  return Tensor.from(x.shape, uEnd.data.map((v) => alpha1 * v), x.dtype);
}
