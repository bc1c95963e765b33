/**
 * The ComfyUI samplers the import maps onto other solvers compute what ComfyUI's do: its `ddpm`
 * (generic_step_sampler with DDPMSampler_step) and `lcm` (sample_lcm), written here as ComfyUI writes
 * them on k-diffusion's VE state x/alpha, against the Solver settings COMFY_SAMPLERS gives them, on the
 * exact denoiser of an analytic mixture, over the grid a KSampler with scheduler "normal" converts to,
 * with the same per-step noise.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, combine } from '@diffgraph/engine';
import { buildGrid, GaussianMixture, gaussianMixtureModel, makeNoiseSchedule, makeSolver } from '@diffgraph/nodes';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../src/comfy/samplers.ts';

const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
const gmm = new GaussianMixture({ weights: [0.3, 0.7], means: [[1, -1, 0.5], [-1, 0.5, 1]], stds: [0.3, 0.5] });
const model = gaussianMixtureModel(gmm, schedule, 'float64');
const STEPS = 6;
const grid = buildGrid(schedule, { spacing: COMFY_SCHEDULERS.normal as 'comfy_normal', steps: STEPS, denoise: 1, rho: 7 });
const start = Tensor.from([4, 3], [0.3, -1.2, 0.8, 1.5, 0.1, -0.4, -0.9, 0.6, 1.1, 0.2, -0.7, -1.3], 'float64');
/** Step i's noise, the same for both sides. */
const noises = Array.from({ length: STEPS }, (_, i) => Tensor.from([4, 3], Array.from({ length: 12 }, (_, j) => Math.sin(7.1 * i + 1.3 * j + 0.5)), 'float64'));

/** ComfyUI's model(x, sigma) on the VE state: x0 of the VP state x·alpha at the time of that sigma. */
const denoisedVe = (xVe: Tensor, t: number) => model.predictX0(combine([schedule.alpha(t)], [xVe]), t);
const sigmaVe = (t: number) => schedule.sigma(t) / schedule.alpha(t);

async function ours(sampler: string): Promise<Tensor> {
  const { kind, ...settings } = COMFY_SAMPLERS[sampler]! as { kind: string } & Record<string, unknown>;
  const solve = makeSolver(kind as never, { order: 1, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1, ...settings } as never);
  return solve({ denoiser: (x, t) => model.predictX0(x, t), schedule, x: combine([schedule.alpha(grid.times[0])], [start]), times: grid.times, spacing: grid.spacing, noise: (_like, step) => noises[step] });
}

describe('ComfyUI samplers mapped onto ours', () => {
  it('the grid of scheduler "normal" has its steps and ends at sigma 0, as ComfyUI\'s', () => {
    expect(grid.times).toHaveLength(STEPS + 1);
    expect(schedule.sigma(grid.times[STEPS])).toBe(0);
  });

  it('ddpm: DDPMSampler_step on every step equals DDIM with eta 1', async () => {
    let x = start;
    for (let i = 0; i < STEPS; i++) {
      const [t, next] = [grid.times[i], grid.times[i + 1]];
      const [sigma, sigmaPrev] = [sigmaVe(t), sigmaVe(next)];
      const denoised = await denoisedVe(x, t);
      const eps = combine([1 / sigma, -1 / sigma], [x, denoised]);
      const xVp = combine([1 / Math.sqrt(1 + sigma ** 2)], [x]);
      const alphaCumprod = 1 / (sigma * sigma + 1);
      const alphaCumprodPrev = 1 / (sigmaPrev * sigmaPrev + 1);
      const alpha = alphaCumprod / alphaCumprodPrev;
      let mu = combine([Math.sqrt(1 / alpha), -Math.sqrt(1 / alpha) * (1 - alpha) / Math.sqrt(1 - alphaCumprod)], [xVp, eps]);
      if (sigmaPrev > 0) mu = combine([1, Math.sqrt(((1 - alpha) * (1 - alphaCumprodPrev)) / (1 - alphaCumprod))], [mu, noises[i]]);
      x = sigmaPrev !== 0 ? combine([Math.sqrt(1 + sigmaPrev ** 2)], [mu]) : mu;
    }
    const got = await ours('ddpm');
    for (let k = 0; k < x.size; k++) expect(got.data[k]).toBeCloseTo(x.data[k], 9);
  });

  it('lcm: sample_lcm (x0, re-noised to the next sigma; x0 at the end) equals the consistency solver', async () => {
    let x = start;
    for (let i = 0; i < STEPS; i++) {
      const [t, next] = [grid.times[i], grid.times[i + 1]];
      x = await denoisedVe(x, t);
      if (sigmaVe(next) > 0) x = combine([1, sigmaVe(next)], [x, noises[i]]);
    }
    const got = await ours('lcm');
    for (let k = 0; k < x.size; k++) expect(got.data[k]).toBeCloseTo(x.data[k], 9);
    // Not just x0 of the start: the re-noised steps matter.
    const oneStep = await model.predictX0(combine([schedule.alpha(grid.times[0])], [start]), grid.times[0]);
    expect(Math.max(...Array.from(got.data, (v, k) => Math.abs(v - oneStep.data[k])))).toBeGreaterThan(1e-3);
  });
});
