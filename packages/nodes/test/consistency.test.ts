/**
 * Consistency / LCM sampling: the boundary scalings, LCMScheduler configs read into the auto grid, and on
 * the analytic mixture — where the exact consistency function is the exact ODE solution map to t = 0 —
 * one step lands on the exact ODE solution and several steps keep the exact marginal.
 */
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type EngineEvent, type Workflow } from '@diffgraph/engine';
import { basicGuider, createRegistry, gaussianMixtureModel, sample } from '../src/index.ts';
import { GaussianMixture } from '../src/models/gmm.ts';
import { componentShares, mixtureMoments, sampleMoments } from '../src/models/gmm-quality.ts';
import { schedulerFromConfig } from '../src/models/onnx/scheduler-config.ts';
import { exactProbabilityFlow } from '../src/sampling/exact-ode.ts';
import { MixtureConsistencyModel, mixtureConsistencyModel } from '../src/sampling/consistency-model.ts';
import { buildGrid } from '../src/schedules/schedule-node.ts';
import { lcmTimesteps } from '../src/schedules/lcm-grid.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { consistencySample, lcmBoundaryScalings } from '../src/solvers/consistency.ts';
import { makeSolver, type SolverSettings } from '../src/solvers/catalog.ts';
import { randomNormal } from '../src/noise/philox.ts';
import { seededNoise } from '../src/noise/noise-nodes.ts';
import { isolatedServices } from './services.ts';

const gmm = new GaussianMixture({ weights: [0.5, 0.3, 0.2], means: [[-1.5, 0.5], [1.2, 1.0], [0.3, -1.4]], stds: [0.25, 0.15, 0.35] });
const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
const model = gaussianMixtureModel(gmm, schedule, 'float64');
const exactConsistency = mixtureConsistencyModel(model);
const SD_LCM_CONFIG = {
  _class_name: 'LCMScheduler', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: 1000,
  original_inference_steps: 50, timestep_scaling: 10, set_alpha_to_one: true, prediction_type: 'epsilon', timestep_spacing: 'leading', steps_offset: 1,
};
const settings = (s: Partial<SolverSettings> = {}): SolverSettings => ({ order: 1, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1, ...s });
const maxAbsDiff = (a: Tensor, b: Tensor) => Array.from(a.data).reduce((m, v, i) => Math.max(m, Math.abs(v - b.data[i])), 0);

describe('LCM boundary scalings (diffusers get_scalings_for_boundary_condition_discrete)', () => {
  it('c_skip = 1, c_out = 0 at timestep 0 (the boundary condition f(x, ε) = x), and below it', () => {
    expect(lcmBoundaryScalings(0)).toEqual({ cSkip: 1, cOut: 0 });
    expect(lcmBoundaryScalings(-1)).toEqual({ cSkip: 1, cOut: 0 });
  });

  it('c_skip = σd²/((10n)² + σd²), c_out = 10n/sqrt((10n)² + σd²) with σd = 0.5', () => {
    // n = 1: s = 10, c_skip = 0.25/100.25, c_out = 10/sqrt(100.25).
    const one = lcmBoundaryScalings(1);
    expect(one.cSkip).toBeCloseTo(0.25 / 100.25, 15);
    expect(one.cOut).toBeCloseTo(10 / Math.sqrt(100.25), 15);
    const late = lcmBoundaryScalings(999);
    expect(late.cSkip).toBeLessThan(3e-9);
    expect(late.cOut).toBeGreaterThan(1 - 2e-9);
    expect(lcmBoundaryScalings(1, 1).cSkip).toBeCloseTo(0.25 / 1.25, 15);
  });

  it('a consistency step at the first training step (timestep 0) returns the state itself, whatever the model says', async () => {
    const x = randomNormal([8, 2], 3, 'float64');
    const out = await consistencySample({ denoiser: async (s) => s.zerosLike(), schedule, x, times: [1 / 1000, 0] });
    expect(Array.from(out.data)).toEqual(Array.from(x.data));
  });
});

