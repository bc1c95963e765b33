/**
 * k-diffusion `sample_dpmpp_2m_sde`: DPM-Solver++(2M) for the reverse SDE, with t = −log sigma and h = t' − t.
 * The SDE's exact step for a constant data prediction is
 *   u' = (sigma'/sigma)·e^{−eta·h}·u + (1 − e^{−(1+eta)h})·D + sigma'·√(1 − e^{−2·eta·h})·sNoise·z,
 * and the second-order term adds the finite difference (D − D_prev)/r, r = h_last/h, weighted either by the
 * midpoint rule, (1/2)(1 − e^{−H}), or by the exact integral of a D linear in t, 1 − (1 − e^{−H})/H, with
 * H = (1 + eta)·h ('heun'). eta = 0 with 'midpoint' is sample_dpmpp_2m.
 * The step to sigma = 0 returns D. NFE = steps.
 */
import type { Tensor } from '@diffgraph/engine';
import { combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { kRun, requireNoise } from './kdiffusion-common.ts';

export interface KDpmpp2mSdeOptions {
  /** Noise amount (k-diffusion default 1; 0 gives the ODE sampler). */
  eta?: number;
  /** Scale of the added noise. Default 1. */
  sNoise?: number;
  /** Weight of the second-order term. Default 'midpoint'. */
  solverType?: 'midpoint' | 'heun';
}

export async function sampleDpmpp2mSde(args: SolveArgs, options: KDpmpp2mSdeOptions = {}): Promise<Tensor> {
  const { eta = 1, sNoise = 1, solverType = 'midpoint' } = options;
  if (solverType !== 'midpoint' && solverType !== 'heun') throw new Error(`sample_dpmpp_2m_sde: unknown solverType ${solverType}`);
  const run = kRun(args);
  const { sigmas } = run;
  let u = run.u;
  let oldDenoised: Tensor | undefined;
  let hLast = 0;
  for (let i = 0; i < run.steps; i++) {
    run.check();
    const denoised = await run.denoise(u, i);
    if (sigmas[i + 1] === 0) {
      u = combine([1], [denoised]); // the limit h → ∞ of the step below
    } else {
      const h = Math.log(sigmas[i]) - Math.log(sigmas[i + 1]);
      const etaH = eta * h;
      const phi = -Math.expm1(-h - etaH); // 1 − e^{−(1+eta)h}
      const coeffs = [(sigmas[i + 1] / sigmas[i]) * Math.exp(-etaH), phi];
      const terms = [u, denoised];
      if (oldDenoised) {
        const r = hLast / h;
        // Weight of (D − D_prev)/r: the midpoint rule, or the exact integral of a linear D over the step.
        const w = solverType === 'heun' ? phi / (-h - etaH) + 1 : 0.5 * phi;
        coeffs.push(w / r, -w / r);
        terms.push(denoised, oldDenoised);
      }
      if (eta > 0) {
        const eps = requireNoise(run.noise, 'sample_dpmpp_2m_sde')(u, i);
        coeffs.push(sigmas[i + 1] * Math.sqrt(-Math.expm1(-2 * etaH)) * sNoise);
        terms.push(eps);
      }
      u = combine(coeffs, terms);
      hLast = h;
    }
    oldDenoised = denoised;
    run.report(i, u, denoised);
  }
  return run.finish(u);
}
