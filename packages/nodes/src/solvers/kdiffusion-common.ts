/**
 * Shared plumbing for the k-diffusion samplers (crowsonkb/k-diffusion `k_diffusion/sampling.py`).
 *
 * k-diffusion works in the VE (EDM) variables: u = x/alpha(t) and sigma = sigma(t)/alpha(t) = exp(−lambda(t)),
 * with a denoiser D(u, sigma) that predicts x0. Because x = alpha·u describes the same x0, an x0-prediction
 * needs no rescaling, only the model's *input* does: D(u, sigma) = denoiser(alpha(t)·u, t). So a sampler
 * converts the state once at the start (u = x/alpha(t_0)), runs the k-diffusion update entirely in
 * (u, sigma), and converts back once at the end (x = alpha(t_end)·u, the identity on grids that end at
 * t = 0). Per model call the only extra cost is one scaled copy of the input, and none when alpha = 1,
 * so a VE schedule runs k-diffusion's update literally.
 *
 * Tensors handed to the denoiser or to hooks are never written afterwards: every update makes a new
 * state tensor (in the dtype of args.x), so passing u itself when alpha = 1 is safe.
 */
import { Tensor, combine } from '@diffgraph/engine';
import type { NoiseSource, SolveArgs } from '../contracts/sampling.ts';
import { timeOfVeSigma, veSigmaOf } from '../schedules/noise-schedules.ts';

/** k-diffusion's `to_d`: the probability-flow ODE derivative du/dsigma = (u − D)/sigma. */
export function toD(u: Tensor, denoised: Tensor, sigma: number): Tensor {
  return combine([1 / sigma, -1 / sigma], [u, denoised]);
}

/**
 * k-diffusion's `get_ancestral_step`: split a step sigma_from → sigma_to into a deterministic part down to
 * sigma_down and fresh noise of std sigma_up, with sigma_down² + sigma_up² = sigma_to². eta scales the
 * noise (eta = 1: the ancestral/DDPM amount; eta = 0: no noise, sigma_down = sigma_to).
 */
export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta: number): { sigmaDown: number; sigmaUp: number } {
  if (eta === 0) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(sigmaTo, eta * Math.sqrt((sigmaTo ** 2 * (sigmaFrom ** 2 - sigmaTo ** 2)) / sigmaFrom ** 2));
  return { sigmaDown: Math.sqrt(sigmaTo ** 2 - sigmaUp ** 2), sigmaUp };
}

export function requireNoise(noise: NoiseSource | undefined, sampler: string): NoiseSource {
  if (!noise) throw new Error(`${sampler}: this setting adds noise, so it needs args.noise (a seeded noise source)`);
  return noise;
}

/** A run of a k-diffusion sampler over SolveArgs, in VE variables. */
export interface KRun {
  /** sigma_ve of every grid time; the last one is 0 when the grid ends at t = 0. */
  readonly sigmas: readonly number[];
  /** Number of steps, sigmas.length − 1. */
  readonly steps: number;
  /** Start state u = x/alpha(t_0), a fresh tensor in the dtype of args.x. */
  readonly u: Tensor;
  readonly noise: NoiseSource | undefined;
  /** D(u, sigma_i) at grid point i: one model call at the grid's own time. */
  denoise(u: Tensor, i: number): Promise<Tensor>;
  /** D(u, sigma) off the grid (midpoints, churned sigmas): one model call at t = tOfLambda(−log sigma). */
  denoiseAt(u: Tensor, sigma: number): Promise<Tensor>;
  /** Throws the abort reason if hooks.signal fired; called before each step. */
  check(): void;
  /** Reports the finished step i (0-based, sigma_i → sigma_{i+1}) to hooks.onStep, with the state in model space. */
  report(i: number, u: Tensor, denoised: Tensor): void;
  /** The final state in the model's space, x = alpha(t_end)·u. */
  finish(u: Tensor): Tensor;
}

export function kRun(args: SolveArgs): KRun {
  const { denoiser, schedule, times, hooks } = args;
  if (times.length < 2) throw new Error('k-diffusion sampler: the grid needs at least two times');
  const sigmas = times.map((t) => veSigmaOf(schedule, t));
  const alphas = times.map((t) => schedule.alpha(t));
  for (let i = 1; i < sigmas.length; i++) {
    if (!(sigmas[i] < sigmas[i - 1])) throw new Error('k-diffusion sampler: sigmas must decrease');
  }
  // x·(1/alpha) in the state's dtype; a copy even when alpha = 1, since the caller owns args.x.
  const toVe = (x: Tensor, alpha: number) => combine([1 / alpha], [x]);
  const toVp = (u: Tensor, alpha: number) => (alpha === 1 ? u : combine([alpha], [u]));
  const last = times.length - 1;
  return {
    sigmas,
    steps: last,
    u: toVe(args.x, alphas[0]),
    noise: args.noise,
    denoise: (u, i) => denoiser(toVp(u, alphas[i]), times[i]),
    denoiseAt: (u, sigma) => {
      const t = timeOfVeSigma(schedule, sigma);
      return denoiser(toVp(u, schedule.alpha(t)), t);
    },
    check: () => hooks?.signal?.throwIfAborted(),
    report: (i, u, denoised) => {
      hooks?.onStep?.({ step: i, steps: last, t: times[i + 1], x: toVp(u, alphas[i + 1]), denoised });
    },
    finish: (u) => toVp(u, alphas[last]),
  };
}

/** Karras et al.'s "churn" (Algorithm 2), shared by Euler, Heun and DPM2. */
export interface ChurnOptions {
  /** Amount of stochasticity; gamma = min(sChurn/steps, √2 − 1) inside [sTmin, sTmax]. Default 0 (deterministic). */
  sChurn?: number;
  /** Churn only where sTmin ≤ sigma ≤ sTmax. Defaults 0 and +∞. */
  sTmin?: number;
  sTmax?: number;
  /** Scale of the added noise. Default 1. */
  sNoise?: number;
}

/**
 * The start of a churned step: raise sigma_i to sigma_hat = sigma_i·(1 + gamma) by adding noise, then
 * denoise there. With gamma = 0 this is just the model call at grid point i.
 */
export async function churnAndDenoise(
  run: KRun,
  u: Tensor,
  i: number,
  o: ChurnOptions,
  sampler: string,
): Promise<{ u: Tensor; sigmaHat: number; denoised: Tensor }> {
  const sigma = run.sigmas[i];
  const { sChurn = 0, sTmin = 0, sTmax = Infinity, sNoise = 1 } = o;
  const gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / run.steps, Math.SQRT2 - 1) : 0;
  if (gamma <= 0) return { u, sigmaHat: sigma, denoised: await run.denoise(u, i) };
  const sigmaHat = sigma * (gamma + 1);
  const eps = requireNoise(run.noise, sampler)(u, i);
  const uHat = combine([1, sNoise * Math.sqrt(sigmaHat ** 2 - sigma ** 2)], [u, eps]);
  return { u: uHat, sigmaHat, denoised: await run.denoiseAt(uHat, sigmaHat) };
}
