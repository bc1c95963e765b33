/**
 * torch CUDA's randn layout on the Philox4x32-10 generator, computed on the CPU (`RandomNoise.rng = nv`),
 * as AUTOMATIC1111's "NV" RNG (modules/rng_philox.py) and stable-diffusion.cpp do it.
 *
 * Call number `offset` of a generator keyed by the 64-bit seed draws element e from the block at counter
 * (offset, 0, e, 0): its first two words x, y become u = (x + ½)·2^-32 and v = (y + ½)·2π·2^-32 and the
 * element is sqrt(−2 ln u)·sin v; the other two words are unused. The constants are float32 roundings and
 * the transform runs in doubles, rounded to float32 at the end, as in rng_philox.py (stable-diffusion.cpp
 * computes it in floats, so it can differ from this in the last float32 bit).
 */
import { philox4x32 } from './philox.ts';

const TWO_POW_32_INV = Math.fround(2.3283064e-10);
const TWO_POW_32_INV_2PI = Math.fround(2.3283064e-10 * 6.2831855);

/** `count` float32 normals of call `offset` of the generator with key (key0, key1). */
export function nvRandn(count: number, key0: number, key1: number, offset: number): Float32Array {
  const out = new Float32Array(count);
  const words = new Uint32Array(4);
  for (let e = 0; e < count; e++) {
    philox4x32(offset, 0, e, 0, key0, key1, words);
    const u = words[0] * TWO_POW_32_INV + TWO_POW_32_INV / 2;
    const v = words[1] * TWO_POW_32_INV_2PI + TWO_POW_32_INV_2PI / 2;
    out[e] = Math.sqrt(-2 * Math.log(u)) * Math.sin(v);
  }
  return out;
}
