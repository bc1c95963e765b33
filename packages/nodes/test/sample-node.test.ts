/** The sampling nodes end to end, through the executor: references, progress, cancellation, noise. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type EngineEvent, type Workflow } from '@diffgraph/engine';
import { basicGuider, buildGrid, createRegistry, gaussianMixtureModel, makeSolver, sample } from '../src/index.ts';
import { startState } from '../src/contracts/start-state.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { seededNoise } from '../src/noise/noise-nodes.ts';
import { loadRefModel, loadRefOutput, refsDir } from './refs.ts';
import { isolatedServices } from './services.ts';

const torchRandnFixture = (): { cases: { seed: number; shape: number[]; draws: number[][] }[] } =>
  JSON.parse(readFileSync(new URL('./fixtures/torch-randn/randn.json', import.meta.url), 'utf8'));

const link = (from: string, output: string) => ({ from, output });

function labWorkflow(overrides: Record<string, Record<string, unknown>> = {}): Workflow {
  const ref = loadRefModel('gmm2');
  const nodes: Workflow['nodes'] = {
    model: { type: 'GaussianMixtureModel', inputs: { mixture: { weights: ref.json.model.weights, means: ref.json.model.means, stds: ref.json.model.stds }, schedule: 'scaled_linear' } },
    xT: { type: 'LoadTensor', inputs: { path: 'gmm2.json', key: 'x_T.values' } },
    schedule: { type: 'Schedule', inputs: { model: link('model', 'model'), spacing: 'logSNR', steps: 10 } },
    solver: { type: 'Solver', inputs: { kind: 'dpmsolver++', order: 2 } },
    guider: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
    noise: { type: 'DisableNoise' },
    sample: {
      type: 'Sample',
      inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('schedule', 'sigmas'), latent: link('xT', 'tensor'), add_noise: false },
    },
  };
  for (const [id, inputs] of Object.entries(overrides)) nodes[id].inputs = { ...nodes[id].inputs, ...inputs };
  return { format: 'diffgraph/workflow@1', nodes, outputs: ['sample'] };
}

function run(workflow: Workflow, signal?: AbortSignal, inputRoots = [refsDir]) {
  const executor = new Executor(createRegistry());
  const events: EngineEvent[] = [];
  executor.events.subscribe((e) => events.push(e));
  return executor.run(workflow, { signal, services: { ...isolatedServices(), inputRoots } }).then((result) => ({ result, events }));
}

const samplesOf = (result: Awaited<ReturnType<Executor['run']>>) => {
  const r = result.outputs.sample;
  if (r.status !== 'succeeded') throw new Error(JSON.stringify(r));
  return r.values.samples as Tensor;
};

describe('Sample through a workflow', () => {
  it.each([
    ['dpmsolver++', 2, 'gmm2__sd_discrete__dpmsolver++__multistep__order2__logSNR__steps10'],
    ['unipc', 3, 'gmm2__sd_discrete__unipc-bh2__data_prediction__order3__logSNR__steps10'],
  ])('reproduces the %s order-%i reference from the stored x_T', async (kind, order, id) => {
    const { result } = await run(labWorkflow({ solver: { kind, order } }));
    const x = samplesOf(result);
    const expected = loadRefOutput(id).x0 as number[][];
    expect(x.shape).toEqual([64, 2]);
    expect(x.dtype).toBe('float64');
    expected.flat().forEach((v, i) => expect(Math.abs(x.data[i] - v)).toBeLessThanOrEqual(1e-8 * Math.max(1, Math.abs(v))));
  });

  it('reproduces a k-diffusion reference with the sigma start convention (x_T·sigma_max in VE terms)', async () => {
    const ref = loadRefModel('gmm2');
    const expected = loadRefOutput('gmm2__sd_kdiffusion_karras__sample_heun__steps10');
    const model = gaussianMixtureModel(ref.gmm, ref.schedules.sd_discrete, 'float64');
    let calls = 0;
    const guider = basicGuider({ ...model, predictX0: (x, t) => (calls++, model.predictX0(x, t)) });
    const { samples } = await sample({
      guider,
      solver: { kind: 'heun', solve: makeSolver('heun', {} as never) },
      grid: buildGrid(model.schedule, { spacing: 'karras', steps: 10, denoise: 1, rho: 7 }),
      latent: Tensor.zeros([64, 2], 'float64'),
      noise: { seed: null, sample: () => ref.xT.clone() },
      addNoise: true,
      startScale: 'sigma',
    });
    expect(calls).toBe(expected.nfe);
    (expected.x0 as number[][]).flat().forEach((v, i) => expect(Math.abs(samples.data[i] - v)).toBeLessThanOrEqual(1e-8 * Math.max(1, Math.abs(v))));
  });

  it('reports progress every step and stops within one step when cancelled', async () => {
    const full = await run(labWorkflow({ schedule: { steps: 25 } }));
    const progress = full.events.filter((e): e is Extract<EngineEvent, { type: 'node.progress' }> => e.type === 'node.progress');
    expect(progress.map((e) => e.value)).toEqual(Array.from({ length: 26 }, (_, i) => i));
    expect(progress.every((e) => e.max === 25)).toBe(true);

    const controller = new AbortController();
    const w = labWorkflow({ schedule: { steps: 200 } });
    const executor = new Executor(createRegistry());
    let seen = 0;
    executor.events.subscribe((e) => {
      if (e.type === 'node.progress' && e.nodeId === 'sample' && ++seen === 4) controller.abort();
    });
    const result = await executor.run(w, { signal: controller.signal, services: { ...isolatedServices(), inputRoots: [refsDir] } });
    expect(result.status).toBe('cancelled');
    expect(seen).toBeLessThanOrEqual(5);
  });

  it('RandomNoise: the same seed gives the same samples, another seed other samples, whatever the batch', async () => {
    const noisy = (seed: number, batch: number) => {
      const w = labWorkflow({ sample: { add_noise: true, noise: link('rng', 'noise'), latent: link('zero', 'latent') } });
      w.nodes.rng = { type: 'RandomNoise', inputs: { seed } };
      w.nodes.zero = { type: 'EmptyLatent', inputs: { batch, model: link('model', 'model') } };
      return run(w).then(({ result }) => samplesOf(result));
    };
    const a = await noisy(7, 8);
    const b = await noisy(7, 8);
    const c = await noisy(8, 8);
    const wide = await noisy(7, 16);
    expect(Array.from(a.data)).toEqual(Array.from(b.data));
    expect(Array.from(a.data)).not.toEqual(Array.from(c.data));
    expect(Array.from(wide.data.subarray(0, 16))).toEqual(Array.from(a.data));
    // Item i of seed s is item 0 of seed s + i.
    expect(Array.from(c.data.subarray(0, 2))).toEqual(Array.from(a.data.subarray(2, 4)));
  });

  it('RandomNoise rng cpu: the start noise is torch.manual_seed(seed); torch.randn(latent.shape), as ComfyUI draws it', async () => {
    // torch's fixture for seed 42, shape [2, 4, 8, 8]: randn's values depend only on the element count, so
    // its 512 numbers are also the noise of a [256, 2] latent.
    const fixture = torchRandnFixture().cases.find((c) => c.seed === 42 && c.shape.join() === '2,4,8,8')!;
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-torch-noise-'));
    writeFileSync(path.join(dir, 'noise.json'), JSON.stringify({ shape: [256, 2], dtype: 'float64', data: fixture.draws[0] }));
    const fromFixture = labWorkflow({ xT: { path: 'noise.json', key: '' } });
    const seeded = (rng: string) => {
      const w = labWorkflow({ sample: { add_noise: true, noise: link('rng', 'noise'), latent: link('zero', 'latent') } });
      w.nodes.rng = { type: 'RandomNoise', inputs: { seed: 42, rng } };
      w.nodes.zero = { type: 'EmptyLatent', inputs: { batch: 256, model: link('model', 'model') } };
      return w;
    };
    const inputRoots = [refsDir, dir];
    const expected = samplesOf((await run(fromFixture, undefined, inputRoots)).result);
    const cpu = samplesOf((await run(seeded('cpu'), undefined, inputRoots)).result);
    expect(cpu.shape).toEqual([256, 2]);
    // The noise agrees to one float32 ulp (torch's vectorised libm); the deterministic solver carries that through.
    expected.data.forEach((v, i) => expect(Math.abs(cpu.data[i] - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v))));
    const philox = samplesOf((await run(seeded('philox'), undefined, inputRoots)).result);
    expect(Math.abs(philox.data[0] - expected.data[0])).toBeGreaterThan(1e-3);
  });

  it('img2img: a truncated grid starts at alpha·latent + sigma·noise', () => {
    const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
    const latent = Tensor.from([1, 3], [1, -2, 0.5], 'float64');
    const noise = seededNoise(3);
    const t0 = 0.5;
    const x = startState({ guider: { schedule, denoise: async (v) => v }, solver: { kind: 'x', solve: async (a) => a.x }, grid: { times: [t0, 0.1], spacing: 'logSNR' }, latent, noise, addNoise: true, startScale: 'unit' });
    const n = noise.sample(latent, 0);
    latent.data.forEach((v, i) => expect(x.data[i]).toBeCloseTo(schedule.alpha(t0) * v + schedule.sigma(t0) * n.data[i], 14));
    const full = startState({ guider: { schedule, denoise: async (v) => v }, solver: { kind: 'x', solve: async (a) => a.x }, grid: { times: [1, 0.1], spacing: 'logSNR' }, latent, noise, addNoise: true, startScale: 'unit' });
    expect(Array.from(full.data)).toEqual(Array.from(n.data));
  });
});
