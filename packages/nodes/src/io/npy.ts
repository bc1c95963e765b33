/**
 * numpy's .npy format (versions 1.0–3.0): a magic string, a Python-literal header naming dtype,
 * fortran_order and shape, then the raw little-endian data. We read float16/32/64 and integer arrays
 * (integers become float64) in C order, and write float32/float64.
 */
import { Tensor } from '@diffgraph/engine';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function encodeNpy(tensor: Tensor): Uint8Array {
  const descr = tensor.dtype === 'float64' ? '<f8' : '<f4';
  const shape = tensor.shape.length === 1 ? `(${tensor.shape[0]},)` : `(${tensor.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad with spaces so the data starts at a multiple of 64 bytes; the header ends with a newline.
  const prefix = 10;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  header = header.padEnd(total - prefix - 1, ' ') + '\n';
  const out = new Uint8Array(total + tensor.byteSize);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), prefix);
  const data = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.byteSize);
  out.set(data, total); // typed arrays are little-endian on every platform Node supports
  return out;
}

function headerField(header: string, key: string): string {
  const match = new RegExp(`['"]${key}['"]\\s*:\\s*([^,}]+(?:\\([^)]*\\))?)`).exec(header);
  if (!match) throw new Error(`.npy header has no '${key}': ${header.trim()}`);
  return match[1].trim();
}

export function decodeNpy(bytes: Uint8Array): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new Error('not a .npy file (bad magic bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder(major >= 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLength));
  const descr = headerField(header, 'descr').replace(/['"]/g, '');
  if (headerField(header, 'fortran_order') !== 'False') throw new Error('.npy arrays in Fortran order are not supported; save with np.ascontiguousarray');
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (shapeText === undefined) throw new Error(`.npy header has no shape: ${header.trim()}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLength;
  const little = descr[0] === '<' || descr[0] === '|' || descr[0] === '=';
  const kind = descr.slice(1);
  const width = Number(kind.slice(1));
  if (bytes.length < offset + count * width) throw new Error(`.npy data is truncated: expected ${count} values of ${descr}`);
  const read = (i: number): number => {
    const at = offset + i * width;
    switch (kind) {
      case 'f8': return view.getFloat64(at, little);
      case 'f4': return view.getFloat32(at, little);
      case 'f2': return halfToFloat(view.getUint16(at, little));
      case 'i8': return Number(view.getBigInt64(at, little));
      case 'i4': return view.getInt32(at, little);
      case 'i2': return view.getInt16(at, little);
      case 'i1': return view.getInt8(at);
      case 'u1': return view.getUint8(at);
      case 'b1': return view.getUint8(at);
      default: throw new Error(`.npy dtype ${descr} is not supported (use float16/32/64 or integers)`);
    }
  };
  const data = kind === 'f4' || kind === 'f2' ? new Float32Array(count) : new Float64Array(count);
  for (let i = 0; i < count; i++) data[i] = read(i);
  return new Tensor(shape, data);
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}
