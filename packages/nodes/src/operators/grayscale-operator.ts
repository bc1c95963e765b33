/**
 * Grayscale (colorization's degradation): [B, C, H, W] → [B, 1, H, W], y = Σ_c w_c·x_c. Aᵀ r = w ⊗ r
 * (each channel gets w_c·r), A Aᵀ = ‖w‖²·I and A⁺ y = w ⊗ y/‖w‖². Default weights are Rec.601 luma
 * for 3 channels and the plain mean otherwise.
 */
import { Tensor } from '@diffgraph/engine';
import type { LinearOperator } from './operator.ts';

export const REC601_LUMA = [0.299, 0.587, 0.114] as const;

export function grayscaleOperator(weights?: readonly number[]): LinearOperator {
  const resolve = (C: number): readonly number[] => {
    const w = weights ?? (C === 3 ? REC601_LUMA : new Array<number>(C).fill(1 / C));
    if (w.length !== C) throw new Error(`grayscale: ${w.length} weights for ${C} channels`);
    return w;
  };
  const dims = (shape: readonly number[]) => {
    if (shape.length < 2) throw new Error(`grayscale: needs states [B, C, ...], got [${shape.join(', ')}]`);
    return { B: shape[0], C: shape[1], plane: shape.slice(2).reduce((a, b) => a * b, 1) };
  };
  const normSq = (w: readonly number[]) => w.reduce((a, b) => a + b * b, 0);
  const spread = (r: Tensor, shape: readonly number[], gainOf: (w: readonly number[]) => number): Tensor => {
    const { B, C, plane } = dims(shape);
    const w = resolve(C);
    const gain = gainOf(w);
    const out = Tensor.zeros(shape, r.dtype);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        for (let p = 0; p < plane; p++) out.data[(b * C + c) * plane + p] = gain * w[c] * r.data[b * plane + p];
      }
    }
    return out;
  };
  return {
    name: 'grayscale',
    outputShape: (shape) => {
      dims(shape);
      return [shape[0], 1, ...shape.slice(2)];
    },
    forward(x) {
      const { B, C, plane } = dims(x.shape);
      const w = resolve(C);
      const out = Tensor.zeros([B, 1, ...x.shape.slice(2)], x.dtype);
      for (let b = 0; b < B; b++) {
        for (let c = 0; c < C; c++) {
          for (let p = 0; p < plane; p++) out.data[b * plane + p] += w[c] * x.data[(b * C + c) * plane + p];
        }
      }
      return out;
    },
    adjoint: (r, shape) => spread(r, shape, () => 1),
    // Exact for given weights; for the defaults the Rec.601 value (≈ 0.446) bounds the 1/C mean's 1/C too.
    gram: weights ? normSq(weights) : normSq(REC601_LUMA),
    pinv: (y, shape) => spread(y, shape, (w) => 1 / normSq(w)),
  };
}
