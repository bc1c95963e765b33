/** ImageScale: resize an IMAGE (or, through MaskScale, a MASK) to a given size. */
import type { NodeDefinition } from '@diffgraph/engine';
import { Tensor } from '@diffgraph/engine';
import { RESIZE_METHODS, resize2d, type ResizeMethod } from './resize.ts';

/** Target size; a 0 side follows the other one's ratio (both 0 keeps the size). */
export function targetSize(h: number, w: number, height: number, width: number): [number, number] {
  if (height === 0 && width === 0) return [h, w];
  if (height === 0) return [Math.max(1, Math.round((h * width) / w)), width];
  if (width === 0) return [height, Math.max(1, Math.round((w * height) / h))];
  return [height, width];
}

const sizeInputs = {
  width: { type: 'INT', default: 512, min: 0, max: 16384, role: 'width', tooltip: '0: keep the aspect ratio from the height' },
  height: { type: 'INT', default: 512, min: 0, max: 16384, role: 'height', tooltip: '0: keep the aspect ratio from the width' },
  method: { type: 'STRING', enum: RESIZE_METHODS, default: 'bilinear', tooltip: 'area is best for shrinking, nearest keeps hard edges' },
} as const;

function scaleNode(type: string, socket: 'IMAGE' | 'MASK', channels: number): NodeDefinition {
  const input = socket === 'IMAGE' ? 'image' : 'mask';
  return {
    type,
    category: socket === 'IMAGE' ? 'image' : 'mask',
    description: `Resizes ${socket === 'IMAGE' ? 'an IMAGE' : 'a MASK'} (nearest, bilinear or area averaging).`,
    version: 1,
    inputs: { [input]: { type: socket }, ...sizeInputs },
    outputs: { [input]: { type: socket } },
    run(i) {
      const t = i[input] as Tensor;
      if (!(t instanceof Tensor) || t.shape.length !== 4 || t.shape[1] !== channels) {
        throw new Error(`${type}: input "${input}" must be ${socket} [B, ${channels}, H, W], got ${t}`);
      }
      const [height, width] = targetSize(t.shape[2], t.shape[3], i.height, i.width);
      const out = resize2d(t, height, width, i.method as ResizeMethod);
      // Bilinear and area stay inside [0, 1] already; clamp guards against rounding just outside.
      for (let k = 0; k < out.data.length; k++) out.data[k] = Math.min(1, Math.max(0, out.data[k]));
      return { [input]: out };
    },
  };
}

export const ImageScale = scaleNode('ImageScale', 'IMAGE', 3);
export const MaskScale = scaleNode('MaskScale', 'MASK', 1);
