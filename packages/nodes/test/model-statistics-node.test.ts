/**
 * ModelStatistics → Solver(dpm_solver_v3) → Sample through the executor: the same numbers as the
 * functions, progress while estimating, the file cache in the model folder, and its errors.
 */
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Executor, maxAbsDiff, Tensor, type EngineEvent, type Workflow } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { GaussianMixture, makeGmmDenoiser } from '../src/models/gmm.ts';
import { randomNormal } from '../src/noise/philox.ts';
import { dpmSolverTimeGrid } from '../src/schedules/grids.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { dpmSolverV3 } from '../src/solvers/dpm-solver-v3.ts';
import { estimateModelStatistics } from '../src/solvers/ems-estimate.ts';
import { isolatedServices } from './services.ts';

const link = (from: string, output: string) => ({ from, output });
const MIXTURE = { weights: [0.5, 0.3, 0.2], means: [[-1.5, 0.5, 0.2], [1.2, 1.0, -0.4], [0.3, -1.4, 0.9]], stds: [0.25, 0.15, 0.35] };
const OTHER_MIXTURE = { ...MIXTURE, stds: [0.3, 0.15, 0.35] };
const STATS = { samples: 16, steps: 20, probes: 1, difference: 'central', seed: 7 } as const;

function v3Workflow(statsInputs: Record<string, unknown> = {}, mixture = MIXTURE): Workflow {
  return {
    format: 'diffgraph/workflow@1',
    nodes: {
      model: { type: 'GaussianMixtureModel', inputs: { mixture, schedule: 'scaled_linear' } },
      guider: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
      item: { type: 'EmptyLatent', inputs: { batch: 1, model: link('model', 'model') } },
      latent: { type: 'EmptyLatent', inputs: { batch: 8, model: link('model', 'model') } },
      stats: { type: 'ModelStatistics', inputs: { guider: link('guider', 'guider'), latent: link('item', 'latent'), ...STATS, ...statsInputs } },
      solver: { type: 'Solver', inputs: { kind: 'dpm_solver_v3', order: 3, statistics: link('stats', 'statistics') } },
      schedule: { type: 'Schedule', inputs: { model: link('model', 'model'), spacing: 'logSNR', steps: 8 } },
      noise: { type: 'RandomNoise', inputs: { seed: 2024 } },
      sample: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('schedule', 'sigmas'), latent: link('latent', 'latent') } },
    },
    outputs: ['sample', 'stats'],
  };
}

async function run(workflow: Workflow, modelRoots: string[] = []) {
  const executor = new Executor(createRegistry());
  const events: EngineEvent[] = [];
  executor.events.subscribe((e) => events.push(e));
  const result = await executor.run(workflow, { services: { ...isolatedServices(), modelRoots } });
  const logs = events.flatMap((e) => (e.type === 'node.log' && e.nodeId === 'stats' ? [e.message] : []));
  return { result, events, logs };
}

const valuesOf = (result: Awaited<ReturnType<typeof run>>['result'], id: string) => {
  const r = result.outputs[id];
  if (r.status !== 'succeeded') throw new Error(JSON.stringify(r));
  return r.values;
};

