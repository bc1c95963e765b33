/**
 * Vector–Jacobian products through a denoiser without autograd.
 *
 * G1 ('skip'): drop the network's Jacobian; for an eps-model x0 = (x − s·eps)/a gives J ≈ I/a, and
 *   Tweedie's second-order identity Cov[x0 | x_t] = (s²/a)·J then says Cov ≈ (s/a)²·I.
 * G2 ('fd'): for an MMSE denoiser J = ∂x0/∂x_t = (a/s²)·Cov[x0 | x_t] is symmetric, so Jᵀg = Jg is a
 *   central difference of two forward passes, [x0(x + δg) − x0(x − δg)]/(2δ), batched into one call
 *   of 2B items. δ is relative per item: rel·(‖x‖ + 1)/‖g‖, rel = 1e-3 in float32 (rounding) and 1e-5
 *   in float64.
 */
import type { Tensor } from '@diffgraph/engine';
import type { Denoiser } from '../contracts/sampling.ts';
import { addScaledPerItem, concatBatch, itemDots } from './batch-ops.ts';

export const JACOBIAN_MODES = ['skip', 'fd'] as const;
export type JacobianMode = (typeof JACOBIAN_MODES)[number];

/** J·g per item by central differences (symmetric J ⇒ also Jᵀ·g). Items with g = 0 get 0. */
export async function jacobianVectorProduct(denoise: Denoiser, x: Tensor, t: number, g: Tensor): Promise<Tensor> {
  const rel = x.dtype === 'float64' ? 1e-5 : 1e-3;
  const gg = itemDots(g, g), xx = itemDots(x, x);
  const delta = Array.from(gg, (v, b) => (v > 0 ? (rel * (Math.sqrt(xx[b]) + 1)) / Math.sqrt(v) : 0));
  const both = await denoise(concatBatch([addScaledPerItem(x, delta, g), addScaledPerItem(x, delta.map((d) => -d), g)]), t);
  const out = g.zerosLike();
  const per = x.size / x.batch;
  for (let b = 0; b < x.batch; b++) {
    if (delta[b] === 0) continue;
    const inv = 1 / (2 * delta[b]);
    for (let i = b * per; i < (b + 1) * per; i++) out.data[i] = (both.data[i] - both.data[x.size + i]) * inv;
  }
  return out;
}
