/**
 * Fitting an inpainting mask and an original latent to a batch of states, whatever their layout:
 * image latents [B, C, h, w] with a MASK [B|1, 1, H, W] at image or latent resolution, or flat
 * analytic states [B, D] with a [B|1, D] mask.
 *
 * Rules (shape-agnostic broadcasting, like numpy's, plus one resize):
 *  - the mask has the state's rank; its batch is 1 (shared) or the state's;
 *  - for rank ≥ 3 the last two dims are spatial: a mask at another resolution is resized by AREA
 *    averaging, so a latent cell gets the fraction of its pixels that are to be repainted (a soft
 *    edge; nearest would move the boundary by up to a cell and alias thin strokes);
 *  - every other dim is 1 (broadcast, e.g. MASK's single channel over 4 latent channels) or equal;
 *  - values are clamped to [0, 1] and snapped to exactly 0 or 1 within 1e-9, so "known" (0) and
 *    "repaint" (1) cells stay exact after averaging rounding.
 */
import { Tensor } from '@diffgraph/engine';
import { resize2d } from './resize.ts';

/** Values of `t` broadcast to `shape` (numpy rules: each dim of t is 1 or equal), as float64. */
export function broadcastTo(t: Tensor, shape: readonly number[], what: string): Float64Array {
  if (t.shape.length !== shape.length) throw new Error(`${what}: ${t} has rank ${t.shape.length}, the states [${shape.join(', ')}] have rank ${shape.length}`);
  t.shape.forEach((d, i) => {
    if (d !== 1 && d !== shape[i]) throw new Error(`${what}: ${t} does not broadcast to [${shape.join(', ')}] (dim ${i}: ${d} is neither 1 nor ${shape[i]})`);
  });
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  // Strides of t, with 0 along broadcast dims.
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = t.shape[i] === 1 ? 0 : stride;
    stride *= t.shape[i];
  }
  const idx = new Array<number>(shape.length).fill(0);
  let src = 0;
  for (let k = 0; k < size; k++) {
    out[k] = t.data[src];
    // Odometer increment of the multi-index, updating the source offset incrementally.
    for (let i = shape.length - 1; i >= 0; i--) {
      idx[i]++;
      src += strides[i];
      if (idx[i] < shape[i]) break;
      src -= strides[i] * shape[i];
      idx[i] = 0;
    }
  }
  return out;
}

/** The mask as one value per state entry (1 = repaint, 0 = known), following the rules above. */
export function fitMask(mask: Tensor, shape: readonly number[], what: string): Float64Array {
  if (!(mask instanceof Tensor)) throw new Error(`${what}: expected a MASK tensor`);
  let m = mask;
  const rank = shape.length;
  if (m.shape.length !== rank) throw new Error(`${what}: mask ${m} must have the rank of the states [${shape.join(', ')}]`);
  if (rank >= 3 && (m.shape[rank - 2] !== shape[rank - 2] || m.shape[rank - 1] !== shape[rank - 1])) {
    m = resize2d(m, shape[rank - 2], shape[rank - 1], 'area');
  }
  const out = broadcastTo(m, shape, what);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    out[i] = v <= 1e-9 ? 0 : v >= 1 - 1e-9 ? 1 : v; // NaN stays NaN and is rejected below
    if (Number.isNaN(out[i])) throw new Error(`${what}: mask contains NaN`);
  }
  return out;
}

/** The original latent broadcast over the states' batch (its item shape must equal theirs). */
export function fitOriginal(original: Tensor, shape: readonly number[], what: string): Float64Array {
  if (!(original instanceof Tensor)) throw new Error(`${what}: expected a LATENT tensor`);
  const item = original.shape.slice(1);
  if (item.length !== shape.length - 1 || item.some((d, i) => d !== shape[i + 1])) {
    throw new Error(`${what}: latent ${original} does not match the states [${shape.join(', ')}] (same item shape needed; batch 1 or ${shape[0]})`);
  }
  return broadcastTo(original, shape, what);
}
