/**
 * Guide-and-Rescale's noise rescaling (Titov et al. 2024; GaR repo `noise_rescales.py`,
 * `range_other_on_cfg_norm`): a guidance term G is added to the CFG prediction with its norm kept
 * within a band of the CFG term C = w·(cond − uncond):
 *   r = ‖G‖/‖C‖,  k = clip(r, lo, hi)/r  (k = 1 when G = 0),  out = uncond + C + k·G.
 * G here is classifier guidance (classifier-guider.ts), the energy with an input-gradient that an
 * ONNX-only engine has (GaR's self-attention energies need autograd through the UNet). Eps- and
 * x0-space differences differ by the same factor −α/σ, so the ratio, and the result, are the same in
 * either space; norms are taken per sample (GaR works on a batch of one).
 */
import { CFG_INPUTS } from './cfg-guider.ts';
import { defineNode, type Tensor } from '@diffgraph/engine';
import type { Conditioning, DiffusionModel, Guider } from '../contracts/sampling.ts';
import { predictAll, itemNorms } from './batch.ts';
import { CLASSIFIER_GUIDANCE_INPUTS, classifierShift, guidanceFromInputs, type ClassifierGuidance } from './classifier-guider.ts';

/** Per-item factor k that brings ‖G‖/‖C‖ into [lo, hi]. With C = 0 the band is {0}: G is dropped. */
export function bandFactors(cfgTerm: Tensor, guidance: Tensor, lo: number, hi: number): Float64Array {
  if (!(lo >= 0 && hi >= lo)) throw new RangeError(`Guide-and-Rescale: need 0 ≤ band_low ≤ band_high, got [${lo}, ${hi}]`);
  const c = itemNorms(cfgTerm);
  const g = itemNorms(guidance);
  return c.map((cn, b) => {
    if (g[b] === 0) return 1;
    if (cn === 0) return 0;
    const r = g[b] / cn;
    return Math.min(hi, Math.max(lo, r)) / r;
  });
}

export function guideAndRescale(model: DiffusionModel, positive: Conditioning | undefined, negative: Conditioning | undefined, cfg: number, guidance: ClassifierGuidance, band: [number, number]): Guider {
  const { schedule } = model;
  return {
    schedule,
    async denoise(x, t) {
      const [uncond, cond] = await predictAll(model, x, t, [negative, positive]);
      const out = uncond.clone();
      const per = x.size / x.batch;
      const C = cond.zerosLike();
      for (let j = 0; j < C.size; j++) C.data[j] = cfg * (cond.data[j] - uncond.data[j]);
      for (let j = 0; j < C.size; j++) out.data[j] += C.data[j];
      // The guidance term acts on the CFG prediction, as GaR computes its energy on the current latent.
      const G = await classifierShift(guidance, schedule, x, out, t);
      const k = bandFactors(C, G, band[0], band[1]);
      for (let b = 0; b < x.batch; b++) for (let j = b * per; j < (b + 1) * per; j++) out.data[j] += k[b] * G.data[j];
      return out;
    },
  };
}

export const GuideAndRescale = defineNode({
  type: 'GuideAndRescale',
  category: 'sampling/guiders',
  description: 'CFG plus classifier guidance whose norm is rescaled into a band [low, high] times the CFG term\'s norm (Guide-and-Rescale\'s noise rescaling). One batched model call per step plus the classifier.',
  version: 1,
  inputs: {
    ...CFG_INPUTS,
    cfg: { ...CFG_INPUTS.cfg, default: 7.5 },
    ...CLASSIFIER_GUIDANCE_INPUTS,
    band_low: { type: 'FLOAT', default: 0.33, min: 0, max: 100, step: 0.01, tooltip: 'GaR non-style config: [0.33, 3.0]; style: [1.5, 1.5]' },
    band_high: { type: 'FLOAT', default: 3, min: 0, max: 100, step: 0.01 },
  },
  outputs: { guider: { type: 'GUIDER' } },
  run: (i) => ({
    guider: guideAndRescale(i.model, i.positive, i.negative, i.cfg, guidanceFromInputs(i, 'GuideAndRescale'), [i.band_low, i.band_high]),
  }),
});
