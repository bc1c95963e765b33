/**
 * Test helper: runs one stored reference configuration the way a user wires it — GaussianMixtureModel →
 * Schedule, Solver, BasicGuider → Sample, with x_T from LoadTensor — through the Executor, and records
 * every model call (its time) on the way.
 */
import { Executor, type NodeDefinition, type Tensor, type Workflow } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import type { Guider, TimeGrid } from '../src/contracts/sampling.ts';
import type { RefIndexEntry, RefModelFile } from './refs.ts';
import { isolatedServices } from './services.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const SCHEDULE_CHOICE: Record<string, string> = { sd_discrete: 'scaled_linear', linear_vp: 'linear_vp' };

/** k-diffusion's sample_* functions as Solver kinds (refs/README.md §7: no churn, eta = 0). */
const KDIFFUSION_KIND: Record<string, string> = {
  sample_euler: 'euler',
  sample_heun: 'heun',
  sample_dpm_2: 'dpm_2',
  sample_lms: 'lms',
  sample_dpmpp_2m: 'dpmpp_2m',
  sample_dpmpp_2s_ancestral_eta0: 'dpmpp_2s_ancestral',
};

/** Times of the model calls of each run, by the label its RecordCalls node carries. */
const recorded = new Map<string, number[]>();

/** Instrumentation, not part of the product: passes a guider through and records when it is called. */
const RecordCalls: NodeDefinition = {
  type: 'RecordCalls',
  category: 'test',
  description: 'Records the time of every model call of the guider it passes through.',
  version: 1,
  inputs: { guider: { type: 'GUIDER' }, label: { type: 'STRING' } },
  outputs: { guider: { type: 'GUIDER' } },
  run({ guider, label }) {
    const g = guider as Guider;
    const calls: number[] = [];
    recorded.set(label as string, calls);
    return { guider: { ...g, denoise: (x: Tensor, t: number) => (calls.push(t), g.denoise(x, t)) } };
  },
};

const registry = createRegistry();
registry.register(RecordCalls);

const link = (from: string, output: string) => ({ from, output });

/** The Schedule and Solver inputs a user would set for a stored config. */
function scheduleAndSolver(config: Record<string, unknown>): { schedule: Record<string, unknown>; solver: Record<string, unknown> } {
  const steps = config.steps as number;
  switch (config.library) {
    case 'dpm-solver':
      return {
        schedule: { spacing: config.skip_type, steps },
        solver: { kind: config.algorithm_type, order: config.order, method: config.method },
      };
    case 'unipc':
      return {
        schedule: { spacing: config.skip_type, steps },
        solver: { kind: 'unipc', order: config.order, variant: config.variant, prediction: config.algorithm_type === 'data_prediction' ? 'data' : 'noise' },
      };
    case 'k-diffusion': {
      const kind = KDIFFUSION_KIND[config.sampler as string];
      if (!kind) throw new Error(`no Solver kind for ${String(config.sampler)}`);
      return { schedule: { spacing: config.sigma_schedule, steps, rho: config.rho ?? 7 }, solver: { kind, eta: 0 } };
    }
    default:
      throw new Error(`unknown reference library ${String(config.library)}`);
  }
}

/**
 * The workflow for a reference run. DPM-Solver and UniPC start at x = x_T at t = 1 (add_noise off: the
 * latent is the state); k-diffusion starts at x_T·sigma_max in VE terms, which is Sample's 'sigma' start
 * with x_T as the noise and an empty latent.
 */
export function refWorkflow(entry: RefIndexEntry, label: string): Workflow {
  const model = (JSON.parse(readFileSync(path.join(entry.dir, `${entry.model}.json`), 'utf8')) as RefModelFile).model;
  const { schedule, solver } = scheduleAndSolver(entry.config);
  const kdiffusion = entry.config.library === 'k-diffusion';
  const nodes: Workflow['nodes'] = {
    model: {
      type: 'GaussianMixtureModel',
      inputs: { mixture: { weights: model.weights, means: model.means, stds: model.stds }, schedule: SCHEDULE_CHOICE[entry.config.schedule as string] },
    },
    xT: { type: 'LoadTensor', inputs: { path: `${entry.model}.json`, key: 'x_T.values' } },
    schedule: { type: 'Schedule', inputs: { model: link('model', 'model'), ...schedule } },
    solver: { type: 'Solver', inputs: solver },
    guider: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
    recorder: { type: 'RecordCalls', inputs: { guider: link('guider', 'guider'), label } },
    sample: {
      type: 'Sample',
      inputs: {
        noise: link('noise', 'noise'),
        guider: link('recorder', 'guider'),
        solver: link('solver', 'solver'),
        sigmas: link('schedule', 'sigmas'),
        preview_every: 0,
        ...(kdiffusion ? { latent: link('empty', 'latent'), add_noise: true, start_scale: 'sigma' } : { latent: link('xT', 'tensor'), add_noise: false }),
      },
    },
  };
  if (kdiffusion) {
    nodes.noise = { type: 'TensorNoise', inputs: { tensor: link('xT', 'tensor') } };
    nodes.empty = { type: 'EmptyLatent', inputs: { model: link('model', 'model'), batch: 64 } };
  } else {
    nodes.noise = { type: 'DisableNoise', inputs: {} };
  }
  return { format: 'diffgraph/workflow@1', nodes, outputs: ['sample', 'schedule'] };
}

let runs = 0;
const baseServices = isolatedServices();

/** Runs a reference configuration through the nodes: the samples, the Schedule node's grid and the model-call times. */
export async function runRefThroughNodes(entry: RefIndexEntry): Promise<{ x: Tensor; grid: TimeGrid; calls: number[] }> {
  const label = `${entry.id}#${++runs}`;
  const workflow = refWorkflow(entry, label);
  const result = await new Executor(registry).run(workflow, { services: { ...baseServices, inputRoots: [entry.dir], workflow } });
  const sample = result.outputs.sample;
  const schedule = result.outputs.schedule;
  if (sample?.status !== 'succeeded' || schedule?.status !== 'succeeded') throw new Error(`${entry.id}: ${JSON.stringify(result.outputs)}`);
  const calls = recorded.get(label) ?? [];
  recorded.delete(label);
  return { x: sample.values.samples as Tensor, grid: schedule.values.sigmas as TimeGrid, calls };
}
