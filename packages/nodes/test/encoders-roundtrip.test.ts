/**
 * Encoders on the exact Gaussian mixture: the DPM-Encoder's noises make a DDIM(eta) Sample reproduce
 * its input to float64 rounding (any start convention, full or partial denoise, through nodes too);
 * decoding them under another condition translates (CycleDiffusion); DDIM inversion followed by DDIM
 * sampling reconstructs, converging with the step count (and with `refine` at few steps).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Executor, maxAbsDiff, Tensor, type Workflow } from '@diffgraph/engine';
import { basicGuider, buildGrid, createRegistry, GaussianMixture, gaussianMixtureModel, makeSolver, sample, seededNoise } from '../src/index.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { dpmEncode } from '../src/encoders/dpm-encode.ts';
import { ddimInvert } from '../src/encoders/ddim-inversion.ts';
import type { Guider } from '../src/contracts/sampling.ts';
import { isolatedServices } from './services.ts';

const params = { weights: [0.5, 0.3, 0.2], means: [[-1.5, 0.5, 0.2], [1.2, 1.0, -0.4], [0.3, -1.4, 0.9]], stds: [0.25, 0.15, 0.35] };
const gmm = new GaussianMixture(params);
const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
const model = gaussianMixtureModel(gmm, schedule, 'float64');
const guider = basicGuider(model);
const settings = (eta: number) => ({ order: 1 as const, method: 'multistep' as const, lowerOrderFinal: true, variant: 'bh2' as const, prediction: 'data' as const, eta, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 });
const ddimSolver = (eta: number) => ({ kind: 'ddim', solve: makeSolver('ddim', settings(eta)) });

/** Clean data: the model's own samples (a 40-step deterministic run). */
async function data(n: number, g: Guider = guider): Promise<Tensor> {
  const grid = buildGrid(schedule, { spacing: 'logSNR', steps: 40, denoise: 1, rho: 7 });
  return (await sample({ guider: g, solver: ddimSolver(0), grid, latent: Tensor.zeros([n, 3], 'float64'), noise: seededNoise(1), addNoise: true, startScale: 'unit' })).samples;
}

describe('DPMEncode', () => {
  it.each([
    ['eta 0.1, full denoise, unit start', 0.1, 1, 'unit'],
    ['eta 1 (DDPM posterior), full denoise, sigma start', 1, 1, 'sigma'],
    ['eta 0.3, denoise 0.6 (img2img strength)', 0.3, 0.6, 'unit'],
  ] as const)('round trip reconstructs its input to ≤ 1e-9 (%s)', async (_, eta, denoise, startScale) => {
    const x0 = await data(16);
    const grid = buildGrid(schedule, { spacing: 'logSNR', steps: 25, denoise, rho: 7 });
    const code = await dpmEncode({ guider, x0, times: grid.times, eta, noise: seededNoise(5), startScale });
    expect(code.streams).toHaveLength(26);
    // Through the noise (Sample adds it to the image) and through the start latent (add_noise off).
    const viaNoise = await sample({ guider, solver: ddimSolver(eta), grid, latent: x0, noise: code.noise, addNoise: true, startScale });
    const viaLatent = await sample({ guider, solver: ddimSolver(eta), grid, latent: code.start, noise: code.noise, addNoise: false, startScale });
    expect(maxAbsDiff(viaNoise.samples, x0)).toBeLessThanOrEqual(1e-9);
    expect(maxAbsDiff(viaLatent.samples, x0)).toBeLessThanOrEqual(1e-9);
    console.log(`DPMEncode round trip (${_}): max error ${maxAbsDiff(viaNoise.samples, x0).toExponential(2)}`);
  });

  it('decoding under another condition translates (CycleDiffusion): component 0 → component 1', async () => {
    const source = gaussianMixtureModel(gmm, schedule, 'float64');
    const src: Guider = basicGuider(source, { components: [0] }), trg: Guider = basicGuider(source, { components: [1] });
    const x0 = await data(32, src);
    const grid = buildGrid(schedule, { spacing: 'logSNR', steps: 50, denoise: 0.8, rho: 7 });
    const code = await dpmEncode({ guider: src, x0, times: grid.times, eta: 0.1, noise: seededNoise(2) });
    const out = (await sample({ guider: trg, solver: ddimSolver(0.1), grid, latent: x0, noise: code.noise, addNoise: true, startScale: 'unit' })).samples;
    // Every translated point lies near component 1 (std 0.15): within 4 std per coordinate of its mean.
    for (let b = 0; b < 32; b++) for (let d = 0; d < 3; d++) expect(Math.abs(out.data[b * 3 + d] - params.means[1][d])).toBeLessThan(0.6);
  });

  it('refuses settings that cannot reproduce the input, with clear messages', async () => {
    const x0 = await data(2);
    const karras = buildGrid(schedule, { spacing: 'karras', steps: 10, denoise: 1, rho: 7 });
    await expect(dpmEncode({ guider, x0, times: karras.times, eta: 0.5, noise: seededNoise(0) })).rejects.toThrow(/ends above sigma = 0/);
    const grid = buildGrid(schedule, { spacing: 'logSNR', steps: 5, denoise: 1, rho: 7 });
    await expect(dpmEncode({ guider, x0, times: grid.times, eta: 0, noise: seededNoise(0) })).rejects.toThrow(/eta must be > 0/);
    const code = await dpmEncode({ guider, x0, times: grid.times, eta: 0.5, noise: seededNoise(0) });
    expect(() => code.noise.sample(x0, 6)).toThrow(/streams 0..5, asked for 6/);
    expect(() => code.noise.sample(Tensor.zeros([3, 3], 'float64'), 1)).toThrow(/asks for \[3, 3\]/);
  });
});

