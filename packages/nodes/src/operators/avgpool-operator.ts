/**
 * f×f average pooling of the last two (spatial) dims, the super-resolution degradation:
 * [B, ..., H, W] → [B, ..., H/f, W/f]. Its adjoint spreads each residual evenly over its block,
 * Aᵀ r = nearest-upsample(r)/f², so A Aᵀ = I/f² exactly and A⁺ = f²·Aᵀ (nearest upsampling).
 */
import { Tensor } from '@diffgraph/engine';
import type { LinearOperator } from './operator.ts';

export function avgPoolOperator(factor: number): LinearOperator {
  if (!Number.isInteger(factor) || factor < 1) throw new Error(`avgpool: factor must be a positive integer, got ${factor}`);
  const f = factor;
  const dims = (shape: readonly number[]) => {
    if (shape.length < 3) throw new Error(`avgpool(${f}): needs states with two spatial dims [B, ..., H, W], got [${shape.join(', ')}]`);
    const H = shape[shape.length - 2], W = shape[shape.length - 1];
    if (H % f !== 0 || W % f !== 0) throw new Error(`avgpool(${f}): spatial size ${H}×${W} is not divisible by ${f}`);
    const planes = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    return { H, W, h: H / f, w: W / f, planes };
  };
  const outputShape = (shape: readonly number[]) => {
    const { h, w } = dims(shape);
    return [...shape.slice(0, -2), h, w];
  };
  // Both directions visit each (plane, fine pixel) once; `up` maps a coarse value to its block.
  const spread = (r: Tensor, shape: readonly number[], gain: number): Tensor => {
    const { H, W, h, w, planes } = dims(shape);
    const out = Tensor.zeros(shape, r.dtype);
    for (let p = 0; p < planes; p++) {
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) out.data[p * H * W + i * W + j] = gain * r.data[p * h * w + Math.floor(i / f) * w + Math.floor(j / f)];
      }
    }
    return out;
  };
  return {
    name: `avgpool(${f})`,
    outputShape,
    forward(x) {
      const { H, W, h, w, planes } = dims(x.shape);
      const out = Tensor.zeros(outputShape(x.shape), x.dtype);
      const inv = 1 / (f * f);
      for (let p = 0; p < planes; p++) {
        for (let i = 0; i < H; i++) {
          for (let j = 0; j < W; j++) out.data[p * h * w + Math.floor(i / f) * w + Math.floor(j / f)] += inv * x.data[p * H * W + i * W + j];
        }
      }
      return out;
    },
    adjoint: (r, shape) => spread(r, shape, 1 / (f * f)),
    gram: 1 / (f * f),
    pinv: (y, shape) => spread(y, shape, 1),
  };
}
