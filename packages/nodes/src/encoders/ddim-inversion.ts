/**
 * DDIM inversion (Song et al., arXiv 2010.02502; Dhariwal & Nichol, arXiv 2105.05233): run deterministic DDIM (eta = 0) backwards, image → the state at
 * the first time of a sampling grid, so that Sample(add_noise = false, DDIM or DPM-Solver++ order 1)
 * on the same grid maps it back to the image.
 *
 * The forward step t_i → t_{i+1} is F(x_i) = cx·x_i + cx0·x̂0(x_i, t_i) (ddim-step.ts). Inverting it
 * needs x̂0 at the unknown x_i; the classic inversion reuses the prediction at the lower level:
 *   x_i ≈ a_i·x̂0(x_{i+1}, t_{i+1}) + s_i·ε̂(x_{i+1}, t_{i+1})
 * (at t_{i+1} with sigma = 0, where ε̂ is undefined, the model is asked at t_i instead). The error
 * vanishes as the steps shrink (first order). `refine` > 0 adds fixed-point iterations on the exact
 * equation F(x_i) = x_{i+1}, one model call each:
 *   x_i ← x_i + (a_i/a_{i+1})·(x_{i+1} − F(x_i)),
 * a Newton step with F's slope taken at J ≈ I/a (where it is a_{i+1}/a_i), accelerated per item by
 * Anderson mixing of depth 1 (a secant correction from the previous iterate). Near decision boundaries
 * of a multimodal model J ≫ I/a and the plain iteration crawls; the secant step fixes that. On the GMM
 * it beat x_i ← (x_{i+1} − cx0·x̂0(x_i))/cx, which stalls there.
 */
import type { Tensor } from '@diffgraph/engine';
import type { Guider, SolverHooks } from '../contracts/sampling.ts';
import { ddimStep } from './ddim-step.ts';

export interface DdimInversionArgs {
  guider: Guider;
  x0: Tensor;
  /** The sampling grid (decreasing); the image is the state at its last time. */
  times: readonly number[];
  refine?: number;
  hooks?: SolverHooks;
}

export async function ddimInvert(r: DdimInversionArgs): Promise<Tensor> {
  const { guider, times } = r;
  const ns = guider.schedule;
  const refine = r.refine ?? 0;
  if (!Number.isInteger(refine) || refine < 0) throw new Error(`DDIMInversion: refine must be a non-negative integer, got ${refine}`);
  const steps = times.length - 1;
  let x = r.x0.clone();
  for (let i = steps - 1; i >= 0; i--) {
    if (r.hooks?.signal?.aborted) throw r.hooks.signal.reason;
    const [ti, tn] = [times[i], times[i + 1]];
    const ai = ns.alpha(ti), si = ns.sigma(ti);
    const an = ns.alpha(tn), sn = ns.sigma(tn);
    const at = sn > 0 ? tn : ti;
    const x0Hat = await guider.denoise(x, at);
    const [aa, sa] = [ns.alpha(at), ns.sigma(at)];
    let xi = x.zerosLike();
    for (let j = 0; j < xi.size; j++) {
      const epsHat = (x.data[j] - aa * x0Hat.data[j]) / sa;
      xi.data[j] = ai * x0Hat.data[j] + si * epsHat;
    }
    if (refine > 0) {
      const { cx, cx0 } = ddimStep(ns, ti, tn, 0);
      const gain = ai / an;
      // Anderson(1): with f = G(x) − x the fixed-point residual, mix the last two images of G.
      let prevG: Tensor | undefined, prevF: Tensor | undefined;
      for (let k = 0; k < refine; k++) {
        const pred = await guider.denoise(xi, ti);
        const g = xi.zerosLike(), f = xi.zerosLike();
        for (let j = 0; j < g.size; j++) {
          f.data[j] = gain * (x.data[j] - (cx * xi.data[j] + cx0 * pred.data[j]));
          g.data[j] = xi.data[j] + f.data[j];
        }
        const next = g.clone();
        if (prevG && prevF) {
          const per = g.size / g.batch;
          for (let b = 0; b < g.batch; b++) {
            let num = 0, den = 0;
            for (let j = b * per; j < (b + 1) * per; j++) {
              const df = f.data[j] - prevF.data[j];
              num += f.data[j] * df;
              den += df * df;
            }
            const theta = den > 0 ? num / den : 0;
            for (let j = b * per; j < (b + 1) * per; j++) next.data[j] = g.data[j] - theta * (g.data[j] - prevG.data[j]);
          }
        }
        prevG = g;
        prevF = f;
        xi = next;
      }
    }
    r.hooks?.onStep?.({ step: steps - 1 - i, steps, t: ti, x: xi, denoised: x0Hat });
    x = xi;
  }
  return x;
}
