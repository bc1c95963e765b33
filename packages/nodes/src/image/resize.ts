/**
 * Resizing the last two (spatial) dimensions of a tensor: images, masks and latents alike. Separable:
 * each output row/column is a weighted sum of input ones, so one code path serves every method.
 *  - nearest: the input pixel whose cell holds the output cell's centre (integer upsampling repeats
 *    pixels exactly, which is what a latent preview wants);
 *  - bilinear: half-pixel centres, edge-clamped (PyTorch's align_corners=False);
 *  - area: the exact average over the input region an output cell covers (any ratio; for an integer
 *    factor it is block averaging, PyTorch's adaptive_avg_pool2d). It is what a mask downsampled to
 *    latent resolution wants: the fraction of each latent cell that is to be repainted.
 */
import { Tensor } from '@diffgraph/engine';

export const RESIZE_METHODS = ['nearest', 'bilinear', 'area'] as const;
export type ResizeMethod = (typeof RESIZE_METHODS)[number];

type Taps = { index: Int32Array; weight: Float64Array }[];

function taps(inSize: number, outSize: number, method: ResizeMethod): Taps {
  const scale = inSize / outSize;
  const out: Taps = [];
  for (let o = 0; o < outSize; o++) {
    const index: number[] = [];
    const weight: number[] = [];
    if (method === 'nearest') {
      index.push(Math.min(inSize - 1, Math.floor((o + 0.5) * scale)));
      weight.push(1);
    } else if (method === 'bilinear') {
      const src = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), inSize - 1);
      const i0 = Math.floor(src);
      const i1 = Math.min(i0 + 1, inSize - 1);
      const f = src - i0;
      index.push(i0, i1);
      weight.push(1 - f, f);
    } else {
      const start = o * scale;
      const end = (o + 1) * scale;
      for (let i = Math.floor(start); i < Math.min(Math.ceil(end), inSize); i++) {
        const overlap = Math.min(end, i + 1) - Math.max(start, i);
        if (overlap > 0) {
          index.push(i);
          weight.push(overlap / scale);
        }
      }
    }
    out.push({ index: Int32Array.from(index), weight: Float64Array.from(weight) });
  }
  return out;
}

/** A tensor [..., H, W] resized to [..., height, width]; same dtype. */
export function resize2d(t: Tensor, height: number, width: number, method: ResizeMethod): Tensor {
  const rank = t.shape.length;
  if (rank < 2) throw new Error(`resize: need a tensor with two spatial dimensions, got ${t}`);
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) {
    throw new RangeError(`resize: target size ${height}x${width} must be positive integers`);
  }
  const H = t.shape[rank - 2], W = t.shape[rank - 1];
  if (H === height && W === width) return t.clone();
  if (H === 0 || W === 0) throw new Error(`resize: cannot resize an empty tensor ${t}`);
  const planes = t.size / (H * W);
  const outShape = [...t.shape.slice(0, -2), height, width];
  const out = Tensor.zeros(outShape, t.dtype);
  const tx = taps(W, width, method);
  const ty = taps(H, height, method);
  const rows = new Float64Array(H * width); // horizontal pass result of one plane
  const src = t.data, dst = out.data;
  for (let p = 0; p < planes; p++) {
    const inBase = p * H * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < width; x++) {
        const { index, weight } = tx[x];
        let s = 0;
        for (let k = 0; k < index.length; k++) s += weight[k] * src[inBase + y * W + index[k]];
        rows[y * width + x] = s;
      }
    }
    const outBase = p * height * width;
    for (let y = 0; y < height; y++) {
      const { index, weight } = ty[y];
      for (let x = 0; x < width; x++) {
        let s = 0;
        for (let k = 0; k < index.length; k++) s += weight[k] * rows[index[k] * width + x];
        dst[outBase + y * width + x] = s;
      }
    }
  }
  return out;
}
