import type { NodeDefinition, Tensor } from '@diffgraph/engine';

/** A latent times a constant: a quick way to try over- or under-scaled starts and results. */
export const LatentScale: NodeDefinition = {
  type: 'LatentScale',
  category: 'example/latent',
  description: 'Multiplies every value of a latent by a factor.',
  version: 1,
  inputs: {
    latent: { type: 'LATENT' },
    factor: { type: 'FLOAT', default: 1, min: -10, max: 10, step: 0.05, tooltip: 'What every value is multiplied by' },
  },
  outputs: {
    latent: { type: 'LATENT' },
  },
  run({ latent, factor }) {
    const out = (latent as Tensor).clone();
    for (let i = 0; i < out.data.length; i++) out.data[i] = out.data[i]! * (factor as number);
    return { latent: out };
  },
};
