/** ImageScale: resize an IMAGE (or, through MaskScale, a MASK) to a given size. */
import { defineInputs, defineNode, type InputsOf, Tensor } from '@diffgraph/engine';
import { RESIZE_METHODS, resize2d } from './resize.ts';

/** Target size; a 0 side follows the other one's ratio (both 0 keeps the size). */
export function targetSize(h: number, w: number, height: number, width: number): [number, number] {
  if (height === 0 && width === 0) return [h, w];
  if (height === 0) return [Math.max(1, Math.round((h * width) / w)), width];
  if (width === 0) return [height, Math.max(1, Math.round((w * height) / h))];
  return [height, width];
}

const sizeInputs = defineInputs({
  width: { type: 'INT', default: 512, min: 0, max: 16384, role: 'width', tooltip: '0: keep the aspect ratio from the height' },
  height: { type: 'INT', default: 512, min: 0, max: 16384, role: 'height', tooltip: '0: keep the aspect ratio from the width' },
  method: { type: 'STRING', enum: RESIZE_METHODS, default: 'bilinear', tooltip: 'area is best for shrinking, nearest keeps hard edges' },
});

/** Resizes an IMAGE or MASK [B, channels, H, W] to the node's size inputs, clamped to [0, 1]. */
function scaleTensor(node: string, input: string, socket: string, channels: number, t: Tensor, size: InputsOf<typeof sizeInputs>): Tensor {
  if (!(t instanceof Tensor) || t.shape.length !== 4 || t.shape[1] !== channels) {
    throw new Error(`${node}: input "${input}" must be ${socket} [B, ${channels}, H, W], got ${t}`);
  }
  const [height, width] = targetSize(t.shape[2], t.shape[3], size.height, size.width);
  const out = resize2d(t, height, width, size.method);
  // Bilinear and area stay inside [0, 1] already; clamp guards against rounding just outside.
  for (let k = 0; k < out.data.length; k++) out.data[k] = Math.min(1, Math.max(0, out.data[k]));
  return out;
}

export const ImageScale = defineNode({
  type: 'ImageScale',
  category: 'image',
  description: 'Resizes an IMAGE (nearest, bilinear or area averaging).',
  version: 1,
  inputs: { image: { type: 'IMAGE' }, ...sizeInputs },
  outputs: { image: { type: 'IMAGE' } },
  run: (i) => ({ image: scaleTensor('ImageScale', 'image', 'IMAGE', 3, i.image, i) }),
});

export const MaskScale = defineNode({
  type: 'MaskScale',
  category: 'mask',
  description: 'Resizes a MASK (nearest, bilinear or area averaging).',
  version: 1,
  inputs: { mask: { type: 'MASK' }, ...sizeInputs },
  outputs: { mask: { type: 'MASK' } },
  run: (i) => ({ mask: scaleTensor('MaskScale', 'mask', 'MASK', 1, i.mask, i) }),
});