describe('DDIMInversion', () => {
  it('invert → sample on the exact GMM reconstructs, converging as the steps grow', async () => {
    const x0 = await data(16);
    const errors: number[] = [];
    for (const steps of [10, 40, 160]) {
      const grid = buildGrid(schedule, { spacing: 'logSNR', steps, denoise: 1, rho: 7 });
      const xT = await ddimInvert({ guider, x0, times: grid.times });
      const back = (await sample({ guider, solver: ddimSolver(0), grid, latent: xT, noise: seededNoise(0), addNoise: false, startScale: 'unit' })).samples;
      errors.push(maxAbsDiff(back, x0));
    }
    console.log('DDIM inversion round-trip max error at 10/40/160 steps', errors);
    expect(errors[1]).toBeLessThan(errors[0]);
    expect(errors[2]).toBeLessThan(errors[1]);
    // The classic inversion is first order: ×4 steps cut the error ≈ ×4 (points near decision
    // boundaries dominate the max; the median is ~5× smaller).
    expect(errors[2]).toBeLessThan(0.05);
    expect(errors[2]).toBeLessThan(errors[1] / 3);
  });

  it('with fixed-point refinement, 40 steps reconstruct to 1e-8; on Gaussian data it gives the analytic ODE map', async () => {
    const x0 = await data(16);
    const grid = buildGrid(schedule, { spacing: 'logSNR', steps: 40, denoise: 1, rho: 7 });
    const xT = await ddimInvert({ guider, x0, times: grid.times, refine: 10 });
    const back = (await sample({ guider, solver: ddimSolver(0), grid, latent: xT, noise: seededNoise(0), addNoise: false, startScale: 'unit' })).samples;
    expect(maxAbsDiff(back, x0)).toBeLessThanOrEqual(1e-8);

    // One Gaussian N(m, τ²I): the probability-flow map is x_T = a_T·m + √(a_T²τ² + s_T²)·(x0 − m)/τ;
    // plain DDIM inversion (first order) converges to it as the grid is refined.
    const m = [0.4, -0.2, 1.0], tau = 0.5;
    const gauss = basicGuider(gaussianMixtureModel(new GaussianMixture({ weights: [1], means: [m], stds: [tau] }), schedule, 'float64'));
    const y0 = Tensor.from([2, 3], [0.1, 0.3, 1.5, 0.9, -0.6, 0.2], 'float64');
    const mapErrors: number[] = [];
    for (const steps of [25, 100, 400]) {
      const fine = buildGrid(schedule, { spacing: 'logSNR', steps, denoise: 1, rho: 7 });
      const yT = await ddimInvert({ guider: gauss, x0: y0, times: fine.times });
      const t0 = fine.times[0], tN = fine.times.at(-1)!;
      const [aT, sT, aN, sN] = [schedule.alpha(t0), schedule.sigma(t0), schedule.alpha(tN), schedule.sigma(tN)];
      // y0 is the state at tN > 0: its standardised coordinate is kept by the flow.
      const mapped = Array.from(y0.data, (v, i) => aT * m[i % 3] + Math.sqrt(aT * aT * tau * tau + sT * sT) * (v - aN * m[i % 3]) / Math.sqrt(aN * aN * tau * tau + sN * sN));
      mapErrors.push(Math.max(...mapped.map((v, i) => Math.abs(yT.data[i] - v))));
    }
    console.log('DDIM inversion vs the analytic Gaussian ODE map at 25/100/400 steps', mapErrors);
    expect(mapErrors[1]).toBeLessThan(mapErrors[0] / 3);
    expect(mapErrors[2]).toBeLessThan(mapErrors[1] / 3);
    expect(mapErrors[2]).toBeLessThan(0.01);
  });
});

