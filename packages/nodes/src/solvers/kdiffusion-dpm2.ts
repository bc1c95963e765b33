/**
 * k-diffusion `sample_dpm_2`: a second-order midpoint method in sigma, the midpoint taken geometrically
 * (sigma_mid = √(sigma_i·sigma_{i+1}), the midpoint in log sigma = −lambda, as in DPM-Solver-2).
 * Optionally with churn. The last step to sigma = 0 has no geometric midpoint, so it is an Euler step
 * (NFE = 2·steps − 1 on grids ending at 0).
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { type ChurnOptions, churnAndDenoise, kRun, toD } from './kdiffusion-common.ts';

export type KDpm2Options = ChurnOptions;

export async function sampleDpm2(args: SolveArgs, options: KDpm2Options = {}): Promise<Tensor> {
  const run = kRun(args);
  const { sigmas } = run;
  let u = run.u;
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const c = await churnAndDenoise(run, u, i, options, 'sample_dpm_2');
    const d = toD(c.u, c.denoised, c.sigmaHat);
    if (sigmas[i + 1] === 0) {
      u = combine([1, sigmas[i + 1] - c.sigmaHat], [c.u, d]); // Euler step
    } else {
      const sigmaMid = Math.exp((Math.log(c.sigmaHat) + Math.log(sigmas[i + 1])) / 2);
      const u2 = combine([1, sigmaMid - c.sigmaHat], [c.u, d]);
      const d2 = toD(u2, await run.denoiseAt(u2, sigmaMid), sigmaMid);
      u = combine([1, sigmas[i + 1] - c.sigmaHat], [c.u, d2]);
    }
    run.report(i, u, c.denoised);
  }
  return run.finish(u);
}
