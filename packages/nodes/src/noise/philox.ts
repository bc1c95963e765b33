/**
 * Seeded Gaussian noise from a counter-based generator, so a seed gives the same noise on every machine
 * and for every batch layout (DESIGN §5 "RNG").
 *
 * Generator: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011),
 * checked against Random123's known-answer vectors. All 32-bit arithmetic is done with Math.imul,
 * 16-bit limb products and `>>> 0`, so it is exact in doubles and needs no BigInt.
 *
 * Stream layout: batch item i of `randomNormal(shape, seed, dtype, stream)` uses the 64-bit key
 * seed + i (key0 = low word, key1 = high word) and counters (block, 0, stream, 0) for block = 0, 1, ...
 * Each block (four 32-bit words) gives two 53-bit uniforms and, by Box–Muller, two standard normals, in
 * order. So item i's noise depends only on seed + i, stream and the item's size — not on the batch size,
 * its position in the batch beyond the seed offset, or the dtype (float32 is the float64 value rounded).
 * Math.log/cos/sin are fdlibm ports in V8 and SpiderMonkey, so the normals agree across machines too.
 */
import { Tensor, type DType } from '@diffgraph/engine';

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9; // golden ratio
const PHILOX_W1 = 0xbb67ae85; // sqrt(3) − 1
const TWO_POW_32 = 4294967296;

/** High 32 bits of the 64-bit product of two uint32s, from 16-bit limbs (every partial sum < 2^53). */
function mulHi32(a: number, b: number): number {
  const aLo = a & 0xffff, aHi = a >>> 16;
  const bLo = b & 0xffff, bHi = b >>> 16;
  const lolo = aLo * bLo;
  const lohi = aLo * bHi;
  const hilo = aHi * bLo;
  const carry = (lolo >>> 16) + (lohi & 0xffff) + (hilo & 0xffff);
  return (aHi * bHi + (lohi >>> 16) + (hilo >>> 16) + (carry >>> 16)) >>> 0;
}

/**
 * Philox4x32 with `rounds` rounds (10 is the standard) on counter (c0..c3) and key (k0, k1), all uint32.
 * Writes the four output words into `out` (a Uint32Array(4) or number[]).
 */
export function philox4x32(
  c0: number, c1: number, c2: number, c3: number,
  k0: number, k1: number,
  out: Uint32Array | number[],
  rounds = 10,
): void {
  let x0 = c0 >>> 0, x1 = c1 >>> 0, x2 = c2 >>> 0, x3 = c3 >>> 0;
  let key0 = k0 >>> 0, key1 = k1 >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      // Weyl key schedule, bumped before every round but the first.
      key0 = (key0 + PHILOX_W0) >>> 0;
      key1 = (key1 + PHILOX_W1) >>> 0;
    }
    const hi0 = mulHi32(PHILOX_M0, x0), lo0 = Math.imul(PHILOX_M0, x0) >>> 0;
    const hi1 = mulHi32(PHILOX_M1, x2), lo1 = Math.imul(PHILOX_M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/** Split a non-negative integer seed (number ≤ 2^53 − 1, or bigint < 2^64) into uint32 words. */
export function keyWords(seed: bigint): [number, number] {
  if (seed < 0n || seed >= 1n << 64n) throw new RangeError(`seed must be in [0, 2^64), got ${seed}`);
  return [Number(seed & 0xffffffffn), Number(seed >> 32n)];
}

export function toBigSeed(seed: number | bigint): bigint {
  if (typeof seed === 'bigint') return seed;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  return BigInt(seed);
}

/**
 * Fill `out` with `count` standard normals for one key, from counter block 0 of `stream`.
 * Uniforms: u1 = (hi27·2^26 + lo26 + 1)/2^53 ∈ (0, 1] (so log u1 is finite), u2 = (hi27·2^26 + lo26)/2^53.
 */
export function fillNormals(out: Float32Array | Float64Array, offset: number, count: number, key0: number, key1: number, stream = 0): void {
  const words = new Uint32Array(4);
  const scale53 = 1 / 9007199254740992; // 2^-53
  for (let block = 0, i = 0; i < count; block++) {
    philox4x32(block % TWO_POW_32, Math.floor(block / TWO_POW_32), stream, 0, key0, key1, words);
    const u1 = ((words[0] >>> 5) * 67108864 + (words[1] >>> 6) + 1) * scale53;
    const u2 = ((words[2] >>> 5) * 67108864 + (words[3] >>> 6)) * scale53;
    const radius = Math.sqrt(-2 * Math.log(u1));
    const angle = 2 * Math.PI * u2;
    out[offset + i++] = radius * Math.cos(angle);
    if (i < count) out[offset + i++] = radius * Math.sin(angle);
  }
}

/**
 * Standard normal noise of `shape` (leading dim = batch). Item i uses key seed + i, so the same seed
 * reproduces an item's noise at any batch size; `stream` separates independent draws for the same seed
 * (e.g. the per-step noise of a stochastic sampler).
 */
export function randomNormal(shape: readonly number[], seed: number | bigint, dtype: DType = 'float32', stream = 0): Tensor {
  if (!Number.isInteger(stream) || stream < 0 || stream >= TWO_POW_32) throw new RangeError(`stream must be a uint32, got ${stream}`);
  const out = Tensor.zeros(shape, dtype);
  const batch = out.batch;
  const perItem = batch === 0 ? 0 : out.size / batch;
  const base = toBigSeed(seed);
  for (let i = 0; i < batch; i++) {
    const [key0, key1] = keyWords(base + BigInt(i));
    fillNormals(out.data, i * perItem, perItem, key0, key1, stream);
  }
  return out;
}

/**
 * A NoiseSource for stochastic solvers: step s draws stream s + 1 (stream 0 is left for the initial
 * noise drawn with the same seed), shaped and typed like the template.
 */
export function makeNoiseSource(seed: number | bigint): (like: Tensor, step: number) => Tensor {
  return (like, step) => randomNormal(like.shape, seed, like.dtype, step + 1);
}
