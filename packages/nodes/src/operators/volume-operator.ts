/**
 * Linear operators on a VOLUME, for 3-D inverse problems solved with a 2-D prior.
 *
 * Axis convention: a volume is a TENSOR [Z, ...item] whose leading axis is the slice index z and whose
 * item is one sample of the 2-D model ([C, H, W] latents/images, [D] vectors). Slices are the batch of
 * the 2-D model, so sampling a volume slice-wise is sampling a batch of Z.
 *
 * A VolumeOperator has the LinearOperator interface, but acts on the volume as ONE vector: it may mix
 * slices (a z-blur, thick slices, a projection along z), so its adjoint and every inner product built on
 * it are over the whole volume, never per batch item. A per-item 2-D operator is a (block-diagonal)
 * volume operator as it is (`sliceWise`); the z-operators act along axis 0 on any item shape and commute
 * with slice-wise operators. Each satisfies ⟨A x, r⟩ = ⟨x, Aᵀ r⟩ over the whole volume (tested).
 */
import { Tensor } from '@diffgraph/engine';
import type { LinearOperator } from './operator.ts';

export type VolumeOperator = LinearOperator;

const itemSize = (shape: readonly number[]) => shape.slice(1).reduce((a, b) => a * b, 1);

function volumeDims(shape: readonly number[], what: string): { Z: number; per: number } {
  if (shape.length < 2) throw new Error(`${what}: a volume is [Z, ...slice], got [${shape.join(', ')}]`);
  return { Z: shape[0], per: itemSize(shape) };
}

/**
 * out_j = Σ_z M[j][z]·x_z for a sparse slice-mixing matrix M given as rows of (z, weight) pairs, and its
 * transpose. Every z-operator below is one of these, so the adjoint is exact by construction.
 */
function sliceMixing(name: string, rowsOf: (Z: number) => [number, number][][], gram: number, outDepth: (Z: number) => number): VolumeOperator {
  const cache = new Map<number, [number, number][][]>();
  const rows = (Z: number) => {
    let r = cache.get(Z);
    if (!r) cache.set(Z, (r = rowsOf(Z)));
    return r;
  };
  const outputShape = (shape: readonly number[]) => {
    const { Z } = volumeDims(shape, name);
    return [outDepth(Z), ...shape.slice(1)];
  };
  return {
    name,
    outputShape,
    forward(x) {
      const { Z, per } = volumeDims(x.shape, name);
      const out = Tensor.zeros(outputShape(x.shape), x.dtype);
      rows(Z).forEach((row, j) => {
        for (const [z, w] of row) for (let i = 0; i < per; i++) out.data[j * per + i] += w * x.data[z * per + i];
      });
      return out;
    },
    adjoint(r, inputShape) {
      const { Z, per } = volumeDims(inputShape, name);
      const expected = outputShape(inputShape);
      if (r.size !== expected.reduce((a, b) => a * b, 1)) throw new Error(`${name}: adjoint of ${r} for a volume [${inputShape.join(', ')}] needs [${expected.join(', ')}]`);
      const out = Tensor.zeros(inputShape, r.dtype);
      rows(Z).forEach((row, j) => {
        for (const [z, w] of row) for (let i = 0; i < per; i++) out.data[z * per + i] += w * r.data[j * per + i];
      });
      return out;
    },
    gram,
  };
}

/** Convolution along z with an odd kernel (zero padding, same depth): out_z = Σ_u k_u·x_{z−(u−c)}. */
export function zConvolution(kernel: readonly number[]): VolumeOperator {
  if (kernel.length % 2 === 0 || kernel.some((v) => !Number.isFinite(v))) throw new Error(`z-blur: the kernel needs an odd number of finite taps, got [${kernel.join(', ')}]`);
  const c = (kernel.length - 1) / 2;
  const l1 = kernel.reduce((a, b) => a + Math.abs(b), 0);
  return sliceMixing(`zblur(${kernel.length})`, (Z) => Array.from({ length: Z }, (_, j) => {
    const row: [number, number][] = [];
    kernel.forEach((w, u) => {
      const z = j - (u - c);
      if (z >= 0 && z < Z && w !== 0) row.push([z, w]);
    });
    return row;
  }), l1 * l1, (Z) => Z);
}

