/**
 * k-diffusion sigma grids (crowsonkb/k-diffusion `get_sigmas_*`) and their conversion to our grids of
 * continuous times.
 *
 * A k-diffusion grid is n VE sigmas from sigma_max down to sigma_min followed by an appended 0, so n
 * intervals (steps) and n + 1 values. VE sigma and our schedules meet through the half log-SNR:
 * sigma_ve = sigma(t)/alpha(t) = exp(−lambda(t)), so sigma ↦ t = tOfLambda(−log sigma), and sigma = 0 ↦ t = 0.
 * The ramps use torch-style `linspace` (as k-diffusion does), so the round-off matches too.
 */
import type { NoiseSchedule } from '../contracts/sampling.ts';
import { linspace, timeOfVeSigma, veSigmaOf } from './noise-schedules.ts';

function checkRange(n: number, sigmaMin: number, sigmaMax: number): void {
  if (!Number.isInteger(n) || n < 1) throw new Error(`sigma grid: n must be a positive integer, got ${n}`);
  if (!(sigmaMin > 0 && sigmaMax >= sigmaMin)) {
    throw new Error(`sigma grid: need 0 < sigmaMin <= sigmaMax, got ${sigmaMin}, ${sigmaMax}`);
  }
}

/**
 * Karras et al. (2022) eq. (5): uniform in sigma^(1/rho) from sigma_max to sigma_min, then 0.
 * rho = 7 (the default) spends most steps at small sigma; rho = 1 is uniform in sigma.
 */
export function karrasSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 7): number[] {
  checkRange(n, sigmaMin, sigmaMax);
  const minInv = sigmaMin ** (1 / rho);
  const maxInv = sigmaMax ** (1 / rho);
  return [...linspace(0, 1, n).map((r) => (maxInv + r * (minInv - maxInv)) ** rho), 0];
}

/** Uniform in log sigma (= uniform in lambda) from sigma_max to sigma_min, then 0. */
export function exponentialSigmas(n: number, sigmaMin: number, sigmaMax: number): number[] {
  checkRange(n, sigmaMin, sigmaMax);
  return [...linspace(Math.log(sigmaMax), Math.log(sigmaMin), n).map(Math.exp), 0];
}

/**
 * k-diffusion's polyexponential grid: log sigma = log sigma_min + ramp^rho·(log sigma_max − log sigma_min)
 * with the ramp going 1 → 0, then 0. rho = 1 is the exponential grid.
 */
export function polyexponentialSigmas(n: number, sigmaMin: number, sigmaMax: number, rho = 1): number[] {
  checkRange(n, sigmaMin, sigmaMax);
  const lo = Math.log(sigmaMin), hi = Math.log(sigmaMax);
  return [...linspace(1, 0, n).map((r) => Math.exp(r ** rho * (hi - lo) + lo)), 0];
}

/**
 * The VE sigma range a schedule covers: sigma_ve at tMin and tMax. For the SD discrete schedule these are
 * k-diffusion's sigma_min = sqrt((1 − ᾱ_0)/ᾱ_0) and sigma_max = sqrt((1 − ᾱ_999)/ᾱ_999), since
 * exp(−lambda(t_n)) = sigma_n at the knots t_n = (n + 1)/N.
 */
export function sigmaRange(schedule: NoiseSchedule): { sigmaMin: number; sigmaMax: number } {
  return { sigmaMin: Math.exp(-schedule.lambda(schedule.tMin)), sigmaMax: Math.exp(-schedule.lambda(schedule.tMax)) };
}

/**
 * A decreasing list of VE sigmas as continuous times of `schedule`: t = tOfLambda(−log sigma), 0 ↦ 0.
 * Sigmas outside the schedule's range map to times outside [tMin, tMax], where the schedule extrapolates.
 */
export function sigmasToTimes(schedule: NoiseSchedule, sigmas: readonly number[]): number[] {
  return sigmas.map((s) => timeOfVeSigma(schedule, s));
}

/** The inverse: sigma_ve = exp(−lambda(t)) of each time (0 at t = 0). */
export function timesToSigmas(schedule: NoiseSchedule, times: readonly number[]): number[] {
  return times.map((t) => veSigmaOf(schedule, t));
}

export type SigmaGridKind = 'karras' | 'exponential' | 'polyexponential';

/** A k-diffusion grid over the schedule's own sigma range (or a given one), as continuous times. */
export function kdiffusionTimes(
  schedule: NoiseSchedule,
  kind: SigmaGridKind,
  n: number,
  options: { rho?: number; sigmaMin?: number; sigmaMax?: number } = {},
): number[] {
  const range = sigmaRange(schedule);
  const sigmaMin = options.sigmaMin ?? range.sigmaMin;
  const sigmaMax = options.sigmaMax ?? range.sigmaMax;
  const sigmas =
    kind === 'karras'
      ? karrasSigmas(n, sigmaMin, sigmaMax, options.rho ?? 7)
      : kind === 'exponential'
        ? exponentialSigmas(n, sigmaMin, sigmaMax)
        : polyexponentialSigmas(n, sigmaMin, sigmaMax, options.rho ?? 1);
  return sigmasToTimes(schedule, sigmas);
}
