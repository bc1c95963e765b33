/**
 * A linear latent → RGB projection fitted to a VAE decoder, for cheap live previews that look like the
 * model's own images (Stable Diffusion's fixed factors are wrong for any other latent space).
 * Random latents are decoded once; each image is area-averaged down to the latent grid, and
 * rgb ≈ M·z + b is solved by least squares over every latent pixel.
 */
import { Tensor } from '@diffgraph/engine';
import { randomNormal } from '../noise/philox.ts';
import type { LatentRgb } from '../contracts/sampling.ts';

export type { LatentRgb };


/** Solves the symmetric positive system A·x = b (Cholesky; A is small: channels + 1). */
function solveSpd(A: number[][], b: number[]): number[] {
  const n = b.length;
  const L = A.map(() => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i][j];
      for (let k = 0; k < j; k++) s -= L[i][k] * L[j][k];
      L[i][j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / L[j][j];
    }
  }
  const y = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i][k] * y[k];
    y[i] = s / L[i][i];
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k][i] * x[k];
    x[i] = s / L[i][i];
  }
  return x;
}

/** Fit from latents [N, C, h, w] and their decoded images [N, 3, H, W] (H = scale·h). */
export function fitLatentRgb(latents: Tensor, images: Tensor): LatentRgb {
  const [n, c, h, w] = latents.shape;
  const [, , H, W] = images.shape;
  const scale = H / h;
  if (!Number.isInteger(scale) || W / w !== scale) throw new Error(`fitLatentRgb: image ${H}×${W} is not a whole multiple of latent ${h}×${w}`);
  const d = c + 1; // latent channels and a constant for the bias
  const AtA = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  const AtB = Array.from({ length: 3 }, () => new Array<number>(d).fill(0));
  const row = new Array<number>(d);
  const area = scale * scale;
  for (let i = 0; i < n; i++) {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let ch = 0; ch < c; ch++) row[ch] = latents.data[((i * c + ch) * h + y) * w + x];
        row[c] = 1;
        for (let a = 0; a < d; a++) for (let b2 = 0; b2 < d; b2++) AtA[a][b2] += row[a] * row[b2];
        for (let rgb = 0; rgb < 3; rgb++) {
          let mean = 0;
          for (let dy = 0; dy < scale; dy++) {
            for (let dx = 0; dx < scale; dx++) mean += images.data[((i * 3 + rgb) * H + y * scale + dy) * W + x * scale + dx];
          }
          mean /= area;
          for (let a = 0; a < d; a++) AtB[rgb][a] += row[a] * mean;
        }
      }
    }
  }
  const solutions = AtB.map((rhs) => solveSpd(AtA, rhs));
  return { matrix: solutions.map((s) => s.slice(0, c)), bias: solutions.map((s) => s[c]), scale };
}

/** Decode `count` seeded random latents of the given item shape and fit the projection to them. */
export async function fitLatentRgbFromDecoder(
  decode: (latent: Tensor) => Promise<Tensor>,
  itemShape: readonly number[],
  count = 16,
): Promise<LatentRgb> {
  const latents = randomNormal([count, ...itemShape], 0, 'float32');
  return fitLatentRgb(latents, await decode(latents));
}
