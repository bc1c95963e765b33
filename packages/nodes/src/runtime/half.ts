/**
 * IEEE 754 half precision (float16) ↔ float32, for models whose inputs and outputs are float16
 * (onnxruntime-node hands float16 tensors over as raw 16-bit patterns in a Uint16Array).
 * Encoding rounds to nearest, ties to even, as a hardware cast does; NaN stays NaN, overflow gives ±Inf.
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float16 bit pattern nearest to `value` (taken as float32 first: engine tensors fed to models are float32). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  const mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    // Subnormal: shift the mantissa (with its implicit 1) into place, rounding to even.
    const m = mantissa | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let bits = m >>> shift;
    if (rest > half || (rest === half && (bits & 1))) bits++;
    return sign | bits;
  }
  let bits = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (bits & 1))) bits++; // a carry into the exponent is still correct
  return sign | bits;
}

let table: Float32Array | undefined;

/** float32 value of every float16 bit pattern (256 KiB, built on first use). */
function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) table[bits] = mantissa ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

export function fromHalfBits(bits: number): number {
  return halfTable()[bits & 0xffff];
}

export function encodeHalf(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = toHalfBits(values[i]);
  return out;
}

export function decodeHalf(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < out.length; i++) out[i] = t[bits[i]];
  return out;
}
