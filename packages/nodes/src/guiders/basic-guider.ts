import { defineNode } from '@diffgraph/engine';
import type { Conditioning, DiffusionModel, Guider } from '../contracts/sampling.ts';

export function basicGuider(model: DiffusionModel, conditioning?: Conditioning): Guider {
  return { schedule: model.schedule, denoise: (x, t) => model.predictX0(x, t, conditioning), latentRgb: model.latentRgb };
}

export const BasicGuider = defineNode({
  type: 'BasicGuider',
  category: 'sampling/guiders',
  description: 'No guidance: the model\'s own x0 prediction, optionally under one conditioning.',
  version: 1,
  inputs: {
    model: { type: 'MODEL' },
    conditioning: { type: 'CONDITIONING', optional: true },
  },
  outputs: { guider: { type: 'GUIDER' } },
  run: ({ model, conditioning }) => ({ guider: basicGuider(model, conditioning) }),
});
