/**
 * What flows through a STATISTICS socket: DPM-Solver-v3's empirical model statistics (EMS, Zheng et al.
 * 2023) of one model, on a uniform log-SNR grid of M + 1 points from lambdaStart (the noisy end, where
 * sampling starts) to lambdaEnd.
 *
 * With N = sigma·eps = x − alpha·x0 (what the model predicts, scaled) the statistics are, per dimension
 * and grid point:
 *   l  the mean diagonal of the Jacobian dN/dx over the model's own marginal (the linear part of N),
 *   f  = (N − l·x)/alpha, the part left over (f = −x0 when l = 1),
 *   s, b the per-dimension least-squares fit df/dlambda ≈ s·f + b along the probability-flow ODE.
 * l = 1, s = b = 0 ("neutral") turns DPM-Solver-v3 into DPM-Solver++(1) = DDIM at first order.
 */
export interface ModelStatistics {
  /** Log-SNR (lambda = log(alpha/sigma)) of grid point 0, the noisy end. */
  readonly lambdaStart: number;
  /** Log-SNR of grid point M; lambdaEnd > lambdaStart. */
  readonly lambdaEnd: number;
  /** M: the number of grid intervals. */
  readonly steps: number;
  /** Values per grid point: one sample's size, or 1 for statistics shared by every dimension (neutral). */
  readonly size: number;
  /** Row-major [M + 1][size] each. */
  readonly l: Float64Array;
  readonly s: Float64Array;
  readonly b: Float64Array;
  /** Where they came from (model name, sample count, cost), for logs and the saved file. */
  readonly info?: Readonly<Record<string, unknown>>;
}
