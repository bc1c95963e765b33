/** LatentPreview, the sampling preview hook, and resizing. */
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type NodeContext, type Workflow } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { DEFAULT_LATENT_RGB_MATRIX, latentPreviewHook, latentPreviewPng, latentToImage, LatentPreview } from '../src/image/latent-preview.ts';
import { decodePng } from '../src/image/png.ts';
import { resize2d } from '../src/image/resize.ts';
import { randomNormal } from '../src/noise/philox.ts';
import type { PngPreview } from '../src/image/image-nodes.ts';
import { isolatedServices } from './services.ts';

function fakeContext(): { ctx: NodeContext; previews: unknown[]; logs: string[] } {
  const previews: unknown[] = [];
  const logs: string[] = [];
  const ctx: NodeContext = {
    runId: 'r', nodeId: 'n', signal: new AbortController().signal, services: {},
    progress: () => {}, preview: (image) => previews.push(image), log: (m) => logs.push(m),
  };
  return { ctx, previews, logs };
}

describe('LatentPreview', () => {
  it('maps a [B, 4, h, w] latent to an IMAGE [B, 3, h·f, w·f] in [0, 1] by matrix · z + bias, nearest-upsampled', async () => {
    const latent = randomNormal([2, 4, 3, 5], 7, 'float32', 0);
    const node = await LatentPreview.run({ latent, matrix: DEFAULT_LATENT_RGB_MATRIX, bias: [0.5, 0.5, 0.5], scale: 4 }, fakeContext().ctx);
    const image = node.image as Tensor;
    expect(image.shape).toEqual([2, 3, 12, 20]);
    expect(image.dtype).toBe('float32');
    expect(image.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    // Pixel (b=1, c=2, y=2, x=3) of the latent grid fills the 4×4 block at (8..11, 12..15).
    const z = [0, 1, 2, 3].map((k) => latent.data[((1 * 4 + k) * 3 + 2) * 5 + 3]);
    const expected = Math.min(1, Math.max(0, 0.5 + DEFAULT_LATENT_RGB_MATRIX[2].reduce((s, m, k) => s + m * z[k], 0)));
    for (let y = 8; y < 12; y++) for (let x = 12; x < 16; x++) expect(image.data[((1 * 3 + 2) * 12 + y) * 20 + x]).toBeCloseTo(expected, 6);
  });

  it('runs in a workflow with its defaults (SD factors, scale 8)', async () => {
    const registry = createRegistry();
    const wf: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        latent: { type: 'EmptyLatent', inputs: { shape: [4, 2, 3] } },
        preview: { type: 'LatentPreview', inputs: { latent: { from: 'latent', output: 'latent' } } },
      },
      outputs: ['preview'],
    };
    const result = await new Executor(registry).run(wf, { services: isolatedServices() });
    const out = result.outputs.preview;
    if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
    const image = out.values.image as Tensor;
    expect(image.shape).toEqual([1, 3, 16, 24]);
    expect(image.data.every((v) => Math.abs(v - 0.5) < 1e-7)).toBe(true); // zero latent → the bias
  });

  it('rejects a matrix that does not match the latent channels, naming the node', () => {
    const latent = Tensor.zeros([1, 3, 2, 2]);
    expect(() => LatentPreview.run({ latent, matrix: DEFAULT_LATENT_RGB_MATRIX, bias: [0, 0, 0], scale: 1 }, fakeContext().ctx)).toThrow(/LatentPreview: "matrix" must be 3 rows .* of 3 finite numbers/);
    expect(() => latentToImage(Tensor.zeros([1, 4]), DEFAULT_LATENT_RGB_MATRIX, [0, 0, 0])).toThrow(/LATENT \[B, C, h, w\]/);
  });
});

describe('latentPreviewPng and the sampling hook', () => {
  it('encodes one batch item as a PNG of the projected latent', () => {
    const latent = randomNormal([3, 4, 4, 6], 1, 'float64', 0);
    const p = latentPreviewPng(latent, DEFAULT_LATENT_RGB_MATRIX, [0.5, 0.5, 0.5], 2, 2);
    expect([p.format, p.width, p.height, p.index]).toEqual(['png', 12, 8, 2]);
    const decoded = decodePng(p.data).image;
    const direct = latentToImage(new Tensor([1, 4, 4, 6], latent.data.slice(2 * 96)), DEFAULT_LATENT_RGB_MATRIX, [0.5, 0.5, 0.5], 2);
    decoded.data.forEach((v, i) => expect(Math.abs(v - direct.data[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-6));
  });

  it('sends a preview every k steps and after the last, and skips non-image latents', () => {
    const { ctx, previews } = fakeContext();
    const hook = latentPreviewHook(ctx, { every: 3, scale: 2 });
    const x0 = Tensor.zeros([1, 4, 2, 2]);
    for (let step = 0; step < 10; step++) hook(step, 10, x0);
    expect(previews).toHaveLength(4); // after steps 3, 6, 9 (1-based) and the last (10)
    expect((previews[0] as PngPreview).width).toBe(4);
    const flat = fakeContext();
    const flatHook = latentPreviewHook(flat.ctx);
    flatHook(0, 1, Tensor.zeros([2, 4]));
    expect(flat.previews).toHaveLength(0);
  });

  it('keeps the cadence when steps advance by several (singlestep solvers report model calls)', () => {
    const { ctx, previews } = fakeContext();
    const hook = latentPreviewHook(ctx, { every: 4, scale: 2 });
    // Third-order outer steps of a 20-call budget end after calls 3, 6, 9, 12, 15, 18, 20.
    for (const calls of [3, 6, 9, 12, 15, 18, 20]) hook(calls - 1, 20, Tensor.zeros([1, 4, 2, 2]));
    expect(previews).toHaveLength(5); // crossing 4, 8, 12, 16 and the last
  });

  it('disables itself with one log line instead of failing the run on a bad projection', () => {
    const { ctx, previews, logs } = fakeContext();
    const hook = latentPreviewHook(ctx, { matrix: [[1], [1], [1]] });
    for (let step = 0; step < 3; step++) hook(step, 3, Tensor.zeros([1, 4, 2, 2]));
    expect(previews).toHaveLength(0);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/latent preview disabled/);
  });
});

describe('resize2d', () => {
  const t = Tensor.from([1, 1, 2, 4], [1, 2, 3, 4, 5, 6, 7, 8], 'float64');

  it('area-averages blocks when shrinking by an integer factor', () => {
    expect(Array.from(resize2d(t, 1, 2, 'area').data)).toEqual([3.5, 5.5]);
  });

  it('area-averages partial cells for non-integer ratios (the mean is preserved)', () => {
    const r = resize2d(t, 2, 3, 'area');
    const mean = (x: Tensor) => Array.from(x.data).reduce((a, b) => a + b, 0) / x.size;
    expect(mean(r)).toBeCloseTo(mean(t), 12);
    expect(r.data[0]).toBeCloseTo(0.75 * 1 + 0.25 * 2, 12); // cell [0, 4/3) covers pixel 0 fully, a third of pixel 1
  });

  it('repeats pixels when upsampling by an integer factor with nearest', () => {
    expect(Array.from(resize2d(Tensor.from([1, 2], [1, 2]), 2, 4, 'nearest').data)).toEqual([1, 1, 2, 2, 1, 1, 2, 2]);
  });

  it('interpolates with half-pixel centres for bilinear', () => {
    expect(Array.from(resize2d(Tensor.from([1, 2], [0, 1], 'float64'), 1, 4, 'bilinear').data)).toEqual([0, 0.25, 0.75, 1]);
  });
});
