/**
 * A NOISE generator that replays recorded draws by stream index (stream 0 = start noise, stream k =
 * the noise of step k, as Sample and the stochastic solvers ask for them). It is what DPMEncode
 * outputs: linked into Sample with the same grid and a DDIM solver of the same eta, the sampler
 * reproduces the encoded trajectory.
 */
import type { Tensor } from '@diffgraph/engine';
import type { NoiseGenerator } from '../contracts/sampling.ts';

export function replayNoise(streams: readonly Tensor[], what = 'replayed noise', hint = "is the sampler's grid the encoder's?"): NoiseGenerator {
  return {
    seed: null,
    sample(like, stream) {
      const recorded = streams[stream];
      if (!recorded) throw new Error(`${what}: has streams 0..${streams.length - 1}, asked for ${stream} (${hint})`);
      if (recorded.shape.length !== like.shape.length || recorded.shape.some((d, i) => d !== like.shape[i])) {
        throw new Error(`${what}: stream ${stream} is ${recorded}, the sampler asks for [${like.shape.join(', ')}]`);
      }
      const out = like.zerosLike();
      for (let i = 0; i < out.size; i++) out.data[i] = recorded.data[i];
      return out;
    },
  };
}
