/**
 * k-diffusion `sample_euler_ancestral`: an Euler step down to sigma_down, then fresh noise of std sigma_up
 * (see ancestralStep), so the marginal at sigma_{i+1} has the right total noise. eta = 1 is the
 * ancestral (DDPM-like) sampler, eta = 0 is plain Euler. NFE = steps.
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { ancestralStep, kRun, requireNoise, toD } from './kdiffusion-common.ts';

export interface KEulerAncestralOptions {
  /** Noise amount (k-diffusion default 1). */
  eta?: number;
  /** Scale of the added noise. Default 1. */
  sNoise?: number;
}

export async function sampleEulerAncestral(args: SolveArgs, options: KEulerAncestralOptions = {}): Promise<Tensor> {
  const { eta = 1, sNoise = 1 } = options;
  const run = kRun(args);
  const { sigmas } = run;
  let u = run.u;
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const denoised = await run.denoise(u, i);
    const { sigmaDown, sigmaUp } = ancestralStep(sigmas[i], sigmas[i + 1], eta);
    let next = combine([1, sigmaDown - sigmas[i]], [u, toD(u, denoised, sigmas[i])]);
    if (sigmas[i + 1] > 0 && sigmaUp > 0) {
      const eps = requireNoise(run.noise, 'sample_euler_ancestral')(u, i);
      next = combine([1, sNoise * sigmaUp], [next, eps]);
    }
    u = next;
    run.report(i, u, denoised);
  }
  return run.finish(u);
}
