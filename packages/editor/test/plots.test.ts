/** Tensor files read in the browser: .npy headers and dtypes, tensor JSON, and which plot each gets. */
import { describe, expect, it } from 'vitest';
import { describeTensor, parseNpy, parseTensorJson, plotKind } from '../src/ui/plots.ts';

/** A .npy file as NumPy writes it (format 1.0: magic, version, uint16 header length, padded header). */
function npy(descr: string, shape: number[], values: number[]): ArrayBuffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const size = descr.endsWith('8') ? 8 : 4;
  const buffer = new ArrayBuffer(10 + header.length + values.length * size);
  const bytes = new Uint8Array(buffer);
  bytes.set([0x93, ...Array.from('NUMPY', (c) => c.charCodeAt(0)), 1, 0]);
  new DataView(buffer).setUint16(8, header.length, true);
  bytes.set(Array.from(header, (c) => c.charCodeAt(0)), 10);
  const view = new DataView(buffer, 10 + header.length);
  values.forEach((v, i) => (descr === '<f8' ? view.setFloat64(i * 8, v, true) : descr === '<f4' ? view.setFloat32(i * 4, v, true) : view.setInt32(i * 4, v, true)));
  return buffer;
}

describe('tensor files', () => {
  it('reads float64, float32 and int32 .npy files with their shapes', () => {
    expect(parseNpy(npy('<f8', [2, 2], [1.5, -2, 3, 4]))).toEqual({ shape: [2, 2], data: Float64Array.from([1.5, -2, 3, 4]) });
    expect([...parseNpy(npy('<f4', [3], [0.5, 1, 2])).data]).toEqual([0.5, 1, 2]);
    expect(parseNpy(npy('<i4', [1, 3], [7, -8, 9])).shape).toEqual([1, 3]);
    expect(() => parseNpy(new TextEncoder().encode('not numpy').buffer)).toThrow('not a .npy file');
    expect(() => parseNpy(npy('>f8', [1], [0]))).toThrow('unsupported dtype >f8');
  });

  it('reads tensor JSON with shape and flat data, or nested arrays', () => {
    expect(parseTensorJson({ shape: [2], dtype: 'float32', data: [1, 2] })).toEqual({ shape: [2], data: Float64Array.from([1, 2]) });
    expect(parseTensorJson([[1, 2], [3, 4], [5, 6]]).shape).toEqual([3, 2]);
  });

  it('chooses a scatter for points in the plane, bars for a few values, a series for many, a summary otherwise', () => {
    expect(plotKind({ shape: [256, 2], data: new Float64Array(512) })).toBe('scatter');
    expect(plotKind({ shape: [1, 256, 2], data: new Float64Array(512) })).toBe('scatter');
    expect(plotKind({ shape: [8], data: new Float64Array(8) })).toBe('bars');
    expect(plotKind({ shape: [1000], data: new Float64Array(1000) })).toBe('series');
    expect(plotKind({ shape: [4, 3, 32, 32], data: new Float64Array(12288) })).toBe('summary');
    expect(describeTensor({ shape: [3], data: Float64Array.from([1, 2, 6]) })).toBe('shape [3] · min 1.0000 · max 6.0000 · mean 3.0000');
  });
});