describe('LCMScheduler configs (spacing auto)', () => {
  const autoGrid = (config: Record<string, unknown>, steps: number) => {
    const info = schedulerFromConfig(config, 'scheduler_config.json');
    return { info, grid: buildGrid(info.schedule, { spacing: 'auto', steps, denoise: 1, rho: 7, schedulerGrid: info.grid }) };
  };
  const timestepsOf = (grid: { times: readonly number[] }) => grid.times.slice(0, -1).map((t) => Math.round(schedule.modelTime(t) * 1e9) / 1e9);

  // Derived by hand from diffusers' set_timesteps: k = 1000 // original; the distillation grid is
  // k·j − 1 for j = original … 1 (decreasing); sample it at floor(i·original/steps), i < steps.
  // original 50 (k = 20), 4 steps: indices floor(0, 12.5, 25, 37.5) = 0, 12, 25, 37 → 999 − 20·index.
  // original 50, 6 steps: floor(i·8.33…) = 0, 8, 16, 25, 33, 41 → 999, 839, 679, 499, 339, 179.
  // original 100 (k = 10), 9 steps: floor(i·11.1…) = 0, 11, 22, …, 88 → 999 − 10·index.
  it.each([
    [50, 4, [999, 759, 499, 259]],
    [50, 6, [999, 839, 679, 499, 339, 179]],
    [100, 9, [999, 889, 779, 669, 559, 449, 339, 229, 119]],
    [50, 1, [999]],
  ])('original_inference_steps %i, %i steps: %j, then t = 0', (original, steps, expected) => {
    const { info, grid } = autoGrid({ ...SD_LCM_CONFIG, original_inference_steps: original }, steps);
    expect(info.grid.rule).toBe('lcm');
    expect(info.grid.unsupported).toEqual([]);
    expect(timestepsOf(grid)).toEqual(expected);
    expect(grid.times[grid.times.length - 1]).toBe(0);
    expect(grid.start).toBe('noise');
    expect(grid.spacing).toBe(`auto (LCMScheduler original ${original})`);
    expect(lcmTimesteps(1000, original, steps)).toEqual(expected);
  });

  it('reads timestep_scaling into the grid (defaults: original 50, scaling 10), and refuses more steps than original_inference_steps', () => {
    expect(autoGrid({ ...SD_LCM_CONFIG, timestep_scaling: 2.5 }, 4).grid.lcm).toEqual({ timestepScaling: 2.5 });
    const defaults = autoGrid({ _class_name: 'LCMScheduler', beta_schedule: 'scaled_linear', beta_start: 0.00085, beta_end: 0.012 }, 4);
    expect(defaults.info.grid.originalInferenceSteps).toBe(50);
    expect(defaults.grid.lcm).toEqual({ timestepScaling: 10 });
    expect(() => autoGrid(SD_LCM_CONFIG, 51)).toThrow(/51 steps exceed original_inference_steps 50/);
  });

  it("the grid's timestep_scaling reaches the consistency solver through sample()", async () => {
    const { grid } = autoGrid({ ...SD_LCM_CONFIG, timestep_scaling: 0.002 }, 1);
    const x = randomNormal([16, 2], 5, 'float64');
    const { samples } = await sample({
      guider: basicGuider(model), solver: { kind: 'consistency', solve: makeSolver('consistency', settings()) }, grid,
      latent: x, noise: seededNoise(1), addNoise: false, startScale: 'auto',
    });
    // timestep 999 · 0.002 = 1.998: c_skip = 0.25/(1.998² + 0.25), c_out = 1.998/sqrt(1.998² + 0.25).
    const s = 999 * 0.002;
    const x0 = gmm.x0(x, schedule.alpha(1), schedule.sigma(1));
    const expected = x.data.map((v, i) => (0.25 / (s * s + 0.25)) * v + (s / Math.sqrt(s * s + 0.25)) * x0.data[i]);
    expect(maxAbsDiff(samples, new Tensor(x.shape, expected))).toBeLessThan(1e-12);
  });
});

