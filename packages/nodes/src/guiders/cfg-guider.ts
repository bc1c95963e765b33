/**
 * Classifier-free guidance: x0 = x0_uncond + cfg·(x0_cond − x0_uncond). Both predictions come from ONE
 * batched model call per step (predictX0Many) where the model can batch them.
 */
import { defineInputs, defineNode } from '@diffgraph/engine';
import { composeX0, predictAll } from './batch.ts';
import type { Conditioning, DiffusionModel, Guider } from '../contracts/sampling.ts';

export function cfgGuider(model: DiffusionModel, positive: Conditioning | undefined, negative: Conditioning | undefined, cfg: number): Guider {
  return {
    schedule: model.schedule,
    latentRgb: model.latentRgb,
    async denoise(x, t) {
      // cfg = 1 is the conditional prediction alone: skip the unconditional half of the batch.
      if (cfg === 1) return model.predictX0(x, t, positive);
      const [uncond, cond] = await predictAll(model, x, t, [negative, positive]);
      return composeX0(uncond, [cond], [cfg]);
    },
  };
}

/** The inputs of every CFG-style guider (CFGGuider, RescaleGuidance, GuideAndRescale). */
export const CFG_INPUTS = defineInputs({
  model: { type: 'MODEL' },
  positive: { type: 'CONDITIONING' },
  negative: { type: 'CONDITIONING', optional: true, tooltip: 'Left out: the model\'s unconditional branch (a pipeline\'s empty prompt)' },
  cfg: { type: 'FLOAT', default: 4, min: 0, max: 100, step: 0.1, summary: true },
});

export const CFGGuider = defineNode({
  type: 'CFGGuider',
  category: 'sampling/guiders',
  description: 'Classifier-free guidance: uncond + cfg·(cond − uncond), with both predictions in one batched model call per step.',
  version: 1,
  inputs: CFG_INPUTS,
  outputs: { guider: { type: 'GUIDER' } },
  run: ({ model, positive, negative, cfg }) => ({ guider: cfgGuider(model, positive, negative, cfg) }),
});
