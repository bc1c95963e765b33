/**
 * DDIM (Song et al. 2021) with eta, on the VP state x_t = alpha·x0 + sigma·eps. One model call per
 * step (NFE = steps). For a step from s to t (h = lambda_t − lambda_s):
 *
 *   x_t = alpha_t·x0 + sqrt(sigma_t² − sigma_eta²)·eps + sigma_eta·z,  eps = (x − alpha_s·x0)/sigma_s,
 *   sigma_eta = eta·sigma_t·sqrt(1 − e^{−2h}).
 *
 * sigma_eta is DDIM's eta·sqrt((1−ᾱ_t)/(1−ᾱ_s))·sqrt(1 − ᾱ_s/ᾱ_t) rewritten with alpha² + sigma² = 1,
 * which is also k-diffusion's ancestral sigma_up in VE terms; eta = 1 is the DDPM posterior. It is
 * clamped to sigma_t (eta > 1 would ask for more noise than the target level holds).
 *
 * Written with rho = sqrt(sigma_t² − sigma_eta²)/sigma_t the deterministic part is
 *   x_t = rho·(sigma_t/sigma_s)·x − alpha_t·(e^{−h} − 1 − (1 − rho)·e^{−h})·x0,
 * which for eta = 0 (rho = 1) is term for term DPM-Solver++ order 1, so the two agree bit for bit.
 * A final step to t = 0 (sigma_t = 0, h = ∞) returns x0.
 */
import { Tensor, combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { throwIfAborted } from './exponential-common.ts';

export interface DdimOptions {
  /** Stochasticity, 0 (default, deterministic) to 1 (DDPM posterior). eta > 0 needs args.noise. */
  eta?: number;
}

export async function ddim(args: SolveArgs, options: DdimOptions = {}): Promise<Tensor> {
  const { denoiser, schedule: ns, times, hooks, noise } = args;
  const eta = options.eta ?? 0;
  if (!(eta >= 0)) throw new Error(`ddim: eta must be ≥ 0, got ${eta}`);
  if (eta > 0 && !noise) throw new Error('ddim: eta > 0 needs a noise source (args.noise)');
  const steps = times.length - 1;
  let x = args.x;
  for (let i = 0; i < steps; i++) {
    throwIfAborted(hooks);
    const [s, t] = [times[i], times[i + 1]];
    const x0 = await denoiser(x, s);
    const h = ns.lambda(t) - ns.lambda(s);
    const sigmaT = ns.sigma(t);
    const ratio = sigmaT / ns.sigma(s);
    const alphaT = ns.alpha(t);
    if (eta === 0) {
      x = combine([ratio, -alphaT * Math.expm1(-h)], [x, x0]);
    } else {
      const frac = Math.min(1, eta * Math.sqrt(-Math.expm1(-2 * h))); // sigma_eta / sigma_t
      const rho = Math.sqrt(1 - frac * frac);
      const sigmaEta = frac * sigmaT;
      const coefs = [rho * ratio, -alphaT * (Math.expm1(-h) - (1 - rho) * Math.exp(-h))];
      const terms = [x, x0];
      if (sigmaEta > 0) {
        coefs.push(sigmaEta);
        terms.push(noise!(x, i));
      }
      x = combine(coefs, terms);
    }
    hooks?.onStep?.({ step: i, steps, t, x, denoised: x0 });
  }
  return x;
}
