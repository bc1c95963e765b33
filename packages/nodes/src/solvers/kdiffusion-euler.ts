/**
 * k-diffusion `sample_euler`: Karras et al. (2022) Algorithm 2, i.e. explicit Euler on the probability-flow
 * ODE du/dsigma = (u − D(u, sigma))/sigma, optionally with "churn". One model call per step (NFE = steps).
 * The step to sigma = 0 lands exactly on the denoised value D(u, sigma_min).
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { type ChurnOptions, churnAndDenoise, kRun, toD } from './kdiffusion-common.ts';

export type KEulerOptions = ChurnOptions;

export async function sampleEuler(args: SolveArgs, options: KEulerOptions = {}): Promise<Tensor> {
  const run = kRun(args);
  const { sigmas } = run;
  let u = run.u;
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const c = await churnAndDenoise(run, u, i, options, 'sample_euler');
    const d = toD(c.u, c.denoised, c.sigmaHat);
    u = combine([1, sigmas[i + 1] - c.sigmaHat], [c.u, d]);
    run.report(i, u, c.denoised);
  }
  return run.finish(u);
}
