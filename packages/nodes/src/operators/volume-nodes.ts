/**
 * Nodes for volumes (TENSOR [Z, ...slice], see volume-operator.ts): VolumeOperator builds a known
 * linear operator on a volume (a per-slice 2-D operator, a z-operator, or both), MeasureVolume simulates
 * an observation through it, and RepeatSlices stacks slices into a volume that is piecewise constant
 * along z.
 */
import { defineNode, Tensor } from '@diffgraph/engine';
import { measure } from './operator-nodes.ts';
import type { LinearOperator } from './operator.ts';
import { composeOperators, forDepth, gaussianTaps, identityOperator, sliceWise, zAveragePool, zConvolution, zProjection, type VolumeOperator } from './volume-operator.ts';

export const Z_OPERATOR_KINDS = ['none', 'blur', 'avgpool', 'sum'] as const;
export type ZOperatorKind = (typeof Z_OPERATOR_KINDS)[number];

export interface VolumeOperatorSpec {
  depth: number;
  sliceOperator?: LinearOperator;
  zKind: ZOperatorKind;
  zKernelSize?: number;
  zSigma?: number;
  zFactor?: number;
}

function zOperator(spec: VolumeOperatorSpec): VolumeOperator | null {
  switch (spec.zKind) {
    case 'none': return null;
    case 'blur': return zConvolution(gaussianTaps(spec.zKernelSize ?? 3, spec.zSigma ?? 1));
    case 'avgpool': return zAveragePool(spec.zFactor ?? 2);
    case 'sum': return zProjection(spec.depth);
  }
}

/** z-operator ∘ slice operator (they commute), bound to volumes of `depth` slices. */
export function makeVolumeOperator(spec: VolumeOperatorSpec, node = 'VolumeOperator'): VolumeOperator {
  const slice = spec.sliceOperator ? sliceWise(spec.sliceOperator) : null;
  const z = zOperator(spec);
  if (z && spec.zKind === 'avgpool' && spec.depth % (spec.zFactor ?? 2) !== 0) throw new Error(`${node}: depth ${spec.depth} is not divisible by z_factor ${spec.zFactor ?? 2}`);
  const op = slice && z ? composeOperators(z, slice) : (slice ?? z ?? identityOperator);
  return forDepth(op, spec.depth, `${node} (${op.name})`);
}

export const VolumeOperatorNode = defineNode({
  type: 'VolumeOperator',
  category: 'inverse',
  description: 'A known linear operator on a volume [Z, ...slice] (slices along the batch axis): an optional per-slice 2-D operator (mask, avgpool, blur, grayscale) followed by an optional operator along z (Gaussian z-blur, thick slices by z-average pooling, or the projection/sum along z). Exact adjoint; inner products over the whole volume.',
  version: 1,
  inputs: {
    depth: { type: 'INT', default: 16, min: 1, max: 4096, tooltip: 'Z: the number of slices (the batch of the latent the volume is sampled from)' },
    slice_operator: { type: 'OPERATOR', optional: true, tooltip: 'Applied to every slice (a MASK with a batch of Z gives each slice its own mask)' },
    z_kind: { type: 'STRING', enum: Z_OPERATOR_KINDS, default: 'none', tooltip: 'Along z: none, blur (Gaussian, zero padding), avgpool (mean of z_factor consecutive slices), sum (projection through the volume)' },
    z_kernel_size: { type: 'INT', default: 3, min: 1, max: 99, step: 2, tooltip: 'blur: odd number of taps' },
    z_sigma: { type: 'FLOAT', default: 1, min: 0.01, max: 100, tooltip: 'blur: Gaussian std in slices' },
    z_factor: { type: 'INT', default: 2, min: 1, max: 4096, tooltip: 'avgpool: slices per thick slice' },
  },
  outputs: { operator: { type: 'VOLUME_OPERATOR' } },
  run: (i) => ({
    operator: makeVolumeOperator({ depth: i.depth, sliceOperator: i.slice_operator, zKind: i.z_kind, zKernelSize: i.z_kernel_size, zSigma: i.z_sigma, zFactor: i.z_factor }),
  }),
});

export const MeasureVolume = defineNode({
  type: 'MeasureVolume',
  category: 'inverse',
  description: 'Simulates an observation y = A x + sigma_y·n of a volume [Z, ...slice] through a volume operator (n: stream 0 of the noise input).',
  version: 1,
  inputs: {
    operator: { type: 'VOLUME_OPERATOR' },
    volume: { type: 'TENSOR' },
    sigma_y: { type: 'FLOAT', default: 0, min: 0, max: 10 },
    noise: { type: 'NOISE', optional: true },
  },
  outputs: { observation: { type: 'TENSOR' } },
  run: (i) => ({ observation: measure(i.operator, i.volume, i.sigma_y, i.noise, 'MeasureVolume') }),
});

/** [K, ...slice] → [K·repeats, ...slice], slice k repeated `repeats` times in a row. */
export function repeatSlices(slices: Tensor, repeats: number): Tensor {
  if (!Number.isInteger(repeats) || repeats < 1) throw new Error(`RepeatSlices: repeats must be a positive integer, got ${repeats}`);
  if (slices.shape.length < 2) throw new Error(`RepeatSlices: tensor must be [K, ...slice], got [${slices.shape.join(', ')}]`);
  const per = slices.size / slices.batch;
  const out = Tensor.zeros([slices.batch * repeats, ...slices.shape.slice(1)], slices.dtype);
  for (let k = 0; k < slices.batch; k++) {
    const src = slices.data.subarray(k * per, (k + 1) * per);
    for (let r = 0; r < repeats; r++) out.data.set(src, (k * repeats + r) * per);
  }
  return out;
}

export const RepeatSlices = defineNode({
  type: 'RepeatSlices',
  category: 'latent',
  description: 'Stacks each slice of [K, ...slice] `repeats` times along the batch (z) axis: a volume of K·repeats slices that is piecewise constant along z.',
  version: 1,
  inputs: {
    tensor: { type: 'TENSOR' },
    repeats: { type: 'INT', default: 4, min: 1, max: 4096 },
  },
  outputs: { volume: { type: 'TENSOR' } },
  run: (i) => ({ volume: repeatSlices(i.tensor, i.repeats) }),
});
