/**
 * Inpainting by replacement (the baseline of RePaint without resampling, and of ComfyUI's noise_mask):
 * a guider that wraps any inner guider and keeps the known region (mask = 0) of the image fixed.
 *
 * At every call (x, t), with a = alpha(t), s = sigma(t), m the fitted mask (inpaint-mask.ts) and
 * `orig` the original latent:
 *  1. the state fed to the inner guider is  m·x + (1 − m)·(a·orig + s·eps),
 *     i.e. its known region is the original noised to time t;
 *  2. the x0 it returns is  m·x0_inner + (1 − m)·orig,  so the known region of every prediction is
 *     exactly the original (copied, not recomputed, where m = 0).
 * Any solver that ends at sigma = 0 (karras/exponential grids, or `denoised`) then returns the known
 * region exactly; grids that end at tMin > 0 leave alpha·orig + sigma·eps there, like every other
 * pixel — InpaintComposite pastes the original back exactly after sampling.
 *
 * eps is ONE fixed draw per state shape: stream 0 of the `noise` input (the very noise Sample starts
 * from when the same RandomNoise is linked to both) or of a seeded generator. Why fixed:
 *  - the known region of the input is then an exact sample of the forward marginal q(x_t | orig) at
 *    every t, independent of the solver's accuracy;
 *  - the model input stays a smooth function of t, which multistep and high-order solvers need
 *    (fresh noise per call makes x0 jump between calls and breaks their extrapolation);
 *  - the alternative, the state's own noise estimate eps_hat = (x − a·x0_hat)/s, needs the model's
 *    x0_hat for this very state (a second model call per step), and with x0_hat = orig it is the
 *    identity — deterministic solvers already keep (x − a·orig)/s constant in the known region once
 *    step 2 holds, which is the same fixed-noise picture.
 * The mask may be soft (area-averaged edges): both blends are then convex combinations.
 */
import { defineNode, Tensor } from '@diffgraph/engine';
import type { Guider, NoiseGenerator } from '../contracts/sampling.ts';
import { seededNoise } from '../noise/noise-nodes.ts';
import { fitMask, fitOriginal } from '../image/inpaint-mask.ts';

interface Fitted {
  mask: Float64Array;
  original: Float64Array;
  eps: Tensor;
}

export function inpaintGuider(inner: Guider, original: Tensor, mask: Tensor, noise: NoiseGenerator, what = 'InpaintGuider'): Guider {
  const { schedule } = inner;
  // States of one run share a shape; a cache keyed by shape keeps the broadcast work out of the loop.
  const fitted = new Map<string, Fitted>();
  const fit = (x: Tensor): Fitted => {
    const key = `${x.dtype}:${x.shape.join(',')}`;
    let f = fitted.get(key);
    if (!f) {
      f = {
        mask: fitMask(mask, x.shape, `${what} input "mask"`),
        original: fitOriginal(original, x.shape, `${what} input "latent"`),
        eps: noise.sample(x.zerosLike(), 0),
      };
      fitted.set(key, f);
    }
    return f;
  };
  return {
    schedule,
    async denoise(x, t) {
      const { mask: m, original: o, eps } = fit(x);
      const a = schedule.alpha(t), s = schedule.sigma(t);
      const fed = x.clone();
      const xd = x.data, fd = fed.data, e = eps.data;
      for (let i = 0; i < fd.length; i++) {
        const mi = m[i];
        if (mi === 1) continue;
        const known = a * o[i] + s * e[i];
        fd[i] = mi === 0 ? known : mi * xd[i] + (1 - mi) * known;
      }
      const x0 = await inner.denoise(fed, t);
      if (x0.size !== x.size) throw new Error(`${what}: the inner guider returned ${x0} for states ${x}`);
      const out = x0.clone();
      const od = out.data, pd = x0.data;
      for (let i = 0; i < od.length; i++) {
        const mi = m[i];
        if (mi === 1) continue;
        od[i] = mi === 0 ? o[i] : mi * pd[i] + (1 - mi) * o[i];
      }
      return out;
    },
  };
}

export const InpaintGuider = defineNode({
  type: 'InpaintGuider',
  category: 'sampling/guiders',
  description: 'Inpainting by replacement: keeps the known region (mask = 0) of "latent" and lets the inner guider fill the rest (mask = 1). The model sees the known region noised to the current time with one fixed noise draw; its x0 there is replaced by the original. An image-resolution MASK is area-averaged to the latent size.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER' },
    latent: { type: 'LATENT', tooltip: 'The original (encoded) image; batch 1 or the sampled batch' },
    mask: { type: 'MASK', tooltip: '1 = repaint, 0 = keep; image or latent resolution; batch 1 or the sampled batch' },
    noise: { type: 'NOISE', optional: true, tooltip: 'Noise for the known region: link the RandomNoise that Sample uses, so it is the start noise' },
    seed: { type: 'INT', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, role: 'seed', tooltip: 'Seed of the known region\'s noise when no "noise" is linked' },
  },
  outputs: { guider: { type: 'GUIDER' } },
  run({ guider, latent, mask, noise, seed }) {
    if (!(latent instanceof Tensor)) throw new Error('InpaintGuider: input "latent" must be a LATENT tensor');
    if (!(mask instanceof Tensor)) throw new Error('InpaintGuider: input "mask" must be a MASK tensor');
    const g = guider;
    if (!g || typeof g.denoise !== 'function') throw new Error('InpaintGuider: input "guider" must be a GUIDER');
    // Fail here, naming this node, rather than at the first step: the states have the latent's item shape.
    const batch = Math.max(latent.batch, mask.batch);
    fitMask(mask, [batch, ...latent.shape.slice(1)], 'InpaintGuider input "mask"');
    return { guider: inpaintGuider(g, latent, mask, noise ?? seededNoise(seed)) };
  },
});
