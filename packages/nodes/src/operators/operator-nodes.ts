/**
 * Nodes for known measurement operators: MeasurementOperator builds an OPERATOR, Measure applies one
 * (plus seeded Gaussian noise) to make an observation y = A x + sigma_y·n for a workflow or a test.
 */
import { defineNode, jsonInput, Tensor } from '@diffgraph/engine';
import type { NoiseGenerator } from '../contracts/sampling.ts';
import type { LinearOperator } from './operator.ts';
import { maskOperator } from './mask-operator.ts';
import { avgPoolOperator } from './avgpool-operator.ts';
import { blurOperator, gaussianKernel } from './blur-operator.ts';
import { grayscaleOperator } from './grayscale-operator.ts';

export const OPERATOR_KINDS = ['mask', 'avgpool', 'blur', 'grayscale'] as const;
export type OperatorKind = (typeof OPERATOR_KINDS)[number];

export interface OperatorSpec {
  kind: OperatorKind;
  /** mask: MASK with 1 = repaint (unknown); the operator observes 1 − mask. */
  mask?: Tensor;
  factor?: number;
  kernelSize?: number;
  blurSigma?: number;
  weights?: readonly number[];
}

export function makeOperator(spec: OperatorSpec): LinearOperator {
  switch (spec.kind) {
    case 'mask': {
      if (!(spec.mask instanceof Tensor)) throw new Error('MeasurementOperator: kind "mask" needs the "mask" input (MASK, 1 = unknown)');
      // MASK means "1 = repaint"; the measurement sees the rest.
      const observed = new Tensor(spec.mask.shape, spec.mask.data.map((v) => 1 - v));
      return maskOperator(observed);
    }
    case 'avgpool':
      return avgPoolOperator(spec.factor ?? 4);
    case 'blur':
      return blurOperator(gaussianKernel(spec.kernelSize ?? 9, spec.blurSigma ?? 3));
    case 'grayscale':
      return grayscaleOperator(spec.weights);
  }
}

export const MeasurementOperator = defineNode({
  type: 'MeasurementOperator',
  category: 'inverse',
  description: 'A known linear degradation A with its exact adjoint: mask (inpainting), avgpool (super-resolution), Gaussian blur (deblurring) or grayscale (colorization). Acts per batch item.',
  version: 1,
  inputs: {
    kind: { type: 'STRING', enum: OPERATOR_KINDS, default: 'mask' },
    mask: { type: 'MASK', optional: true, tooltip: 'mask: 1 = unknown (repaint), 0 = observed; broadcast over channels, area-resized to the state' },
    factor: { type: 'INT', default: 4, min: 1, max: 64, tooltip: 'avgpool: block size' },
    kernel_size: { type: 'INT', default: 9, min: 1, max: 99, step: 2, tooltip: 'blur: odd kernel side' },
    blur_sigma: { type: 'FLOAT', default: 3, min: 0.01, max: 50, tooltip: 'blur: Gaussian std in pixels' },
    weights: jsonInput<number[]>({ optional: true, schema: { type: 'array', items: { type: 'number' }, minItems: 1 }, tooltip: 'grayscale: channel weights (default Rec.601 luma for RGB)' }),
  },
  outputs: { operator: { type: 'OPERATOR' } },
  run: (i) => ({ operator: makeOperator({ kind: i.kind, mask: i.mask, factor: i.factor, kernelSize: i.kernel_size, blurSigma: i.blur_sigma, weights: i.weights }) }),
});

export function measure(operator: LinearOperator, x: Tensor, sigmaY: number, noise?: NoiseGenerator, node = 'Measure'): Tensor {
  const y = operator.forward(x);
  if (sigmaY > 0) {
    if (!noise) throw new Error(`${node}: sigma_y > 0 needs a noise input`);
    const n = noise.sample(y, 0);
    for (let i = 0; i < y.size; i++) y.data[i] += sigmaY * n.data[i];
  }
  return y;
}

export const Measure = defineNode({
  type: 'Measure',
  category: 'inverse',
  description: 'Simulates an observation y = A x + sigma_y·n of a latent or image (n: stream 0 of the noise input).',
  version: 1,
  inputs: {
    operator: { type: 'OPERATOR' },
    latent: { type: 'LATENT' },
    sigma_y: { type: 'FLOAT', default: 0, min: 0, max: 10 },
    noise: { type: 'NOISE', optional: true },
  },
  outputs: { observation: { type: 'LATENT' } },
  run: (i) => ({ observation: measure(i.operator, i.latent, i.sigma_y, i.noise) }),
});
