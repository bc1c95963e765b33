/** Volume operators (TENSOR [Z, ...slice]): adjoint identity over the whole volume, commutation, shapes, errors. */
import { describe, expect, it } from 'vitest';
import { Tensor, dot } from '@diffgraph/engine';
import { randomNormal } from '../src/noise/philox.ts';
import { maskOperator } from '../src/operators/mask-operator.ts';
import { avgPoolOperator } from '../src/operators/avgpool-operator.ts';
import { blurOperator, gaussianKernel } from '../src/operators/blur-operator.ts';
import { composeOperators, forDepth, gaussianTaps, identityOperator, zAveragePool, zConvolution, zDifference, zProjection, type VolumeOperator } from '../src/operators/volume-operator.ts';
import { makeVolumeOperator, repeatSlices } from '../src/operators/volume-nodes.ts';
import { measure } from '../src/operators/operator-nodes.ts';
import { validateWorkflow } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { expectAdjointIdentity } from './linear-algebra.ts';

const binaryMask = (shape: number[], seed: number) => new Tensor(shape, Float64Array.from(randomNormal(shape, seed, 'float64').data, (v) => (v > 0 ? 1 : 0)));

const cases: [string, VolumeOperator, number[]][] = [
  ['z-blur (Gaussian taps)', zConvolution(gaussianTaps(5, 1.3)), [7, 3]],
  ['z-blur (asymmetric taps)', zConvolution([0.2, 1, -0.5]), [6, 2, 3, 4]],
  ['z-avgpool(3)', zAveragePool(3), [9, 2, 2, 2]],
  ['z-projection', zProjection(5), [5, 4]],
  ['z-difference', zDifference, [6, 1, 3, 3]],
  ['per-slice masks then z-blur', composeOperators(zConvolution(gaussianTaps(3, 1)), maskOperator(binaryMask([6, 5], 3))), [6, 5]],
  ['avgpool(2) per slice then thick slices', composeOperators(zAveragePool(2), avgPoolOperator(2)), [4, 3, 4, 6]],
  ['blur per slice then projection', composeOperators(zProjection(3), blurOperator(gaussianKernel(3, 0.8))), [3, 1, 5, 5]],
  ['VolumeOperator node: mask + z-avgpool', makeVolumeOperator({ depth: 8, sliceOperator: maskOperator(binaryMask([1, 3], 8)), zKind: 'avgpool', zFactor: 4 }), [8, 3]],
];

describe('volume operators', () => {
  it.each(cases)('%s satisfies <Ax, r> = <x, Aᵀr> over the whole volume, and gram bounds ‖Aᵀr‖²/‖r‖²', (_, A, shape) => {
    const { atr, r } = expectAdjointIdentity(A, shape);
    expect(dot(atr, atr) / dot(r, r)).toBeLessThanOrEqual(A.gram * (1 + 1e-12));
  });

  it('z-operators act along the slice axis: values by hand, and they commute with a shared per-slice operator', () => {
    const x = Tensor.from([4, 2], [1, 10, 2, 20, 3, 30, 4, 40], 'float64');
    expect(Array.from(zProjection(4).forward(x).data)).toEqual([10, 100]);
    expect(Array.from(zAveragePool(2).forward(x).data)).toEqual([1.5, 15, 3.5, 35]);
    expect(Array.from(zDifference.forward(x).data)).toEqual([1, 10, 1, 10, 1, 10]);
    // zero padding at both ends: out_z = 0.5·x_{z−1} + x_z (taps [k_-1, k_0, k_+1] = [0, 1, 0.5] shift forward)
    expect(Array.from(zConvolution([0, 1, 0.5]).forward(x).data)).toEqual([1, 10, 2.5, 25, 4, 40, 5.5, 55]);
    const v = randomNormal([6, 2, 4, 4], 2, 'float64');
    for (const [z, s] of [[zConvolution(gaussianTaps(3, 0.7)), blurOperator(gaussianKernel(3, 1))], [zAveragePool(3), avgPoolOperator(2)]] as const) {
      const a = composeOperators(z, s).forward(v), b = composeOperators(s, z).forward(v);
      a.data.forEach((val, i) => expect(val).toBeCloseTo(b.data[i], 13));
    }
  });

  it('RepeatSlices makes a volume piecewise constant along z', () => {
    const v = repeatSlices(Tensor.from([2, 3], [1, 2, 3, 4, 5, 6], 'float64'), 3);
    expect(v.shape).toEqual([6, 3]);
    expect(Array.from(v.data)).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6, 4, 5, 6]);
    expect(zDifference.forward(v).data.filter((d) => d !== 0).length).toBe(3);
  });

  it('refuses what it cannot act on, naming the node', () => {
    const op = makeVolumeOperator({ depth: 8, zKind: 'blur' });
    expect(() => op.forward(Tensor.zeros([16, 2]))).toThrow(/VolumeOperator \(zblur\(3\)\): built for a volume of 8 slices, got a state of shape \[16, 2\]/);
    expect(() => makeVolumeOperator({ depth: 6, zKind: 'avgpool', zFactor: 4 })).toThrow(/VolumeOperator: depth 6 is not divisible by z_factor 4/);
    expect(() => zAveragePool(4).forward(Tensor.zeros([6, 2]))).toThrow(/6 slices is not divisible by 4/);
    expect(() => zConvolution([1, 1])).toThrow(/odd number/);
    expect(() => forDepth(identityOperator, 0, 'X')).toThrow(/X: depth must be a positive integer/);
    expect(() => zDifference.adjoint(Tensor.zeros([3, 2]), [3, 2])).toThrow(/needs \[2, 2\]/);
    expect(() => measure(zAveragePool(2), Tensor.zeros([4, 2]), 0.1, undefined, 'MeasureVolume')).toThrow(/^MeasureVolume: sigma_y > 0 needs a noise input/);
  });

  it('a per-slice OPERATOR links into a VOLUME_OPERATOR input, but a volume operator cannot feed the per-item DPS guider', () => {
    const link = (from: string, output: string) => ({ from, output });
    const workflow = (operatorNode: string, guiderType: string) => ({
      format: 'diffgraph/workflow@1',
      nodes: {
        model: { type: 'GaussianMixtureModel', inputs: {} },
        prior: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
        slice: { type: 'MeasurementOperator', inputs: { kind: 'avgpool', factor: 2 } },
        volume: { type: 'VolumeOperator', inputs: { depth: 4, z_kind: 'sum' } },
        y: { type: 'EmptyLatent', inputs: { batch: 1, model: link('model', 'model') } },
        guider: { type: guiderType, inputs: { guider: link('prior', 'guider'), operator: link(operatorNode, 'operator'), observation: link('y', 'latent') } },
      },
      outputs: ['guider'],
    });
    const registry = createRegistry();
    expect(validateWorkflow(workflow('slice', 'VolumeInverseGuider'), registry).ok).toBe(true);
    expect(validateWorkflow(workflow('volume', 'VolumeInverseGuider'), registry).ok).toBe(true);
    const refused = validateWorkflow(workflow('volume', 'InverseProblemGuider'), registry);
    expect(refused.ok).toBe(false);
    expect(JSON.stringify(refused)).toMatch(/VOLUME_OPERATOR/);
  });
});