/** A normalized Gaussian kernel along z: `size` odd taps, std `sigma` slices. */
export function gaussianTaps(size: number, sigma: number): number[] {
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) throw new Error(`z-blur: kernel size must be a positive odd integer, got ${size}`);
  if (!(sigma > 0)) throw new Error(`z-blur: sigma must be > 0, got ${sigma}`);
  const c = (size - 1) / 2;
  const taps = Array.from({ length: size }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * sigma * sigma)));
  const total = taps.reduce((a, b) => a + b, 0);
  return taps.map((v) => v / total);
}

/** Thick slices: each output slice is the mean of `factor` consecutive input slices (z-subsampling). */
export function zAveragePool(factor: number): VolumeOperator {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`z-avgpool: factor must be a positive integer, got ${factor}`);
  const outDepth = (Z: number) => {
    if (Z % factor !== 0) throw new Error(`z-avgpool(${factor}): a volume of ${Z} slices is not divisible by ${factor}`);
    return Z / factor;
  };
  return sliceMixing(`zavgpool(${factor})`, (Z) => Array.from({ length: outDepth(Z) }, (_, j) =>
    Array.from({ length: factor }, (_, k): [number, number] => [j * factor + k, 1 / factor])), 1 / factor, outDepth);
}

/** Projection along z (an X-ray through the volume): one output slice, the sum of all Z. ‖A‖² = Z. */
export function zProjection(depth: number): VolumeOperator {
  return sliceMixing('zsum', (Z) => [Array.from({ length: Z }, (_, z): [number, number] => [z, 1])], depth, () => 1);
}

/** Forward differences along z, (D x)_z = x_{z+1} − x_z: Z − 1 slices; the TV coupling's operator. ‖D‖² ≤ 4. */
export const zDifference: VolumeOperator = sliceMixing('zdiff', (Z) => Array.from({ length: Math.max(0, Z - 1) }, (_, j): [number, number][] => [[j + 1, 1], [j, -1]]), 4, (Z) => Math.max(0, Z - 1));

/** outer ∘ inner, with adjoint innerᵀ ∘ outerᵀ. */
export function composeOperators(outer: VolumeOperator, inner: VolumeOperator): VolumeOperator {
  return {
    name: `${outer.name}∘${inner.name}`,
    outputShape: (shape) => outer.outputShape(inner.outputShape(shape)),
    forward: (x) => outer.forward(inner.forward(x)),
    adjoint: (r, shape) => inner.adjoint(outer.adjoint(r, inner.outputShape(shape)), shape),
    gram: outer.gram * inner.gram,
  };
}

/**
 * A volume operator bound to a volume of exactly `depth` slices: anything else (a batch of several
 * volumes, particles of a steered sampler) is refused with a message naming `what` rather than
 * silently treated as one deeper volume.
 */
export function forDepth(op: VolumeOperator, depth: number, what: string): VolumeOperator {
  if (!Number.isInteger(depth) || depth < 1) throw new Error(`${what}: depth must be a positive integer, got ${depth}`);
  const check = (shape: readonly number[]) => {
    if (shape[0] !== depth) throw new Error(`${what}: built for a volume of ${depth} slices, got a state of shape [${shape.join(', ')}] (the volume is the batch: use a latent of batch ${depth})`);
  };
  return {
    name: op.name,
    outputShape: (shape) => (check(shape), op.outputShape(shape)),
    forward: (x) => (check(x.shape), op.forward(x)),
    adjoint: (r, shape) => (check(shape), op.adjoint(r, shape)),
    gram: op.gram,
    ...(op.pinv ? { pinv: (y: Tensor, shape: readonly number[]) => (check(shape), op.pinv!(y, shape)) } : {}),
  };
}

/** A per-slice 2-D operator seen as a volume operator (the same computation: the slices are its batch). */
export const sliceWise = (op: LinearOperator): VolumeOperator => op;

export const identityOperator: VolumeOperator = {
  name: 'identity',
  outputShape: (shape) => [...shape],
  forward: (x) => x.clone(),
  adjoint: (r) => r.clone(),
  gram: 1,
  pinv: (y) => y.clone(),
};

declare module '@diffgraph/engine' {
  interface SocketTypes {
    /** A linear operator on a whole volume [Z, ...slice] (may mix slices; inner products over the volume). */
    VOLUME_OPERATOR: VolumeOperator;
  }
}
