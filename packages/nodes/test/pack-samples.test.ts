/**
 * "Samples match prompts" (models/README.md): workflows/txt2img.json run through the Executor on the
 * real shapes-32 pack at low steps, each image classified by the pack's attribute classifier
 * (models/shapes-32/attribute_classifier, 100 % on held-out data). A broken tokenizer, timestep,
 * scaling factor, guider or solver shows up as wrong colours or shapes long before it shows up as NaN.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Executor, Tensor } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { ModelStore } from '../src/runtime/model-store.ts';
import { classify, repoRoot as root } from './attribute-classifier.ts';
import { isolatedServices } from './services.ts';

describe('the default pack: samples match their prompts', () => {
  const store = new ModelStore({ roots: [path.join(root, 'models')], intraOpThreads: 1 });
  const executor = new Executor(createRegistry());
const services = { ...isolatedServices(), modelStore: store };
  afterAll(() => store.close());
  const txt2img = JSON.parse(readFileSync(path.join(root, 'workflows', 'txt2img.json'), 'utf8'));

  const cases: [string, string, Record<string, string>][] = [
    ['shapes-32', 'a big red circle on the left', { shape: 'circle', colour: 'red', position: 'left', size: 'large', count: 'one' }],
    ['shapes-32', 'a small blue triangle at the top', { shape: 'triangle', colour: 'blue', position: 'top', size: 'small', count: 'one' }],
    ['shapes-32-flow', 'a big green square on the right', { shape: 'square', colour: 'green', position: 'right', size: 'large', count: 'one' }],
  ];

  it.each(cases)('%s: "%s"', async (pack, prompt, want) => {
    const wf = structuredClone(txt2img);
    wf.nodes.pipeline.inputs.path = pack;
    wf.nodes.positive.inputs.text = prompt;
    wf.nodes.schedule.inputs.steps = 8;
    if (pack === 'shapes-32-flow') {
      wf.nodes.schedule.inputs.spacing = 'time_uniform';
      wf.nodes.solver.inputs = { kind: 'euler' };
    }
    wf.nodes.latent.inputs.batch = 4;
    const result = await executor.run(wf, { outputs: ['decode'], services });
    const out = result.outputs.decode;
    if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
    const got = await classify(store, out.values.image as Tensor);
    const matching = got.filter((a) => a.shape === want.shape && a.colour === want.colour).length;
    const allRight = got.filter((a) => Object.entries(want).every(([k, v]) => a[k] === v)).length;
    expect(matching, JSON.stringify(got)).toBeGreaterThanOrEqual(3);
    expect(allRight, JSON.stringify(got)).toBeGreaterThanOrEqual(3);
  });
});
