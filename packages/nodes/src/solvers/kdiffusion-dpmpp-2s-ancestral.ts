/**
 * k-diffusion `sample_dpmpp_2s_ancestral`: DPM-Solver++(2S) (single-step, midpoint in t = −log sigma) down
 * to sigma_down, then fresh noise of std sigma_up (see ancestralStep). eta = 0 is deterministic
 * (sigma_down = sigma_{i+1}). Where sigma_down = 0 there is no midpoint in log sigma, so that step is an
 * Euler step (NFE = 2·steps − 1 on grids ending at 0).
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { ancestralStep, kRun, requireNoise, toD } from './kdiffusion-common.ts';

export interface KDpmpp2sAncestralOptions {
  /** Noise amount (k-diffusion default 1; 0 makes the sampler deterministic). */
  eta?: number;
  /** Scale of the added noise. Default 1. */
  sNoise?: number;
}

export async function sampleDpmpp2sAncestral(args: SolveArgs, options: KDpmpp2sAncestralOptions = {}): Promise<Tensor> {
  const { eta = 1, sNoise = 1 } = options;
  const run = kRun(args);
  const { sigmas } = run;
  const sigmaOf = (t: number) => Math.exp(-t);
  const tOf = (sigma: number) => -Math.log(sigma);
  let u = run.u;
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const denoised = await run.denoise(u, i);
    const { sigmaDown, sigmaUp } = ancestralStep(sigmas[i], sigmas[i + 1], eta);
    let next: Tensor;
    if (sigmaDown === 0) {
      next = combine([1, sigmaDown - sigmas[i]], [u, toD(u, denoised, sigmas[i])]); // Euler step
    } else {
      const t = tOf(sigmas[i]);
      const h = tOf(sigmaDown) - t;
      const s = t + h / 2;
      const u2 = combine([sigmaOf(s) / sigmas[i], -Math.expm1(-h / 2)], [u, denoised]);
      const denoised2 = await run.denoiseAt(u2, sigmaOf(s));
      next = combine([sigmaDown / sigmas[i], -Math.expm1(-h)], [u, denoised2]);
    }
    if (sigmas[i + 1] > 0 && sigmaUp > 0) {
      const eps = requireNoise(run.noise, 'sample_dpmpp_2s_ancestral')(u, i);
      next = combine([1, sNoise * sigmaUp], [next, eps]);
    }
    u = next;
    run.report(i, u, denoised);
  }
  return run.finish(u);
}
