/**
 * Evidence a TPM conditions on, one value per variable of the circuit (one item of a batch):
 *  - hard: the observed value, or NaN where the value is not observed;
 *  - soft (optional): a noisy view obs = alpha·x + sigma·n, n ~ N(0, 1), of every value without hard
 *    evidence — the diffusion state x_t is exactly this for x0 (Tiramisu's x_t-likelihood).
 * Both factorise over variables, which is why the circuit's answers stay exact.
 */
export interface SoftEvidence {
  obs: Float64Array;
  alpha: number;
  sigma: number;
}

export interface Evidence {
  hard: Float64Array;
  soft?: SoftEvidence;
}

/** No evidence on D variables (all NaN). */
export function missing(D: number): Evidence {
  return { hard: new Float64Array(D).fill(Number.NaN) };
}

/** Fully observed values (what EM learns from). */
export function observed(x: ArrayLike<number>): Evidence {
  return { hard: Float64Array.from(x) };
}

const LOG_2PI = Math.log(2 * Math.PI);

export function logNormal(x: number, mean: number, variance: number): number {
  const d = x - mean;
  return -0.5 * (LOG_2PI + Math.log(variance) + (d * d) / variance);
}

/** Whether the soft evidence applies to variable d (no hard value, and a noise level > 0). */
export function softAt(e: Evidence, d: number): SoftEvidence | undefined {
  const s = e.soft;
  return s && Number.isNaN(e.hard[d]) && s.sigma > 0 ? s : undefined;
}
