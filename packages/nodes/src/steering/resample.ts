/**
 * Seeded multinomial resampling on the Philox stream (noise/philox.ts), so a steered run is
 * reproducible on every machine. Group g's draw for event e uses key seed + g and counters
 * (block, e, 0, FK_TAG): the tag keeps these uniforms apart from every noise stream (which use
 * counter word 3 = 0) for the same seed.
 */
import { philox4x32 } from '../noise/philox.ts';

const FK_TAG = 0x464b5253; // "FKRS"
const TWO_POW_32 = 4294967296;

/** `count` uniforms in [0, 1) for one (seed, group, event). */
export function resampleUniforms(seed: number, group: number, event: number, count: number): Float64Array {
  if (!Number.isSafeInteger(seed + group) || seed < 0) throw new RangeError(`resampling seed must be a non-negative integer, got ${seed}`);
  const key = seed + group;
  const k0 = key % TWO_POW_32, k1 = Math.floor(key / TWO_POW_32);
  const out = new Float64Array(count);
  const words = new Uint32Array(4);
  for (let block = 0, i = 0; i < count; block++) {
    philox4x32(block, event, 0, FK_TAG, k0, k1, words);
    // 53-bit uniforms from two words each, as the noise generator makes them.
    out[i++] = ((words[0] >>> 5) * 67108864 + (words[1] >>> 6)) / 9007199254740992;
    if (i < count) out[i++] = ((words[2] >>> 5) * 67108864 + (words[3] >>> 6)) / 9007199254740992;
  }
  return out;
}

/** Multinomial draws (with replacement) from normalized weights, by inverse CDF of the uniforms. */
export function multinomial(weights: Float64Array, uniforms: Float64Array): Int32Array {
  const n = weights.length;
  const cdf = new Float64Array(n);
  let s = 0;
  for (let i = 0; i < n; i++) cdf[i] = s += weights[i];
  const out = new Int32Array(uniforms.length);
  for (let j = 0; j < uniforms.length; j++) {
    const u = uniforms[j] * s;
    let lo = 0, hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    // Skip zero-weight entries a rounding tie could land on.
    while (weights[lo] === 0 && lo > 0) lo--;
    out[j] = lo;
  }
  return out;
}
