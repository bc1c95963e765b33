/**
 * Feynman–Kac potentials (Singhal et al. 2025, arXiv 2501.06848; FK repo `fkd_class.py`), in log form.
 * At an intermediate evaluation with reward r and the particle's carried value r_prev (−∞ for max, 0 otherwise, at start;
 * the FK code starts every kind at r_min = 0, which for max clips negative rewards such as log-probabilities):
 *   diff: log G = λ(r − r_prev),  carried r
 *   max:  log G = λ·max(r, r_prev), carried max(r, r_prev)
 *   sum:  log G = λ(r + r_prev),  carried r + r_prev
 *   rt:   log G = λ·r,            carried r
 * The final potential is λ·r(x0) − Σ(earlier log G along the particle's path), so the product of all
 * potentials is exactly exp(λ·r(x0)) and the steered target is p(x0)·exp(λ·r(x0)) for every kind
 * (for diff this is the telescoping sum itself). The FK code's final max/sum correction uses r̃
 * instead of r; we use r, the tilt the method is meant to sample.
 */
import type { PotentialKind } from '../contracts/potential.ts';

/** log G and the new carried value, per particle. */
export function stepPotential(kind: PotentialKind, lambda: number, r: Float64Array, prev: Float64Array): { logG: Float64Array; carried: Float64Array } {
  const logG = new Float64Array(r.length);
  const carried = new Float64Array(r.length);
  for (let n = 0; n < r.length; n++) {
    const c = kind === 'max' ? Math.max(r[n], prev[n]) : kind === 'sum' ? r[n] + prev[n] : r[n];
    carried[n] = c;
    logG[n] = kind === 'diff' ? lambda * (r[n] - prev[n]) : lambda * c;
  }
  return { logG, carried };
}

/**
 * Normalized weights of logw[offset .. offset+count) by max-subtraction. NaN counts as weight 0; all
 * zero (or all −∞) falls back to uniform, as the FK code does.
 */
export function normalizedWeights(logw: Float64Array, offset: number, count: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < count; i++) if (logw[offset + i] > max) max = logw[offset + i];
  const w = new Float64Array(count);
  if (max === -Infinity || Number.isNaN(max)) return w.fill(1 / count);
  if (max === Infinity) {
    // Infinite log-weights share the mass equally.
    let k = 0;
    for (let i = 0; i < count; i++) if (logw[offset + i] === Infinity) k++;
    for (let i = 0; i < count; i++) w[i] = logw[offset + i] === Infinity ? 1 / k : 0;
    return w;
  }
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const v = Math.exp(logw[offset + i] - max);
    w[i] = Number.isNaN(v) ? 0 : v;
    sum += w[i];
  }
  for (let i = 0; i < count; i++) w[i] /= sum;
  return w;
}

/** Effective sample size 1/Σw² of normalized weights (count for uniform weights, 1 for a single survivor). */
export function effectiveSampleSize(w: Float64Array): number {
  let s = 0;
  for (const v of w) s += v * v;
  return 1 / s;
}
