import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { decodeNpy, encodeNpy } from '../src/io/npy.ts';
import { tensorFromJson, tensorToJson } from '../src/io/tensor-json.ts';

// Bytes written by numpy's np.save (numpy 1.x), base64-encoded.
const NUMPY_F4_2x3 = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAACAPgAAAD8AAEA/AACAPwAAoD8=';
const NUMPY_F8_2x2 = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGY4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDIpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAD4PwAAAAAAAADAAAAAAAAACEBZ8/jCH27FAQ==';
const NUMPY_I8_3 = 'k05VTVBZAQB2AHsnZGVzY3InOiAnPGk4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAAAAAAAAAIAAAAAAAAAAwAAAAAAAAA=';
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

describe('.npy', () => {
  it('reads what numpy writes', () => {
    const f4 = decodeNpy(bytes(NUMPY_F4_2x3));
    expect(f4.shape).toEqual([2, 3]);
    expect(f4.dtype).toBe('float32');
    expect(Array.from(f4.data)).toEqual([0, 0.25, 0.5, 0.75, 1, 1.25]);
    const f8 = decodeNpy(bytes(NUMPY_F8_2x2));
    expect(f8.dtype).toBe('float64');
    expect(Array.from(f8.data)).toEqual([1.5, -2, 3, 4e-300]);
    expect(Array.from(decodeNpy(bytes(NUMPY_I8_3)).data)).toEqual([1, 2, 3]);
  });

  it('writes byte-for-byte what numpy writes, and round-trips', () => {
    expect(Buffer.from(encodeNpy(Tensor.from([2, 2], [1.5, -2, 3, 4e-300], 'float64'))).toString('base64')).toBe(NUMPY_F8_2x2);
    const t = Tensor.from([3, 1, 2], [1, 2, 3, 4, 5, Math.PI], 'float64');
    const back = decodeNpy(encodeNpy(t));
    expect(back.shape).toEqual([3, 1, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(t.data));
    expect((encodeNpy(t).length - t.byteSize) % 64).toBe(0);
  });

  it('rejects what it cannot read, saying why', () => {
    expect(() => decodeNpy(new Uint8Array([1, 2, 3]))).toThrow(/not a .npy file/);
    expect(() => decodeNpy(bytes(NUMPY_F8_2x2).subarray(0, 140))).toThrow(/truncated/);
  });
});

describe('tensor JSON', () => {
  it('round-trips and reads nested arrays', () => {
    const t = Tensor.from([2, 2], [1, 2, 3, 4], 'float32');
    const back = tensorFromJson(JSON.parse(JSON.stringify(tensorToJson(t))));
    expect(back.dtype).toBe('float32');
    expect(Array.from(back.data)).toEqual([1, 2, 3, 4]);
    const nested = tensorFromJson([[1, 2, 3], [4, 5, 6]]);
    expect(nested.shape).toEqual([2, 3]);
    expect(() => tensorFromJson([[1, 2], [3]])).toThrow(/rectangular/);
    expect(() => tensorFromJson({ shape: [2], data: [1, 'a'] })).toThrow(/list of numbers/);
  });
});
