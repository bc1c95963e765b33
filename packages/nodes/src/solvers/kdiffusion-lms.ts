/**
 * k-diffusion `sample_lms`: a linear multistep (Adams–Bashforth type) method in sigma on a variable grid.
 * Step i extrapolates the last q = min(i + 1, order) derivatives d_{i−j} with their Lagrange basis in sigma
 * and integrates it over [sigma_i, sigma_{i+1}]. One model call per step (NFE = steps). Its last step is not
 * an Euler step, so it converges to the true sigma = 0 solution.
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { kRun, toD } from './kdiffusion-common.ts';

export interface KLmsOptions {
  /** Number of past derivatives used (k-diffusion default 4). */
  order?: number;
}

/**
 * ∫_{sigma_i}^{sigma_{i+1}} prod_{l<q, l≠j} (tau − sigma_{i−l}) / (sigma_{i−j} − sigma_{i−l}) dtau.
 * k-diffusion integrates this numerically (scipy quad); it is a polynomial, so we integrate it exactly:
 * expand it in s = tau − sigma_i and sum c_k·h^{k+1}/(k+1). In s every factor (s − a_l) has the same sign
 * over the interval (a_l ≥ 0, s ≤ 0), so the monomial terms don't cancel and the sum is well conditioned.
 */
export function lmsCoefficient(sigmas: readonly number[], i: number, j: number, q: number): number {
  let poly = [1]; // coefficients of s^0, s^1, ...
  let denom = 1;
  for (let l = 0; l < q; l++) {
    if (l === j) continue;
    const a = sigmas[i - l] - sigmas[i];
    const next = new Array<number>(poly.length + 1).fill(0);
    for (let k = 0; k < poly.length; k++) {
      next[k + 1] += poly[k];
      next[k] -= a * poly[k];
    }
    poly = next;
    denom *= sigmas[i - j] - sigmas[i - l];
  }
  const h = sigmas[i + 1] - sigmas[i];
  let integral = 0;
  for (let k = 0; k < poly.length; k++) integral += (poly[k] * h ** (k + 1)) / (k + 1);
  return integral / denom;
}

export async function sampleLms(args: SolveArgs, options: KLmsOptions = {}): Promise<Tensor> {
  const { order = 4 } = options;
  if (!Number.isInteger(order) || order < 1) throw new Error(`sample_lms: order must be a positive integer, got ${order}`);
  const run = kRun(args);
  const { sigmas } = run;
  let u = run.u;
  const ds: Tensor[] = []; // newest first: d_i, d_{i−1}, ...
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const denoised = await run.denoise(u, i);
    ds.unshift(toD(u, denoised, sigmas[i]));
    if (ds.length > order) ds.pop();
    const q = ds.length; // = min(i + 1, order)
    const coeffs = ds.map((_, j) => lmsCoefficient(sigmas, i, j, q));
    u = combine([1, ...coeffs], [u, ...ds]);
    run.report(i, u, denoised);
  }
  return run.finish(u);
}
