/**
 * Inpainting by replacement on the exact Gaussian-mixture model: the known coordinates are pinned,
 * the unknown ones are completed from the component the known ones imply.
 */
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import { basicGuider, buildGrid, createRegistry, GaussianMixture, gaussianMixtureModel, makeSolver, sample, seededNoise } from '../src/index.ts';
import type { Guider, Solver } from '../src/contracts/sampling.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { inpaintGuider } from '../src/sampling/inpaint-guider.ts';
import { inpaintComposite } from '../src/sampling/inpaint-composite.ts';
import { broadcastTo, fitMask } from '../src/image/inpaint-mask.ts';
import { randomNormal } from '../src/noise/philox.ts';
import type { SolverKind, SolverSettings } from '../src/solvers/catalog.ts';
import { isolatedServices } from './services.ts';

/**
 * Four well-separated components in R^4: coordinates 0–1 (known) identify the component, 2–3 (to be
 * completed) differ with it, 10 standard deviations apart. The known coordinates are the more
 * separated ones so they settle the component before the unknown ones commit: with equal separation
 * plain replacement picks the wrong component in about a third of the samples (the committed unknown
 * coordinates cannot be corrected later) — the weakness the TPM constraint addresses.
 */
const MIXTURE = {
  weights: [0.3, 0.3, 0.2, 0.2],
  means: [[3, 3, 1, -1], [3, -3, -1, 1], [-3, 3, -1, -1], [-3, -3, 1, 1]],
  stds: [0.2, 0.2, 0.2, 0.2],
};
const gmm = new GaussianMixture(MIXTURE);
const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
const model = gaussianMixtureModel(gmm, schedule, 'float64');
const N = 256;
const KNOWN = [0, 1];
const mask = Tensor.from([1, 4], [0, 0, 1, 1], 'float64'); // 1 = repaint

/** N exact samples of the mixture and their components (seeded, so the test is deterministic). */
function groundTruth(): { x: Tensor; component: number[] } {
  const u = randomNormal([N, 1], 11, 'float64', 0); // component choice via the normal CDF of a draw
  const n = randomNormal([N, 4], 12, 'float64', 0);
  const x = Tensor.zeros([N, 4], 'float64');
  const component: number[] = [];
  for (let b = 0; b < N; b++) {
    const p = 0.5 * (1 + erf(u.data[b] / Math.SQRT2));
    let k = 0;
    for (let acc = MIXTURE.weights[0]; p > acc && k < 3; acc += MIXTURE.weights[++k]);
    component.push(k);
    for (let d = 0; d < 4; d++) x.data[b * 4 + d] = MIXTURE.means[k][d] + MIXTURE.stds[k] * n.data[b * 4 + d];
  }
  return { x, component };
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7): plenty to pick a component.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496735) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

const settings: SolverSettings = { order: 2, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 };
const solverOf = (kind: SolverKind): Solver => ({ kind, solve: makeSolver(kind, settings) });

async function inpaint(kind: SolverKind, spacing: 'logSNR' | 'karras', guider: Guider, original: Tensor) {
  return sample({
    guider,
    solver: solverOf(kind),
    grid: buildGrid(schedule, { spacing, steps: 20, denoise: 1, rho: 7 }),
    latent: original,
    noise: seededNoise(1),
    addNoise: true,
    startScale: 'unit',
  });
}

/** The component whose means are nearest on the given coordinates. */
function nearest(x: Tensor, b: number, dims: number[]): number {
  let best = 0, bestD = Infinity;
  MIXTURE.means.forEach((mu, k) => {
    const d = dims.reduce((s, i) => s + (x.data[b * 4 + i] - mu[i]) ** 2, 0);
    if (d < bestD) [best, bestD] = [k, d];
  });
  return best;
}

function maxKnownError(x: Tensor, original: Tensor): number {
  let m = 0;
  for (let b = 0; b < N; b++) for (const d of KNOWN) m = Math.max(m, Math.abs(x.data[b * 4 + d] - original.data[b * 4 + d]));
  return m;
}

