/**
 * Masked observation A x = m ⊙ x (random or box inpainting). m is 1 where a value is observed; a soft
 * m in (0, 1) weights it. A is diagonal, so Aᵀ = A, A Aᵀ = m², and A⁺ y = y/m where m > 0 (0 elsewhere).
 * Shape-generic: m broadcasts over the states like an inpainting mask (inpaint-mask.ts: [B|1, ...]
 * with broadcast dims, spatial dims area-resized), so it works on [B, C, H, W] latents and [B, D]
 * vectors alike.
 */
import { Tensor } from '@diffgraph/engine';
import { fitMask } from '../image/inpaint-mask.ts';
import type { LinearOperator } from './operator.ts';

export function maskOperator(observed: Tensor): LinearOperator {
  let max = 0;
  for (const v of observed.data) max = Math.max(max, Math.abs(v));
  const cache = new Map<string, Float64Array>();
  const weights = (shape: readonly number[]): Float64Array => {
    const key = shape.join(',');
    let w = cache.get(key);
    if (!w) {
      // fitMask clamps to [0, 1] and area-resizes: the same fitting rules as the inpainting guiders.
      w = fitMask(observed, shape, 'mask operator');
      cache.set(key, w);
    }
    return w;
  };
  const apply = (x: Tensor, shape: readonly number[], f: (v: number, m: number) => number): Tensor => {
    const w = weights(shape);
    const out = Tensor.zeros(shape, x.dtype);
    for (let i = 0; i < w.length; i++) out.data[i] = f(x.data[i], w[i]);
    return out;
  };
  return {
    name: 'mask',
    outputShape: (shape) => [...shape],
    forward: (x) => apply(x, x.shape, (v, m) => m * v),
    adjoint: (r, shape) => apply(r, shape, (v, m) => m * v),
    gram: Math.min(1, max) ** 2,
    pinv: (y, shape) => apply(y, shape, (v, m) => (m > 0 ? v / m : 0)),
  };
}
