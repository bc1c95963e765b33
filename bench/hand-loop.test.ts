import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Executor } from '../packages/engine/src/executor.ts';
import type { Tensor } from '../packages/engine/src/tensor.ts';
import { createRegistry, type HostServices } from '../packages/nodes/src/index.ts';
import { loadPipeline } from '../packages/nodes/src/models/onnx/pipeline.ts';
import type { ModelStore } from '../packages/nodes/src/runtime/model-store.ts';
import { handLoop, type HandLoop } from './hand-loop.ts';
import { modelStore, MODELS, ROOT } from './pack-common.ts';

const SETTINGS = { steps: 20, cfg: 4, batch: 2 };

function txt2img(seed: number, previewEvery?: number): Record<string, any> {
  const wf = JSON.parse(readFileSync(join(ROOT, 'workflows', 'txt2img.json'), 'utf8'));
  wf.nodes.latent.inputs.batch = SETTINGS.batch;
  wf.nodes.guider.inputs.cfg = SETTINGS.cfg;
  wf.nodes.schedule.inputs.steps = SETTINGS.steps;
  wf.nodes.noise.inputs.seed = seed;
  if (previewEvery !== undefined) wf.nodes.sample.inputs.preview_every = previewEvery;
  wf.outputs = ['decode'];
  return wf;
}

/** The overhead benchmark compares the Executor with this loop: they must compute the same image. */
describe('the hand-written txt2img loop of bench:models', () => {
  let store: ModelStore;
  let loop: HandLoop;
  let services: HostServices;
  let prompt: string;
  beforeAll(async () => {
    store = modelStore(1);
    services = { modelStore: store, outputDir: join(os.tmpdir(), 'diffgraph-hand-loop-test'), inputRoots: [], modelRoots: [MODELS], workflow: null };
    loop = await handLoop(store, await loadPipeline(store, 'shapes-32'), SETTINGS);
    prompt = txt2img(0).nodes.positive.inputs.text;
  });
  afterAll(() => store.close());

  const image = async (executor: Executor<HostServices>, wf: Record<string, any>) => {
    const result = await executor.run(wf, { services });
    const decoded = result.outputs.decode;
    if (decoded.status !== 'succeeded') throw new Error(`txt2img failed: ${JSON.stringify(decoded)}`);
    return (decoded.values.image as Tensor).data;
  };

  it('equals the workflow bit for bit: a fresh Executor, then a warm one with new seeds and previews on', async () => {
    const registry = createRegistry();
    expect(await image(new Executor(registry), txt2img(7))).toEqual(await loop.run(prompt, '', 7));

    const warm = new Executor(registry);
    const previews: unknown[] = [];
    warm.events.subscribe((e) => previews.push(e), ['node.preview']);
    for (const seed of [11, 12]) {
      expect(await image(warm, txt2img(seed, 4))).toEqual(await loop.run(prompt, '', seed));
    }
    expect(previews.length).toBe(10);
    expect(await image(warm, txt2img(13, 0))).toEqual(await loop.run(prompt, '', 13, await loop.encode(['', prompt])));
  });
});
