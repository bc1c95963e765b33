/**
 * torch's CPU normal sampler, reproduced bit for bit in float32 (`RandomNoise.rng = cpu`): the noise
 * ComfyUI draws with `torch.manual_seed(seed); torch.randn(shape)`.
 *
 * Generator: mt19937 seeded with the low 32 bits of the seed (torch's manual_seed truncates the same way).
 * torch.randn on a float32 tensor takes one of two algorithms by its element count n:
 * - n < 16: one normal per element from `normal_distribution<double>`: two 53-bit uniforms from
 *   two 32-bit words each (first word high), Box–Muller in doubles; the sine half is cached in the
 *   generator and returned by the next draw, even the next randn call.
 * - n ≥ 16: fill all n elements with 24-bit float uniforms, then Box–Muller in floats on blocks of 16
 *   (elements j and j + 8 of a block pair up); when 16 does not divide n, the last 16 elements are drawn
 *   again from fresh uniforms and transformed as one more block.
 */

const MT_N = 624;
const MT_M = 397;
const TWO_POW_MINUS_24 = 1 / 16777216;
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
const TWO_POW_32 = 4294967296;
const BLOCK = 16;
const TWO_PI_F32 = Math.fround(2 * Math.PI);

/** mt19937 (Matsumoto & Nishimura), 32-bit output. */
class MersenneTwister {
  private readonly state = new Uint32Array(MT_N);
  private index = MT_N;

  constructor(seed: number) {
    const state = this.state;
    state[0] = seed >>> 0;
    for (let i = 1; i < MT_N; i++) {
      const previous = state[i - 1] ^ (state[i - 1] >>> 30);
      state[i] = (Math.imul(1812433253, previous) + i) >>> 0;
    }
  }

  next(): number {
    if (this.index >= MT_N) this.twist();
    let y = this.state[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const state = this.state;
    for (let i = 0; i < MT_N; i++) {
      const y = (state[i] & 0x80000000) | (state[(i + 1) % MT_N] & 0x7fffffff);
      state[i] = state[(i + MT_M) % MT_N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}

/** A torch CPU generator after `torch.manual_seed(seed)`: successive `randn` calls continue its stream. */
export class TorchCpuGenerator {
  private readonly engine: MersenneTwister;
  private cachedNormal: number | null = null;

  constructor(seed: number | bigint) {
    const low32 = typeof seed === 'bigint' ? Number(BigInt.asUintN(32, seed)) : seed % TWO_POW_32;
    if (!Number.isInteger(low32) || low32 < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
    this.engine = new MersenneTwister(low32);
  }

  /** `torch.randn(n)` as float32 values. */
  randn(count: number): Float32Array {
    const out = new Float32Array(count);
    if (count < BLOCK) {
      for (let i = 0; i < count; i++) out[i] = this.scalarNormal();
      return out;
    }
    this.fillUniforms(out, 0, count);
    for (let start = 0; start + BLOCK <= count; start += BLOCK) boxMullerBlock(out, start);
    if (count % BLOCK !== 0) {
      this.fillUniforms(out, count - BLOCK, count);
      boxMullerBlock(out, count - BLOCK);
    }
    return out;
  }

  /** Advance past a `randn(count)` call without computing it (the same state as drawing it). */
  skip(count: number): void {
    if (count < BLOCK) {
      for (let i = 0; i < count; i++) this.scalarNormal();
      return;
    }
    const words = count + (count % BLOCK === 0 ? 0 : BLOCK);
    for (let i = 0; i < words; i++) this.engine.next();
  }

  private fillUniforms(out: Float32Array, from: number, to: number): void {
    for (let i = from; i < to; i++) out[i] = (this.engine.next() & 0xffffff) * TWO_POW_MINUS_24;
  }

  private uniform53(): number {
    const high = this.engine.next() & 0x1fffff; // the top 21 of the 53 bits
    const low = this.engine.next();
    return (high * TWO_POW_32 + low) * TWO_POW_MINUS_53;
  }

  private scalarNormal(): number {
    if (this.cachedNormal !== null) {
      const cached = this.cachedNormal;
      this.cachedNormal = null;
      return cached;
    }
    const u1 = this.uniform53();
    const u2 = this.uniform53();
    const radius = Math.sqrt(-2 * Math.log(1 - u2));
    const theta = 2 * Math.PI * u1;
    this.cachedNormal = radius * Math.sin(theta);
    return radius * Math.cos(theta);
  }
}

/** Box–Muller in float32 on out[start .. start + 16): uniforms j and j + 8 become normals j and j + 8. */
function boxMullerBlock(out: Float32Array, start: number): void {
  const f = Math.fround;
  for (let j = start; j < start + 8; j++) {
    const u1 = f(1 - out[j]); // (0, 1] so the log is finite
    const u2 = out[j + 8];
    const radius = f(Math.sqrt(f(-2 * f(Math.log(u1)))));
    const theta = f(TWO_PI_F32 * u2);
    out[j] = radius * f(Math.cos(theta));
    out[j + 8] = radius * f(Math.sin(theta));
  }
}
