/**
 * k-diffusion `sample_heun`: Karras et al. (2022) Algorithm 2 — Heun's method (explicit trapezoid) on
 * du/dsigma = (u − D)/sigma, optionally with churn. The corrector needs D at sigma_{i+1}, which k-diffusion
 * skips when sigma_{i+1} = 0 (d would divide by zero; the Euler step there already lands on D), so a grid
 * ending at 0 costs NFE = 2·steps − 1.
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { type ChurnOptions, churnAndDenoise, kRun, toD } from './kdiffusion-common.ts';

export type KHeunOptions = ChurnOptions;

export async function sampleHeun(args: SolveArgs, options: KHeunOptions = {}): Promise<Tensor> {
  const run = kRun(args);
  const { sigmas } = run;
  let u = run.u;
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const c = await churnAndDenoise(run, u, i, options, 'sample_heun');
    const d = toD(c.u, c.denoised, c.sigmaHat);
    const dt = sigmas[i + 1] - c.sigmaHat;
    if (sigmas[i + 1] === 0) {
      u = combine([1, dt], [c.u, d]); // Euler step
    } else {
      const u2 = combine([1, dt], [c.u, d]);
      const d2 = toD(u2, await run.denoise(u2, i + 1), sigmas[i + 1]);
      u = combine([1, dt / 2, dt / 2], [c.u, d, d2]);
    }
    run.report(i, u, c.denoised);
  }
  return run.finish(u);
}
