import type { NodeDefinition } from '@diffgraph/engine';
import type { NoiseGenerator } from '../sampling/contracts.ts';
import { randomNormal } from './philox.ts';
import { replayNoise } from '../encoders/replay-noise.ts';

export function seededNoise(seed: number): NoiseGenerator {
  return { seed, sample: (like, stream) => randomNormal(like.shape, seed, like.dtype, stream) };
}

export const zeroNoise: NoiseGenerator = { seed: null, sample: (like) => like.zerosLike() };

export const RandomNoise: NodeDefinition = {
  type: 'RandomNoise',
  category: 'sampling/noise',
  description: 'Seeded Gaussian noise (Philox4x32-10): the same seed gives the same noise on every machine; batch item i uses seed + i.',
  version: 1,
  inputs: { seed: { type: 'INT', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER } },
  outputs: { noise: { type: 'NOISE' } },
  run: ({ seed }) => ({ noise: seededNoise(seed) }),
};

export const DisableNoise: NodeDefinition = {
  type: 'DisableNoise',
  category: 'sampling/noise',
  description: 'No noise: zeros for the start state and for every stochastic step.',
  version: 1,
  inputs: {},
  outputs: { noise: { type: 'NOISE' } },
  run: () => ({ noise: zeroNoise }),
};

export const TensorNoise: NodeDefinition = {
  type: 'TensorNoise',
  category: 'sampling/noise',
  description: 'A stored start noise (e.g. from LoadTensor), shaped like the latent: replays a run from known noise or checks against another implementation. Deterministic solvers only: there is no noise for stochastic steps.',
  version: 1,
  inputs: { tensor: { type: 'TENSOR' } },
  outputs: { noise: { type: 'NOISE' } },
  run: ({ tensor }) => ({ noise: replayNoise([tensor], 'TensorNoise', 'it holds only the start noise: use a deterministic solver or eta = 0') }),
};