describe('ModelStatistics → Solver(dpm_solver_v3) → Sample', () => {
  it('gives the numbers of the functions, with progress over the grid', async () => {
    const { result, events } = await run(v3Workflow());
    const samples = valuesOf(result, 'sample').samples as Tensor;

    const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
    const denoiser = makeGmmDenoiser(new GaussianMixture(MIXTURE), schedule);
    const { statistics } = await estimateModelStatistics(denoiser, schedule, { sampleShape: [3], dtype: 'float64', ...STATS });
    const expected = await dpmSolverV3(
      { denoiser, schedule, x: randomNormal([8, 3], 2024, 'float64'), times: dpmSolverTimeGrid(schedule, 'logSNR', 8) },
      { statistics, order: 3 },
    );
    expect(maxAbsDiff(samples, expected)).toBe(0);

    const progress = events.flatMap((e) => (e.type === 'node.progress' && e.nodeId === 'stats' ? [[e.value, e.max]] : []));
    expect(progress[0]).toEqual([0, 21]);
    expect(progress.at(-1)).toEqual([21, 21]);
    expect(progress.length).toBe(22);
  });

  it('passes corrector and pseudo_predictor on to the solver', async () => {
    const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
    const denoiser = makeGmmDenoiser(new GaussianMixture(MIXTURE), schedule);
    const { statistics } = await estimateModelStatistics(denoiser, schedule, { sampleShape: [3], dtype: 'float64', ...STATS });
    const args = { denoiser, schedule, x: randomNormal([8, 3], 2024, 'float64'), times: dpmSolverTimeGrid(schedule, 'logSNR', 8) };
    for (const [corrector, pseudo] of [[false, false], [true, true]]) {
      const workflow = v3Workflow();
      workflow.nodes.solver.inputs = { ...workflow.nodes.solver.inputs, corrector, pseudo_predictor: pseudo };
      const samples = valuesOf((await run(workflow)).result, 'sample').samples as Tensor;
      const direct = await dpmSolverV3(args, { statistics, order: 3, useCorrector: corrector, pseudoPredictor: pseudo });
      expect(maxAbsDiff(samples, direct)).toBe(0);
      expect(maxAbsDiff(samples, await dpmSolverV3(args, { statistics, order: 3 }))).toBeGreaterThan(1e-6);
    }
  });

  it('without statistics, order 1 is DDIM', async () => {
    const workflow = v3Workflow();
    workflow.nodes.solver.inputs = { kind: 'dpm_solver_v3', order: 1 };
    workflow.nodes.ddim = { type: 'Solver', inputs: { kind: 'ddim' } };
    workflow.nodes.ddimSample = { type: 'Sample', inputs: { ...workflow.nodes.sample.inputs, solver: link('ddim', 'solver') } };
    workflow.outputs = ['sample', 'ddimSample'];
    const { result } = await run(workflow);
    const v3 = valuesOf(result, 'sample').samples as Tensor;
    const ddim = valuesOf(result, 'ddimSample').samples as Tensor;
    expect(maxAbsDiff(v3, ddim)).toBeLessThanOrEqual(1e-12);
  });

  it('saves the statistics in the model folder and the next run loads them instead of estimating', async () => {
    const models = mkdtempSync(path.join(tmpdir(), 'diffgraph-ems-'));
    const first = await run(v3Workflow(), [models]);
    const file = valuesOf(first.result, 'stats').path as string;
    expect(file.startsWith(path.join(models, 'statistics'))).toBe(true);
    expect(existsSync(file) && existsSync(file.replace(/\.json$/, '.npy'))).toBe(true);
    expect(first.logs.some((m) => m.startsWith('estimated statistics: 21 model calls'))).toBe(true);

    // A fresh executor (no in-memory cache): the file is read, the samples are the same.
    const second = await run(v3Workflow(), [models]);
    expect(second.logs.some((m) => m.startsWith('loaded statistics from'))).toBe(true);
    expect(second.logs.some((m) => m.startsWith('estimated'))).toBe(false);
    expect(maxAbsDiff(valuesOf(second.result, 'sample').samples as Tensor, valuesOf(first.result, 'sample').samples as Tensor)).toBe(0);

    // Other settings or another model: another key, another file.
    await run(v3Workflow({ samples: 17 }), [models]);
    await run(v3Workflow({}, OTHER_MIXTURE), [models]);
    expect(readdirSync(path.join(models, 'statistics')).filter((f) => f.endsWith('.json')).length).toBe(3);
  });

  it('refuses a named file that holds another model\'s statistics, and paths outside the model folder', async () => {
    const models = mkdtempSync(path.join(tmpdir(), 'diffgraph-ems-'));
    const saved = await run(v3Workflow({ file: 'mine' }), [models]);
    expect(valuesOf(saved.result, 'stats').path).toBe(path.join(models, 'mine.json'));
    const other = await run(v3Workflow({ file: 'mine' }, OTHER_MIXTURE), [models]);
    const failed = other.result.outputs.stats;
    expect(failed.status).toBe('failed');
    expect(failed.status === 'failed' && failed.error.message).toMatch(/^ModelStatistics: input "file": statistics file mine holds statistics of another model or other settings/);
    const outside = await run(v3Workflow({ file: '../escape' }), [models]);
    expect(outside.result.outputs.stats.status === 'failed' && outside.result.outputs.stats.error.message).toMatch(/^ModelStatistics: input "file": .*outside the allowed folder/);
  });
});
