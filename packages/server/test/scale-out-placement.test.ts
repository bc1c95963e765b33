/** Placement: a run goes to a free worker that has its models loaded rather than to a cold one. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRegistry } from '@diffgraph/nodes';
import { describe, expect, it } from 'vitest';
import { covers, modelsOf } from '../src/scale-out/placement.ts';
import { api, submit, waitForStatus } from './helpers.ts';
import { redisSkipReason, startRedis } from './redis.ts';
import { startWorkerProcess } from './scale-out-helpers.ts';
import { killHard, serve, stop } from './subprocess.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const models = path.join(repoRoot, 'models');

/** The bundled txt2img on the shapes-32 pack, made quick: 2 steps, one image. */
function txt2img(seed: number): any {
  const w = JSON.parse(readFileSync(path.join(repoRoot, 'workflows/txt2img.json'), 'utf8'));
  w.nodes.schedule.inputs.steps = 2;
  w.nodes.latent.inputs.batch = 1;
  w.nodes.noise.inputs.seed = seed;
  return w;
}

describe('placement rules', () => {
  it('a worker covers a model folder when it holds a file inside it (not a folder that only starts with its name)', () => {
    expect(covers(['shapes-32/unet.onnx', 'shapes-32/vae_decoder.onnx'], ['shapes-32'])).toBe(true);
    expect(covers(['shapes-32/unet.onnx'], ['shapes-32/unet.onnx'])).toBe(true);
    expect(covers(['shapes-32-flow/unet.onnx'], ['shapes-32'])).toBe(false);
    expect(covers(['shapes-32/unet.onnx'], ['shapes-32', 'other'])).toBe(false);
    expect(covers([], [])).toBe(true);
  });

  it('the models of a workflow are its inputs with the role "model", defaults included, links and other strings not', () => {
    const registry = createRegistry();
    expect(modelsOf(txt2img(1), registry)).toEqual(['shapes-32']);
    const defaulted = txt2img(1);
    delete defaulted.nodes.pipeline.inputs.path;
    expect(modelsOf(defaulted, registry)).toEqual([registry.get('LoadPipeline')!.inputs.path.default]);
  });
});

describe.skipIf(redisSkipReason)(`placement on warm workers${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`, () => {
  it('runs for a pipeline one worker has loaded go to it while it is free; the cold worker loads nothing', async () => {
    const redis = await startRedis();
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-placement-'));
    const node = await serve(['--data', data, '--models', models, '--queue', redis.url]);
    const workerArgs = ['--queue', redis.url, '--data', data, '--models', models];
    const warm = await startWorkerProcess(workerArgs, data);
    let cold: Awaited<ReturnType<typeof startWorkerProcess>> | undefined;
    try {
      await waitForStatus(node.url, await submit(node.url, txt2img(0)), ['succeeded'], 60_000);
      cold = await startWorkerProcess(workerArgs, data);
      const workers = async () => Object.fromEntries(((await api(node.url, '/api/workers')).body.workers as any[]).map((w) => [w.pid, w]));
      const before = await workers();
      expect(before[warm.pid!].models).toEqual(expect.arrayContaining([expect.stringMatching(/^shapes-32\//)]));
      expect(before[cold.pid!].models).toEqual([]);
      // With both free, each run could go either way (1 in 2^6 to all land on one worker by chance).
      for (let seed = 1; seed <= 6; seed++) {
        const runId = await submit(node.url, txt2img(seed));
        expect((await waitForStatus(node.url, runId, ['succeeded', 'failed'], 60_000)).status).toBe('succeeded');
        const started = (await api(node.url, `/api/runs/${runId}/events`)).body.events.find((e: any) => e.type === 'run.started');
        expect(started.worker, `run ${seed}`).toBe(before[warm.pid!].id);
      }
      expect((await workers())[cold.pid!]).toMatchObject({ models: [], runsDone: 0 });
    } finally {
      await Promise.all([stop(node.child), killHard(warm), cold && killHard(cold)]);
      await redis.stop();
    }
  }, 120_000);
});
