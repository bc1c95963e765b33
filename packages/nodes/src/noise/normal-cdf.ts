/**
 * The standard normal CDF, Phi(x) = (1 + erf(x/√2))/2, with Abramowitz–Stegun 7.1.26 for erf
 * (|error| < 1.5e-7): turns a seeded normal draw into a uniform for categorical choices.
 */
export function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return 0.5 * (1 + Math.sign(x) * erf);
}
