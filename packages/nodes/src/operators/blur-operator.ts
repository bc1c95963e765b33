/**
 * Blur A x = k * x: 2-D convolution of every plane of [B, ..., H, W] with an odd-sized kernel k, zero
 * padding, same output size. The adjoint is correlation with k (convolution with the 180°-flipped
 * kernel), with the same zero padding, so ⟨A x, r⟩ = ⟨x, Aᵀ r⟩ holds exactly including the borders.
 * ‖A‖² ≤ (Σ|k|)² (Young's inequality), the bound reported as `gram`. No cheap pseudo-inverse.
 */
import { Tensor } from '@diffgraph/engine';
import type { LinearOperator } from './operator.ts';

/** A normalized isotropic Gaussian kernel of odd `size` and standard deviation `sigma` (pixels). */
export function gaussianKernel(size: number, sigma: number): number[][] {
  if (!Number.isInteger(size) || size < 1 || size % 2 === 0) throw new Error(`blur: kernel size must be a positive odd integer, got ${size}`);
  if (!(sigma > 0)) throw new Error(`blur: sigma must be > 0, got ${sigma}`);
  const c = (size - 1) / 2;
  const k = Array.from({ length: size }, (_, i) => Array.from({ length: size }, (_, j) => Math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma * sigma))));
  const total = k.flat().reduce((a, b) => a + b, 0);
  return k.map((row) => row.map((v) => v / total));
}

export function blurOperator(kernel: readonly (readonly number[])[]): LinearOperator {
  const kh = kernel.length, kw = kernel[0]?.length ?? 0;
  if (kh % 2 === 0 || kw % 2 === 0 || kernel.some((row) => row.length !== kw)) throw new Error('blur: the kernel must be a rectangular array with odd sides');
  const ch = (kh - 1) / 2, cw = (kw - 1) / 2;
  const flat = kernel.flat();
  const l1 = flat.reduce((a, b) => a + Math.abs(b), 0);
  // sign +1: convolution y[i,j] = Σ k[u,v]·x[i−u+ch, j−v+cw]; sign −1: correlation (the adjoint).
  const filter = (x: Tensor, shape: readonly number[], sign: 1 | -1): Tensor => {
    if (shape.length < 3) throw new Error(`blur: needs states with two spatial dims [B, ..., H, W], got [${shape.join(', ')}]`);
    const H = shape[shape.length - 2], W = shape[shape.length - 1];
    const planes = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const out = Tensor.zeros(shape, x.dtype);
    for (let p = 0; p < planes; p++) {
      const base = p * H * W;
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) {
          let acc = 0;
          for (let u = 0; u < kh; u++) {
            const ii = i - sign * (u - ch);
            if (ii < 0 || ii >= H) continue;
            for (let v = 0; v < kw; v++) {
              const jj = j - sign * (v - cw);
              if (jj < 0 || jj >= W) continue;
              acc += flat[u * kw + v] * x.data[base + ii * W + jj];
            }
          }
          out.data[base + i * W + j] = acc;
        }
      }
    }
    return out;
  };
  return {
    name: `blur(${kh}×${kw})`,
    outputShape: (shape) => {
      if (shape.length < 3) throw new Error(`blur: needs states with two spatial dims [B, ..., H, W], got [${shape.join(', ')}]`);
      return [...shape];
    },
    forward: (x) => filter(x, x.shape, 1),
    adjoint: (r, shape) => filter(r, shape, -1),
    gram: l1 * l1,
  };
}
