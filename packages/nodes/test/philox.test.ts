import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { makeNoiseSource, philox4x32, randomNormal } from '../src/noise/philox.ts';

describe('Philox4x32-10 known answers (Random123 kat_vectors)', () => {
  // counter (4 words), key (2 words) → output (4 words)
  const vectors: [number[], number[], number[]][] = [
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ];
  for (const [ctr, key, expected] of vectors) {
    it(`ctr ${ctr.map((w) => w.toString(16)).join(' ')}`, () => {
      const out = new Uint32Array(4);
      philox4x32(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
      expect(Array.from(out)).toEqual(expected);
    });
  }
});

describe('randomNormal', () => {
  it('is deterministic and independent of batch size and position (item i uses seed + i)', () => {
    const big = randomNormal([5, 3, 4], 1234, 'float64');
    expect(Array.from(randomNormal([5, 3, 4], 1234, 'float64').data)).toEqual(Array.from(big.data));
    const shifted = randomNormal([2, 3, 4], 1236, 'float64');
    expect(Array.from(shifted.data)).toEqual(Array.from(big.data.subarray(24, 48)));
    expect(Array.from(randomNormal([1, 12], 1234, 'float64').data)).toEqual(Array.from(big.data.subarray(0, 12)));
    expect(randomNormal([2, 12], 1235, 'float64').data[0]).not.toBe(big.data[0]);
  });

  it('gives float32 as the rounded float64 draw', () => {
    const f64 = randomNormal([3, 7], 99, 'float64');
    const f32 = randomNormal([3, 7], 99, 'float32');
    expect(f32.dtype).toBe('float32');
    expect(Array.from(f32.data)).toEqual(Array.from(Float32Array.from(f64.data)));
  });

  it('separates streams and accepts 64-bit seeds', () => {
    const a = randomNormal([2, 8], 7, 'float64', 0);
    const b = randomNormal([2, 8], 7, 'float64', 1);
    expect(a.data[0]).not.toBe(b.data[0]);
    const big = randomNormal([2, 4], 0xffffffffffffffffn - 1n, 'float64');
    expect(Array.from(big.data).every(Number.isFinite)).toBe(true);
    expect(() => randomNormal([2, 4], 0xffffffffffffffffn, 'float64')).toThrow(RangeError); // item 1 would overflow
    expect(() => randomNormal([1], -1)).toThrow(RangeError);
    expect(() => randomNormal([1], 0.5)).toThrow(RangeError);
  });

  it('has standard normal moments', () => {
    const n = 200_000;
    const x = randomNormal([4, n / 4], 2024, 'float64').data;
    let [m1, m2, m3, m4] = [0, 0, 0, 0];
    for (const v of x) {
      m1 += v;
      m2 += v * v;
      m3 += v * v * v;
      m4 += v * v * v * v;
    }
    [m1, m2, m3, m4] = [m1 / n, m2 / n, m3 / n, m4 / n];
    // Standard errors: mean 1/√n ≈ 0.0022, variance √(2/n) ≈ 0.0032, third √(15/n), fourth √(96/n).
    expect(Math.abs(m1)).toBeLessThan(0.012);
    expect(Math.abs(m2 - 1)).toBeLessThan(0.016);
    expect(Math.abs(m3)).toBeLessThan(0.045);
    expect(Math.abs(m4 - 3)).toBeLessThan(0.11);
    // Tail mass beyond 2 sigma: 4.55 %.
    const tail = Array.from(x).filter((v) => Math.abs(v) > 2).length / n;
    expect(Math.abs(tail - 0.0455)).toBeLessThan(0.003);
    // Neighbouring draws are uncorrelated (cos/sin pairs and across blocks).
    let lag1 = 0;
    for (let i = 1; i < n; i++) lag1 += x[i] * x[i - 1];
    expect(Math.abs(lag1 / n)).toBeLessThan(0.012);
  });

  it('makeNoiseSource draws a fresh stream per step, shaped like the template', () => {
    const source = makeNoiseSource(5);
    const like = Tensor.zeros([2, 3], 'float64');
    const step0 = source(like, 0);
    expect(step0.shape).toEqual([2, 3]);
    expect(Array.from(step0.data)).toEqual(Array.from(randomNormal([2, 3], 5, 'float64', 1).data));
    expect(source(like, 1).data[0]).not.toBe(step0.data[0]);
  });
});