describe('InpaintGuider on an exact Gaussian mixture', () => {
  const { x: original, component } = groundTruth();

  it.each([['euler'], ['dpmpp_2m'], ['heun']] as const)('%s on a karras grid (ends at sigma = 0) returns the known coordinates exactly and completes the rest from the implied component', async (kind) => {
    const guider = inpaintGuider(basicGuider(model), original, mask, seededNoise(1));
    const { samples } = await inpaint(kind, 'karras', guider, original);
    expect(maxKnownError(samples, original)).toBeLessThanOrEqual(1e-9);
    let match = 0;
    const residuals: number[] = [];
    for (let b = 0; b < N; b++) {
      expect(Number.isFinite(samples.data[b * 4 + 2]) && Number.isFinite(samples.data[b * 4 + 3])).toBe(true);
      const k = nearest(samples, b, [2, 3]);
      if (k === component[b]) {
        match++;
        for (const d of [2, 3]) residuals.push(samples.data[b * 4 + d] - MIXTURE.means[k][d]);
      }
    }
    expect(match / N).toBeGreaterThanOrEqual(0.95);
    // Within the right component the completion has about the component's spread (0.2), not collapsed to the mean.
    const sd = Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / residuals.length);
    expect(sd).toBeGreaterThan(0.12);
    expect(sd).toBeLessThan(0.28);
  });

  it('with DPM-Solver++ on a logSNR grid (ends at tMin > 0) the denoised output and InpaintComposite are exact', async () => {
    const guider = inpaintGuider(basicGuider(model), original, mask, seededNoise(1));
    const { samples, denoised } = await inpaint('dpmsolver++', 'logSNR', guider, original);
    expect(maxKnownError(denoised, original)).toBe(0);
    expect(maxKnownError(inpaintComposite(samples, original, mask), original)).toBe(0);
    let match = 0;
    for (let b = 0; b < N; b++) if (nearest(samples, b, [2, 3]) === component[b]) match++;
    expect(match / N).toBeGreaterThanOrEqual(0.95);
  });

  it('without the guider the same sampler ignores the known coordinates (the test can fail)', async () => {
    const { samples } = await inpaint('dpmpp_2m', 'karras', basicGuider(model), original);
    let match = 0;
    for (let b = 0; b < N; b++) if (nearest(samples, b, [0, 1]) === component[b]) match++;
    expect(match / N).toBeLessThan(0.6);
    expect(maxKnownError(samples, original)).toBeGreaterThan(0.5);
  });

  it('runs as a node in a workflow (batch-1 mask and latent broadcast over the batch)', async () => {
    const registry = createRegistry();
    registry.declareSubtype('TENSOR', 'MASK');
    const link = (from: string, output: string) => ({ from, output });
    const one = Array.from(original.data.slice(0, 4));
    const wf: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        model: { type: 'GaussianMixtureModel', inputs: { mixture: MIXTURE, schedule: 'scaled_linear' } },
        base: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
        original: { type: 'LoadTensor', inputs: { path: 'original.json' } },
        mask: { type: 'LoadTensor', inputs: { path: 'mask.json' } },
        guider: { type: 'InpaintGuider', inputs: { guider: link('base', 'guider'), latent: link('original', 'tensor'), mask: link('mask', 'tensor'), noise: link('noise', 'noise') } },
        empty: { type: 'EmptyLatent', inputs: { batch: 64, model: link('model', 'model') } },
        noise: { type: 'RandomNoise', inputs: { seed: 3 } },
        schedule: { type: 'Schedule', inputs: { model: link('model', 'model'), spacing: 'karras', steps: 20 } },
        solver: { type: 'Solver', inputs: { kind: 'dpmpp_2m' } },
        sample: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('schedule', 'sigmas'), latent: link('empty', 'latent') } },
      },
      outputs: ['sample'],
    };
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-inpaint-'));
    try {
      writeFileSync(path.join(dir, 'original.json'), JSON.stringify({ shape: [1, 4], dtype: 'float64', data: one }));
      writeFileSync(path.join(dir, 'mask.json'), JSON.stringify({ shape: [1, 4], dtype: 'float64', data: [0, 0, 1, 1] }));
      const result = await new Executor(registry).run(wf, { services: { ...isolatedServices(), inputRoots: [dir] } });
      const out = result.outputs.sample;
      if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
      const x = out.values.samples as Tensor;
      expect(x.shape).toEqual([64, 4]);
      for (let b = 0; b < 64; b++) {
        for (const d of KNOWN) expect(Math.abs(x.data[b * 4 + d] - one[d])).toBeLessThanOrEqual(1e-9);
        expect(nearest(x, b, [2, 3])).toBe(component[0]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('mask fitting', () => {
  it('area-averages an image-resolution MASK to the latent grid and broadcasts it over channels and batch', () => {
    // 1×1×4×4 mask: left half repaint, plus one extra pixel → latent 2×2 cells get 1, 0, 1, 0.25.
    const m = Tensor.from([1, 1, 4, 4], [1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 1]);
    const fitted = fitMask(m, [2, 4, 2, 2], 'test');
    expect(fitted.length).toBe(32);
    for (let b = 0; b < 2; b++) for (let c = 0; c < 4; c++) expect(Array.from(fitted.slice((b * 4 + c) * 4, (b * 4 + c + 1) * 4))).toEqual([1, 0, 1, 0.25]);
  });

  it('broadcasts per numpy rules and names the input on mismatch', () => {
    expect(Array.from(broadcastTo(Tensor.from([2, 1], [1, 2]), [2, 3], 'x'))).toEqual([1, 1, 1, 2, 2, 2]);
    expect(() => fitMask(Tensor.zeros([3, 4]), [2, 4], 'InpaintGuider input "mask"')).toThrow(/InpaintGuider input "mask": .* does not broadcast/);
    expect(() => fitMask(Tensor.zeros([1, 1, 4, 4]), [2, 4], 'InpaintGuider input "mask"')).toThrow(/rank/);
  });

  it('the node refuses a mask that cannot fit the latent before any sampling', async () => {
    const { InpaintGuider } = await import('../src/sampling/inpaint-guider.ts');
    const run = () => InpaintGuider.run({ guider: basicGuider(model), latent: Tensor.zeros([1, 4], 'float64'), mask: Tensor.zeros([1, 3]), seed: 0 }, {} as never);
    expect(run).toThrow(/InpaintGuider input "mask"/);
  });
});
