/** float16 ↔ float32 conversion at the ONNX boundary: exact values, round-to-nearest-even, specials. */
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { decodeHalf, encodeHalf, fromHalfBits, toHalfBits } from '../src/runtime/half.ts';
import { floatTensor, fromOrt } from '../src/runtime/ort-tensors.ts';

describe('float16', () => {
  it('encodes known values (IEEE 754 binary16 patterns)', () => {
    expect(toHalfBits(1)).toBe(0x3c00);
    expect(toHalfBits(-2)).toBe(0xc000);
    expect(toHalfBits(65504)).toBe(0x7bff); // the largest finite half
    expect(toHalfBits(1 / 3)).toBe(0x3555);
    expect(toHalfBits(2 ** -14)).toBe(0x0400); // the smallest normal
    expect(toHalfBits(2 ** -24)).toBe(0x0001); // the smallest subnormal
    expect(toHalfBits(-0)).toBe(0x8000);
  });

  it('rounds to nearest, ties to even, in normal and subnormal ranges', () => {
    expect(toHalfBits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(toHalfBits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(toHalfBits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // above the tie
    expect(toHalfBits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal → 0
    expect(toHalfBits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 subnormal steps → 2
    expect(toHalfBits(2047.5)).toBe(toHalfBits(2048)); // a carry into the exponent
  });

  it('overflows to infinity and keeps NaN', () => {
    expect(toHalfBits(65520)).toBe(0x7c00);
    expect(toHalfBits(-1e9)).toBe(0xfc00);
    expect(toHalfBits(Infinity)).toBe(0x7c00);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });

  it('decodes every finite pattern back to itself', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((b) => (b & 0x7c00) !== 0x7c00);
    expect(encodeHalf(decodeHalf(all))).toEqual(all);
  });

  it('round-trips an engine tensor through a float16 onnxruntime tensor within half an ulp', () => {
    const values = Float32Array.from({ length: 257 }, (_, i) => Math.sin(i) * 10 ** ((i % 7) - 3));
    const ortTensor = floatTensor(values, [values.length], 'float16');
    expect(ortTensor.type).toBe('float16');
    const back = fromOrt(ortTensor, 'test', 'x');
    values.forEach((v, i) => expect(Math.abs(back.data[i] - v)).toBeLessThanOrEqual(Math.max(Math.abs(v) * 2 ** -11, 2 ** -25)));
  });

  it('names the output when a model returns an element type the wrappers cannot read', () => {
    expect(() => fromOrt(new ort.Tensor('int32', Int32Array.from([1]), [1]), 'm.onnx', 'out')).toThrow(/m\.onnx: output 'out': element type int32 is not supported/);
  });
});