describe('encoder nodes', () => {
  it('the CycleDiffusion workflow runs, and decoding with the source guider reproduces the source', async () => {
    const file = fileURLToPath(new URL('../../../workflows/cycle-diffusion-gmm.json', import.meta.url));
    const wf = JSON.parse(readFileSync(file, 'utf8')) as Workflow;
    // Swap the decoder's guider for the source one: the round trip must be exact.
    wf.nodes.translate.inputs = { ...wf.nodes.translate.inputs, guider: { from: 'source_guider', output: 'guider' } };
    wf.outputs = ['images', 'translate'];
    const result = await new Executor(createRegistry()).run(wf, { services: isolatedServices() });
    const values = (id: string) => {
      const r = result.outputs[id];
      if (r.status !== 'succeeded') throw new Error(JSON.stringify(r));
      return (r.values as { samples: Tensor }).samples;
    };
    expect(maxAbsDiff(values('translate'), values('images'))).toBeLessThanOrEqual(1e-9);
  });

  it('DDIMInversion feeds Sample (add_noise off) through a workflow', async () => {
    const link = (from: string, output: string) => ({ from, output });
    const wf: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        model: { type: 'GaussianMixtureModel', inputs: { schedule: 'scaled_linear' } },
        guider: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
        sigmas: { type: 'Schedule', inputs: { model: link('model', 'model'), steps: 30 } },
        ddim: { type: 'Solver', inputs: { kind: 'ddim' } },
        noise: { type: 'RandomNoise', inputs: { seed: 3 } },
        latent: { type: 'EmptyLatent', inputs: { model: link('model', 'model'), batch: 8 } },
        images: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('ddim', 'solver'), sigmas: link('sigmas', 'sigmas'), latent: link('latent', 'latent') } },
        invert: { type: 'DDIMInversion', inputs: { guider: link('guider', 'guider'), sigmas: link('sigmas', 'sigmas'), latent: link('images', 'samples'), refine: 10 } },
        back: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('ddim', 'solver'), sigmas: link('sigmas', 'sigmas'), latent: link('invert', 'latent'), add_noise: false } },
      },
      outputs: ['images', 'back'],
    };
    const result = await new Executor(createRegistry()).run(wf, { services: isolatedServices() });
    const get = (id: string) => (result.outputs[id] as unknown as { values: { samples: Tensor } }).values.samples;
    expect(maxAbsDiff(get('back'), get('images'))).toBeLessThan(1e-6);
  });
});

