import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { fitLatentRgb } from '../src/image/latent-rgb.ts';
import { latentToImage, DEFAULT_LATENT_RGB_BIAS, DEFAULT_LATENT_RGB_MATRIX } from '../src/image/latent-preview.ts';
import { randomNormal } from '../src/noise/philox.ts';
import { ModelStore } from '../src/runtime/model-store.ts';
import { loadPipeline } from '../src/models/onnx/pipeline.ts';

/** Mean absolute difference between a latent preview and the decoded image, both at latent resolution. */
function previewError(latents: Tensor, images: Tensor, matrix: readonly (readonly number[])[], bias: readonly number[]): number {
  const preview = latentToImage(latents, matrix, bias, 1);
  const [n, , h, w] = latents.shape;
  const s = images.shape[2] / h;
  let total = 0;
  for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let mean = 0;
    for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) mean += images.data[((i * 3 + c) * images.shape[2] + y * s + dy) * images.shape[3] + x * s + dx];
    total += Math.abs(preview.data[((i * 3 + c) * h + y) * w + x] - mean / (s * s));
  }
  return total / (n * 3 * h * w);
}

describe('fitted latent → RGB projection', () => {
  it('recovers a linear decoder exactly', () => {
    const M = [[0.3, -0.1, 0.05], [0.0, 0.2, -0.3], [0.1, 0.1, 0.1]];
    const b = [0.5, 0.4, 0.6];
    const latents = randomNormal([6, 3, 4, 5], 3, 'float64');
    // A "decoder" that paints M·z + b into 2×2 blocks.
    const images = Tensor.zeros([6, 3, 8, 10], 'float64');
    for (let i = 0; i < 6; i++) for (let c = 0; c < 3; c++) for (let y = 0; y < 8; y++) for (let x = 0; x < 10; x++) {
      let v = b[c];
      for (let k = 0; k < 3; k++) v += M[c][k] * latents.data[((i * 3 + k) * 4 + (y >> 1)) * 5 + (x >> 1)];
      images.data[((i * 3 + c) * 8 + y) * 10 + x] = v;
    }
    const fit = fitLatentRgb(latents, images);
    expect(fit.scale).toBe(2);
    fit.matrix.forEach((row, c) => row.forEach((v, k) => expect(v).toBeCloseTo(M[c][k], 10)));
    fit.bias.forEach((v, c) => expect(v).toBeCloseTo(b[c], 10));
  });

  const pack = path.resolve(fileURLToPath(new URL('../../../models', import.meta.url)));
  // The pack is committed: a missing pack fails here rather than skipping.
  it('on the default pack it previews decoded images far better than the SD factors', async () => {
    const store = new ModelStore({ roots: [pack] });
    const pipeline = await loadPipeline(store, 'shapes-32', () => {});
    const fit = await pipeline.model.latentRgb!();
    expect(fit.scale).toBe(4);
    const latents = randomNormal([8, 4, 8, 8], 99, 'float32');
    const images = await pipeline.vae.decode(latents);
    const fitted = previewError(latents, images, fit.matrix, fit.bias);
    const sd = previewError(latents, images, DEFAULT_LATENT_RGB_MATRIX, DEFAULT_LATENT_RGB_BIAS);
    expect(fitted).toBeLessThan(0.5 * sd);
    expect(await pipeline.model.latentRgb!()).toBe(fit); // computed once
  });
});
