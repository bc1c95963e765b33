import { defineNode } from '@diffgraph/engine';
import type { NoiseGenerator } from '../contracts/sampling.ts';
import { replayNoise } from './replay-noise.ts';
import { NOISE_RNGS, seededNoise } from './seeded-noise.ts';

export { seededNoise } from './seeded-noise.ts';

export const zeroNoise: NoiseGenerator = { seed: null, sample: (like) => like.zerosLike() };

export const RandomNoise = defineNode({
  type: 'RandomNoise',
  category: 'sampling/noise',
  description: 'Seeded Gaussian noise: the same seed gives the same noise on every machine. rng philox (default): ours, batch item i uses seed + i; cpu: torch CPU randn over the whole batch, as ComfyUI; nv: torch CUDA\'s Philox layout, as A1111\'s NV RNG and stable-diffusion.cpp.',
  version: 1,
  inputs: {
    seed: { type: 'INT', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, role: 'seed', summary: true },
    rng: { type: 'STRING', enum: NOISE_RNGS, default: 'philox', tooltip: 'philox: ours (independent of batch size); cpu: torch.manual_seed + torch.randn on the CPU (ComfyUI); nv: torch CUDA Philox (A1111 NV, stable-diffusion.cpp)' },
  },
  outputs: { noise: { type: 'NOISE' } },
  run: ({ seed, rng }) => ({ noise: seededNoise(seed, rng) }),
});

export const DisableNoise = defineNode({
  type: 'DisableNoise',
  category: 'sampling/noise',
  description: 'No noise: zeros for the start state and for every stochastic step.',
  version: 1,
  inputs: {},
  outputs: { noise: { type: 'NOISE' } },
  run: () => ({ noise: zeroNoise }),
});

export const TensorNoise = defineNode({
  type: 'TensorNoise',
  category: 'sampling/noise',
  description: 'A stored start noise (e.g. from LoadTensor), shaped like the latent: replays a run from known noise or checks against another implementation. Deterministic solvers only: there is no noise for stochastic steps.',
  version: 1,
  inputs: { tensor: { type: 'TENSOR' } },
  outputs: { noise: { type: 'NOISE' } },
  run: ({ tensor }) => ({ noise: replayNoise([tensor], 'TensorNoise', 'it holds only the start noise: use a deterministic solver or eta = 0') }),
});
