/**
 * The coefficients of one DDIM(eta) step s → t, written exactly as solvers/ddim.ts computes them, so
 * the encoders here predict the sampler's arithmetic bit for bit:
 *   x_t = cx·x + cx0·x0 + sigmaEta·z.
 * The same (cx, cx0, sigmaEta) with the TRUE x0 in place of the prediction is DDIM's posterior
 * q_eta(x_t | x_s, x0) = N(a_t·x0 + sqrt(s_t² − σ²)·(x_s − a_s·x0)/s_s, σ²), whose marginals are the
 * forward process's — what the DPM-Encoder samples from.
 */
import type { NoiseSchedule } from '../contracts/sampling.ts';

export interface DdimStep {
  cx: number;
  cx0: number;
  sigmaEta: number;
}

export function ddimStep(ns: NoiseSchedule, s: number, t: number, eta: number): DdimStep {
  const h = ns.lambda(t) - ns.lambda(s);
  const sigmaT = ns.sigma(t);
  const ratio = sigmaT / ns.sigma(s);
  const alphaT = ns.alpha(t);
  if (eta === 0) return { cx: ratio, cx0: -alphaT * Math.expm1(-h), sigmaEta: 0 };
  const frac = Math.min(1, eta * Math.sqrt(-Math.expm1(-2 * h)));
  const rho = Math.sqrt(1 - frac * frac);
  return { cx: rho * ratio, cx0: -alphaT * (Math.expm1(-h) - (1 - rho) * Math.exp(-h)), sigmaEta: frac * sigmaT };
}
