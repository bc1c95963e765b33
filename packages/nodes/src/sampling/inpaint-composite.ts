/**
 * InpaintComposite: pastes the original back into the known region after sampling,
 * out = m·samples + (1 − m)·original, exactly (a copy where m = 0). Samplers whose grid ends at
 * tMin > 0 leave a little noise everywhere, the known region included; this removes it there, and it
 * hides any drift of a guider that does not pin the known region. Same mask rules as InpaintGuider.
 */
import { defineNode, Tensor } from '@diffgraph/engine';
import { fitMask, fitOriginal } from '../image/inpaint-mask.ts';

export function inpaintComposite(samples: Tensor, original: Tensor, mask: Tensor, what = 'inpaintComposite'): Tensor {
  if (!(samples instanceof Tensor)) throw new Error(`${what}: "samples" must be a LATENT tensor`);
  const m = fitMask(mask, samples.shape, `${what} input "mask"`);
  const o = fitOriginal(original, samples.shape, `${what} input "original"`);
  const out = samples.clone();
  const d = out.data;
  for (let i = 0; i < d.length; i++) {
    const mi = m[i];
    if (mi !== 1) d[i] = mi === 0 ? o[i] : mi * d[i] + (1 - mi) * o[i];
  }
  return out;
}

export const InpaintComposite = defineNode({
  type: 'InpaintComposite',
  category: 'latent',
  description: 'Pastes the original latent back where mask = 0 (soft edges blend): the known region of an inpainting result, exactly.',
  version: 1,
  inputs: {
    samples: { type: 'LATENT' },
    original: { type: 'LATENT' },
    mask: { type: 'MASK', tooltip: '1 = take samples, 0 = take original; image or latent resolution' },
  },
  outputs: { latent: { type: 'LATENT' } },
  run: ({ samples, original, mask }) => ({ latent: inpaintComposite(samples, original, mask, 'InpaintComposite') }),
});