describe('consistency sampling on the analytic mixture', () => {
  const solve = (boundary: 'lcm' | 'none', denoise = exactConsistency.predictX0, seed = 9) =>
    (x: Tensor, times: number[]) => makeSolver('consistency', settings({ boundary }))({
      denoiser: (s, t) => denoise(s, t), schedule, x, times, noise: (like, step) => randomNormal(like.shape, seed, like.dtype, step + 1),
    });

  it('with the exact consistency function, one step maps x_T to the exact ODE solution', async () => {
    const xT = randomNormal([64, 2], 21, 'float64');
    const exact = exactProbabilityFlow(gmm, schedule, xT, 1, 0);
    expect(maxAbsDiff(await solve('none')(xT, [1, 0]), exact)).toBeLessThan(1e-7);
    // LCM's scalings at timestep 999 differ from (0, 1) by ~3e-9 relative.
    expect(maxAbsDiff(await solve('lcm')(xT, [1, 0]), exact)).toBeLessThan(1e-7);
  });

  it('multistep sampling keeps the exact marginal (moments and component shares), where the posterior mean collapses', async () => {
    const n = 1500;
    const xT = randomNormal([n, 2], 77, 'float64');
    const { mean, cov } = mixtureMoments(gmm);
    const times = [1, 0.76, 0.5, 0.26, 0];
    const out = await solve('none')(xT, times);
    const m = sampleMoments(out);
    for (let i = 0; i < 2; i++) expect(Math.abs(m.mean[i] - mean[i])).toBeLessThan(0.06);
    for (let i = 0; i < 4; i++) expect(Math.abs(m.cov[i] - cov[i])).toBeLessThan(0.08);
    componentShares(gmm, out).forEach((share, k) => expect(Math.abs(share - gmm.weights[k])).toBeLessThan(0.03));
    // The same sampler on the plain posterior mean (not a consistency function) shrinks the spread.
    const plain = sampleMoments(await solve('lcm', model.predictX0)(xT, times));
    expect(plain.cov[0] + plain.cov[3]).toBeLessThan(0.8 * (cov[0] + cov[3]));
  });

  it('is seeded: the same noise source gives the same samples, another one other samples; more than one step needs noise', async () => {
    const xT = randomNormal([8, 2], 1, 'float64');
    const times = [1, 0.5, 0];
    const a = await solve('lcm', model.predictX0, 4)(xT, times);
    const b = await solve('lcm', model.predictX0, 4)(xT, times);
    const c = await solve('lcm', model.predictX0, 5)(xT, times);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(maxAbsDiff(a, c)).toBeGreaterThan(1e-3);
    await expect(consistencySample({ denoiser: model.predictX0, schedule, x: xT, times })).rejects.toThrow(/needs a noise source/);
  });
});

describe('consistency sampling through a workflow', () => {
  const link = (from: string, output: string) => ({ from, output });
  const workflow = (steps: number): Workflow => ({
    format: 'diffgraph/workflow@1',
    nodes: {
      mixture: { type: 'GaussianMixtureModel', inputs: { schedule: 'scaled_linear' } },
      model: { type: 'MixtureConsistencyModel', inputs: { model: link('mixture', 'model') } },
      schedule: { type: 'Schedule', inputs: { model: link('model', 'model'), spacing: 'trailing', steps } },
      solver: { type: 'Solver', inputs: { kind: 'consistency', boundary: 'none' } },
      guider: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
      noise: { type: 'RandomNoise', inputs: { seed: 3 } },
      latent: { type: 'EmptyLatent', inputs: { batch: 400, model: link('model', 'model') } },
      sample: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('schedule', 'sigmas'), latent: link('latent', 'latent') } },
    },
    outputs: ['sample'],
  });

  it('GaussianMixtureModel → MixtureConsistencyModel → Solver consistency → Sample: exact-mixture samples, progress per step', async () => {
    const executor = new Executor(createRegistry());
    const events: EngineEvent[] = [];
    executor.events.subscribe((e) => events.push(e));
    const result = await executor.run(workflow(3), { services: isolatedServices() });
    const out = result.outputs.sample;
    if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
    const samples = out.values.samples as Tensor;
    expect(samples.shape).toEqual([400, 2]);
    componentShares(gmm, samples).forEach((share, k) => expect(Math.abs(share - gmm.weights[k])).toBeLessThan(0.07));
    const progress = events.filter((e): e is Extract<EngineEvent, { type: 'node.progress' }> => e.type === 'node.progress' && e.nodeId === 'sample');
    expect(progress.map((e) => e.value)).toEqual([0, 1, 2, 3]);
  });

  it('MixtureConsistencyModel names its input when given another model', () => {
    expect(() => MixtureConsistencyModel.run({ model: { ...model, mixture: undefined } } as never, undefined as never)).toThrow(/input "model" must come from a GaussianMixtureModel/);
  });
});
