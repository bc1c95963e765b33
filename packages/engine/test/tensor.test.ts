import { describe, expect, it } from 'vitest';
import { NodeRegistry, Tensor, axpy, batchNorms, combine, linearCombination, norm, sizeOf } from '../src/index.ts';

describe('Tensor', () => {
  it('checks its shape and reports its dtype and byte size', () => {
    expect(() => new Tensor([2, 3], new Float32Array(5))).toThrow(/needs 6 values, got 5/);
    const t = Tensor.zeros([2, 3], 'float64');
    expect(t.dtype).toBe('float64');
    expect(t.byteSize).toBe(48);
    expect(Tensor.zeros([4]).byteSize).toBe(16);
    expect(sizeOf({ a: t })).toBe(16 + 48);
  });

  it('keeps its shape immutable: the caller\'s array is copied, a frozen shape is shared', () => {
    const shape = [2, 3];
    const t = new Tensor(shape, new Float32Array(6));
    shape[0] = 3;
    expect(t.shape).toEqual([2, 3]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(() => (t.shape as number[]).push(1)).toThrow();
    const u = new Tensor(t.shape, new Float32Array(6));
    expect(u.shape).toBe(t.shape);
    expect(new Tensor([], new Float32Array(1)).size).toBe(1);
  });

  it('linear combinations keep the dtype and may write into one of their terms', () => {
    const x = Tensor.from([3], [1, 2, 3], 'float64');
    const y = Tensor.from([3], [10, 20, 30], 'float64');
    const z = Tensor.from([3], [100, 200, 300], 'float64');
    const w = Tensor.from([3], [1000, 2000, 3000], 'float64');
    expect(Array.from(combine([2, -1], [x, y]).data)).toEqual([-8, -16, -24]);
    expect(Array.from(combine([1, 1, 1, 1], [x, y, z, w]).data)).toEqual([1111, 2222, 3333]);
    linearCombination(x, [0.5, 1, 0.01], [x, y, z]);
    expect(Array.from(x.data)).toEqual([11.5, 23, 34.5]);
    expect(x.dtype).toBe('float64');
    axpy(y, -10, Tensor.from([3], [1, 2, 3], 'float64'));
    expect(Array.from(y.data)).toEqual([0, 0, 0]);
    expect(() => combine([1, 1], [x, Tensor.zeros([4])])).toThrow(/size mismatch/);
  });

  it('computes norms overall and per batch item', () => {
    const t = Tensor.from([2, 2], [3, 4, 6, 8], 'float64');
    expect(norm(t)).toBeCloseTo(Math.sqrt(125), 14);
    expect(Array.from(batchNorms(t))).toEqual([5, 10]);
  });
});

describe('NodeRegistry', () => {
  const base = { category: 't', description: '', version: 1, inputs: {}, outputs: {}, run: () => ({}) };
  it('rejects duplicate types and malformed definitions', () => {
    const r = new NodeRegistry();
    r.registerPack({ name: 'a', nodes: [{ ...base, type: 'Thing' }] });
    expect(() => r.registerPack({ name: 'b', nodes: [{ ...base, type: 'Thing' }] })).toThrow(/already registered by pack "a"/);
    expect(() => r.register({ ...base, type: 'lower' })).toThrow(/PascalCase/);
    expect(() => r.register({ ...base, type: 'V0', version: 0 })).toThrow(/version/);
    expect(() => r.register({ ...base, type: 'E', inputs: { m: { type: 'STRING', enum: ['a'], default: 'b' } } })).toThrow(/not in its enum/);
    expect(() => r.register({ ...base, type: 'M', inputs: { m: { type: 'MODEL', default: 1 } } })).toThrow(/cannot have a default/);
    expect(() => r.register({ ...base, type: 'N', inputs: { n: { type: 'INT', default: 0, min: 1 } } })).toThrow(/below min/);
    expect(r.list().map((d) => d.type)).toEqual(['Thing']);
  });
});
