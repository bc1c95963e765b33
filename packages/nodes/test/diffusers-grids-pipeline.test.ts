/**
 * spacing "auto" through the front door: a copy of the shapes-32 pack whose scheduler_config.json is
 * changed (EulerDiscreteScheduler, trailing, Karras sigmas) run by the Executor from
 * workflows/txt2img.json with the Schedule node's spacing left at its default. The grid must be
 * diffusers' for that config (written out here from its formulas) and Sample must run on it.
 */
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Executor, type Tensor } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { ModelStore } from '../src/runtime/model-store.ts';
import type { TimeGrid } from '../src/contracts/sampling.ts';
import { isolatedServices } from './services.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const pack = path.join(repo, 'models', 'shapes-32');
const txt2img = JSON.parse(readFileSync(path.join(repo, 'workflows', 'txt2img.json'), 'utf8'));

/** A models root holding the pack as `name`, with its scheduler config replaced by `scheduler` (if given). */
function packCopy(scheduler?: Record<string, unknown>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'dg-auto-grid-'));
  for (const part of ['model_index.json', 'scheduler', 'text_encoder', 'tokenizer', 'unet', 'vae_decoder', 'vae_encoder']) {
    cpSync(path.join(pack, part), path.join(root, 'shapes-32', part), { recursive: true });
  }
  if (scheduler) writeFileSync(path.join(root, 'shapes-32', 'scheduler', 'scheduler_config.json'), JSON.stringify(scheduler));
  return root;
}

/** SD's training sigmas sqrt((1 − ᾱ_n)/ᾱ_n) for the pack's betas (scaled_linear 0.00085 .. 0.012). */
function trainSigma(n: number): number {
  const lo = Math.sqrt(0.00085), hi = Math.sqrt(0.012);
  let product = 1;
  for (let i = 0; i <= n; i++) {
    const root = lo + ((hi - lo) * i) / 999;
    product *= 1 - root * root;
  }
  return Math.sqrt((1 - product) / product);
}

function workflow(schedule: Record<string, unknown>, solver: string, sample: Record<string, unknown>) {
  const w = structuredClone(txt2img);
  w.nodes.schedule.inputs = { model: { from: 'pipeline', output: 'model' }, ...schedule };
  Object.assign(w.nodes.sample.inputs, sample);
  w.nodes.solver.inputs = { kind: solver };
  w.nodes.latent.inputs.batch = 1;
  return w;
}

describe('spacing "auto" reads the pipeline folder\'s scheduler_config.json', () => {
  const stores: ModelStore[] = [];
  afterAll(() => stores.forEach((s) => s.close()));

  async function run(root: string, schedule: Record<string, unknown>, solver = 'euler', sample: Record<string, unknown> = {}) {
    const store = new ModelStore({ roots: [root], intraOpThreads: 1 });
    stores.push(store);
    const result = await new Executor(createRegistry()).run(workflow(schedule, solver, sample), {
      outputs: ['schedule', 'sample'],
      services: { ...isolatedServices(), modelRoots: [root], modelStore: store },
    });
    expect(result.status, JSON.stringify(result.outputs)).toBe('succeeded');
    const values = (id: string) => (result.outputs[id] as { values: Record<string, unknown> }).values;
    return { grid: values('schedule').sigmas as TimeGrid, samples: values('sample').samples as Tensor };
  }

  it('EulerDiscreteScheduler + trailing + use_karras_sigmas: a Karras ramp from sigma(999) to sigma(124), then 0', async () => {
    const original = JSON.parse(readFileSync(path.join(pack, 'scheduler', 'scheduler_config.json'), 'utf8'));
    const root = packCopy({ ...original, _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'trailing', use_karras_sigmas: true });
    const { grid, samples } = await run(root, { steps: 8 });

    // trailing, 8 steps: round(arange(1000, 0, −125)) − 1 = 999, 874, ..., 124; Karras (rho 7) between their sigmas.
    const sigmaMax = trainSigma(999), sigmaMin = trainSigma(124);
    const expected = [...Array.from({ length: 8 }, (_, i) => (sigmaMax ** (1 / 7) + (i / 7) * (sigmaMin ** (1 / 7) - sigmaMax ** (1 / 7))) ** 7), 0];
    const { schedulerFromConfig } = await import('../src/models/onnx/scheduler-config.ts');
    const schedule = schedulerFromConfig(original, 'scheduler_config.json').schedule;
    const sigmas = grid.times.map((t) => (t === 0 ? 0 : Math.exp(-schedule.lambda(t))));
    expect(sigmas).toHaveLength(9);
    sigmas.forEach((s, i) => expect(Math.abs(s - expected[i]), `sigma ${i}`).toBeLessThanOrEqual(1e-9 * expected[i] + 1e-15));
    expect(grid.spacing).toBe('auto (EulerDiscreteScheduler trailing karras)');
    for (const v of samples.data) expect(Number.isFinite(v)).toBe(true);

    // Sample ran on exactly that grid from Euler's start (init_noise_sigma = sigma_max with trailing spacing,
    // i.e. sigma(t0)·noise in VP terms): the same times as a custom grid with start_scale sigma give the same samples.
    expect(grid.start).toBe('sigma');
    const custom = await run(root, { spacing: 'custom', steps: 8, times: [...grid.times] }, 'euler', { start_scale: 'sigma' });
    expect(Array.from(custom.samples.data)).toEqual(Array.from(samples.data));
  });

  it('the pack\'s own config (DDIM, trailing, set_alpha_to_one false) gives under auto the trailing grid its workflows set', async () => {
    const root = packCopy();
    const automatic = await run(root, { steps: 10 }, 'dpmsolver++');
    const explicit = await run(root, { spacing: 'trailing', steps: 10 }, 'dpmsolver++');
    expect(automatic.grid.times).toEqual(explicit.grid.times);
    expect(Array.from(automatic.samples.data)).toEqual(Array.from(explicit.samples.data));
  });
});
