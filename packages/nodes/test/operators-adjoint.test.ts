/** Known measurement operators: adjoint identity ⟨Ax, r⟩ = ⟨x, Aᵀr⟩, A Aᵀ, pseudo-inverses, errors. */
import { describe, expect, it } from 'vitest';
import { Tensor, dot } from '@diffgraph/engine';
import { randomNormal } from '../src/noise/philox.ts';
import { maskOperator } from '../src/operators/mask-operator.ts';
import { avgPoolOperator } from '../src/operators/avgpool-operator.ts';
import { blurOperator, gaussianKernel } from '../src/operators/blur-operator.ts';
import { grayscaleOperator } from '../src/operators/grayscale-operator.ts';
import { makeOperator } from '../src/operators/operator-nodes.ts';
import type { LinearOperator } from '../src/operators/operator.ts';
import { expectAdjointIdentity } from './linear-algebra.ts';

const randomMask = (shape: number[], seed: number) => {
  const n = randomNormal(shape, seed, 'float64');
  return new Tensor(shape, n.data.map((v) => (v > 0 ? 1 : 0)));
};

const cases: [string, LinearOperator, number[]][] = [
  ['mask on images', maskOperator(randomMask([1, 1, 6, 8], 3)), [2, 3, 6, 8]],
  ['soft mask on vectors', maskOperator(new Tensor([1, 5], Float64Array.from([1, 0, 0.3, 1, 0.7]))), [4, 5]],
  ['avgpool(2)', avgPoolOperator(2), [2, 3, 6, 8]],
  ['avgpool(3) on 4-d latents', avgPoolOperator(3), [1, 4, 9, 6]],
  ['gaussian blur', blurOperator(gaussianKernel(5, 1.2)), [2, 3, 7, 6]],
  ['asymmetric blur kernel', blurOperator([[0.1, 0.5, -0.2], [0.3, 1, 0.05], [0, 0.2, 0.7]]), [1, 2, 5, 9]],
  ['grayscale (Rec.601)', grayscaleOperator(), [2, 3, 4, 5]],
  ['grayscale (custom weights)', grayscaleOperator([0.5, -1, 2, 0.25]), [1, 4, 3, 3]],
];

describe('measurement operators', () => {
  it.each(cases)('%s satisfies <Ax, r> = <x, Aᵀr>', (_, A, shape) => {
    expectAdjointIdentity(A, shape);
  });

  it.each(cases)('%s: gram bounds ‖Aᵀr‖²/‖r‖² and A A⁺ y = y where A⁺ exists', (_, A, shape) => {
    const r = randomNormal(A.outputShape(shape), 5, 'float64');
    const atr = A.adjoint(r, shape);
    expect(dot(atr, atr) / dot(r, r)).toBeLessThanOrEqual(A.gram * (1 + 1e-12));
    if (A.pinv && A.name !== 'mask') {
      const back = A.forward(A.pinv(r, shape));
      back.data.forEach((v, i) => expect(v).toBeCloseTo(r.data[i], 12));
    }
  });

  it('avgpool and grayscale have A Aᵀ = gram·I exactly; a binary mask is a projection', () => {
    for (const [A, shape] of [[avgPoolOperator(2), [1, 2, 4, 4]], [grayscaleOperator(), [1, 3, 2, 2]]] as const) {
      const r = randomNormal(A.outputShape([...shape]), 9, 'float64');
      const aatr = A.forward(A.adjoint(r, shape));
      aatr.data.forEach((v, i) => expect(v).toBeCloseTo(A.gram * r.data[i], 13));
    }
    const M = maskOperator(randomMask([1, 6], 4));
    const x = randomNormal([3, 6], 1, 'float64');
    expect(M.forward(M.forward(x)).data).toEqual(M.forward(x).data);
    expect(M.gram).toBe(1);
  });

  it('the MeasurementOperator mask observes 1 − MASK (MASK 1 = repaint)', () => {
    const A = makeOperator({ kind: 'mask', mask: new Tensor([1, 1, 1, 2], Float32Array.from([1, 0])) });
    const x = new Tensor([1, 3, 1, 2], Float64Array.from([1, 2, 3, 4, 5, 6]));
    expect(Array.from(A.forward(x).data)).toEqual([0, 2, 0, 4, 0, 6]);
  });

  it('rejects shapes an operator cannot act on, with a clear message', () => {
    expect(() => avgPoolOperator(4).forward(Tensor.zeros([1, 3, 6, 8]))).toThrow(/not divisible by 4/);
    expect(() => avgPoolOperator(2).forward(Tensor.zeros([1, 8]))).toThrow(/two spatial dims/);
    expect(() => grayscaleOperator([1, 1]).forward(Tensor.zeros([1, 3, 2, 2]))).toThrow(/2 weights for 3 channels/);
    expect(() => gaussianKernel(4, 1)).toThrow(/odd/);
    expect(() => makeOperator({ kind: 'mask' })).toThrow(/needs the "mask" input/);
  });
});
