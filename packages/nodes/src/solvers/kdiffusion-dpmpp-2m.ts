/**
 * k-diffusion `sample_dpmpp_2m`: DPM-Solver++(2M) in the VE variables, with t = −log sigma (= lambda).
 * The exact exponential-integrator step for a constant data prediction is
 *   u' = (sigma'/sigma)·u − expm1(−h)·D,  h = t' − t,
 * and the multistep variant replaces D by a linear extrapolation from the previous step's D, with
 * r = h_last/h. The first step has no history, and the step to sigma = 0 (h = ∞) just returns D, so both
 * are first order. NFE = steps.
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { kRun } from './kdiffusion-common.ts';

/** DPM-Solver++(2M) has no settings; the parameter keeps every sampler's signature alike. */
export type KDpmpp2mOptions = Record<never, never>;

export async function sampleDpmpp2m(args: SolveArgs, _options: KDpmpp2mOptions = {}): Promise<Tensor> {
  const run = kRun(args);
  const { sigmas } = run;
  const tOf = (sigma: number) => -Math.log(sigma);
  let u = run.u;
  let oldDenoised: Tensor | undefined;
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const denoised = await run.denoise(u, i);
    const h = tOf(sigmas[i + 1]) - tOf(sigmas[i]); // +∞ on the step to sigma = 0
    const ratio = sigmas[i + 1] / sigmas[i];
    const phi = -Math.expm1(-h); // 1 − e^{−h}
    if (!oldDenoised || sigmas[i + 1] === 0) {
      u = combine([ratio, phi], [u, denoised]);
    } else {
      const r = (tOf(sigmas[i]) - tOf(sigmas[i - 1])) / h;
      u = combine([ratio, phi * (1 + 1 / (2 * r)), -phi / (2 * r)], [u, denoised, oldDenoised]);
    }
    oldDenoised = denoised;
    run.report(i, u, denoised);
  }
  return run.finish(u);
}
