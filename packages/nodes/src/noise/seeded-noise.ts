/**
 * Seeded noise for `RandomNoise`, from one of three generators, so a seed gives the noise another tool
 * gives for it: `philox` (ours: per-item keys, independent of batch size), `cpu` (torch's CPU randn, as
 * ComfyUI draws it) and `nv` (torch CUDA's Philox layout, as A1111's NV RNG and stable-diffusion.cpp).
 */
import { Tensor } from '@diffgraph/engine';
import type { NoiseGenerator } from '../contracts/sampling.ts';
import { keyWords, randomNormal, toBigSeed } from './philox.ts';
import { nvRandn } from './philox-nv.ts';
import { TorchCpuGenerator } from './torch-cpu.ts';

export const NOISE_RNGS = ['philox', 'cpu', 'nv'] as const;
export type NoiseRng = (typeof NOISE_RNGS)[number];

function shapedLike(like: Tensor, values: Float32Array): Tensor {
  const out = Tensor.zeros(like.shape, like.dtype);
  out.data.set(values);
  return out;
}

/**
 * ComfyUI draws the start noise for the whole batch with one `torch.randn(latent.shape)` after
 * `torch.manual_seed(seed)` (so an item's noise depends on the batch size), and its default step-noise
 * sampler seeds a fresh generator with the same seed: step k's noise is that generator's draw k. Stream 0
 * is the start noise and stream k + 1 step k's noise, so stream s ≥ 1 is draw s − 1 of a fresh generator.
 */
function torchCpuNoise(seed: number): NoiseGenerator {
  // Solvers ask for streams 1, 2, 3, ... in order: keep the step generator instead of replaying its draws.
  let steps: { generator: TorchCpuGenerator; nextStream: number; size: number } | null = null;
  return {
    seed,
    sample(like, stream) {
      const size = like.size;
      if (stream === 0) return shapedLike(like, new TorchCpuGenerator(seed).randn(size));
      let current = steps;
      if (current === null || current.nextStream !== stream || current.size !== size) {
        const generator = new TorchCpuGenerator(seed);
        for (let draw = 1; draw < stream; draw++) generator.skip(size);
        current = { generator, nextStream: stream, size };
      }
      const values = current.generator.randn(size);
      steps = { ...current, nextStream: stream + 1 };
      return shapedLike(like, values);
    },
  };
}

/**
 * A1111 gives batch item i its own generator with seed + i; each randn call bumps the generator's offset,
 * so the start noise is offset 0 and step k's noise (stream k + 1) is offset k + 1.
 */
function nvNoise(seed: number): NoiseGenerator {
  return {
    seed,
    sample(like, stream) {
      const out = Tensor.zeros(like.shape, like.dtype);
      const batch = out.batch;
      const perItem = batch === 0 ? 0 : out.size / batch;
      const base = toBigSeed(seed);
      for (let i = 0; i < batch; i++) {
        const [key0, key1] = keyWords(base + BigInt(i));
        out.data.set(nvRandn(perItem, key0, key1, stream), i * perItem);
      }
      return out;
    },
  };
}

export function seededNoise(seed: number, rng: NoiseRng = 'philox'): NoiseGenerator {
  switch (rng) {
    case 'philox': return { seed, sample: (like, stream) => randomNormal(like.shape, seed, like.dtype, stream) };
    case 'cpu': return torchCpuNoise(seed);
    case 'nv': return nvNoise(seed);
  }
}
