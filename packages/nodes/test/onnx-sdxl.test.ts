/**
 * The SDXL layout (models/fixtures/sdxl-tiny, built by models/build/fixtures/make_sdxl_fixture.py): a
 * tiny seeded random pipeline in optimum's SDXL ONNX layout with non-SDXL sizes (encoder widths 12 and
 * 20, projection 10, 3 latent channels, 5x7 latents, VAE factor 2). It loads through LoadPipeline,
 * every component and the assembled conditioning match torch, an omitted negative is zeroed
 * (force_zeros_for_empty_prompt) while an explicit "" is encoded, CFG is one UNet call per step, and
 * composable and classifier guidance run on it.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import type * as ort from 'onnxruntime-node';
import { createRegistry } from '../src/index.ts';
import { loadClassifier } from '../src/guiders/load-classifier.ts';
import { loadPipeline, type Pipeline } from '../src/models/onnx/pipeline.ts';
import type { SdxlTextEncoder } from '../src/models/onnx/sdxl.ts';
import type { OnnxSession } from '../src/runtime/onnx-session.ts';
import { fromOrt, idsTensor } from '../src/runtime/ort-tensors.ts';
import { tempRoot, testStore } from './fixtures/onnx-helpers.ts';
import { isolatedServices } from './services.ts';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models/fixtures');
const FIXTURE = 'sdxl-tiny';

interface RefTensor { type: 'float32' | 'int64'; dims: number[]; data: number[] }
interface RefModel { inputs: Record<string, RefTensor>; outputs: Record<string, RefTensor> }
const refs = JSON.parse(readFileSync(path.join(fixtures, FIXTURE, 'references.json'), 'utf8')) as {
  models: Record<string, RefModel>;
  conditioning: { prompts: string[]; embeddings: RefTensor; pooled: RefTensor; time_ids: RefTensor };
};
const ATOL = 1e-4;
/** Network step 700 of the 1000-step discrete schedule. */
const T700 = 0.701;

const tensor = (r: RefTensor) => Tensor.from(r.dims, r.data);
const rows = (r: RefTensor, from: number, to: number) => {
  const per = r.data.length / r.dims[0];
  return Tensor.from([to - from, ...r.dims.slice(1)], r.data.slice(from * per, to * per));
};

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function load(roots = [fixtures], name = FIXTURE): Promise<Pipeline> {
  return loadPipeline(testStore(roots).store, name);
}

async function runReference(session: OnnxSession, ref: RefModel): Promise<Record<string, Tensor>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, r] of Object.entries(ref.inputs)) {
    feeds[name] = r.type === 'int64' ? idsTensor(r.data, r.dims, session.input(name).dtype) : session.feed(name, tensor(r));
  }
  const out = await session.run(feeds, Object.keys(ref.outputs));
  return Object.fromEntries(Object.keys(ref.outputs).map((name) => [name, fromOrt(out[name], session.file, name)]));
}

/** x0 from the reference UNet output (eps prediction) for state x at T700. */
function x0FromEps(p: Pipeline, x: Tensor, eps: Tensor): number[] {
  const a = p.model.schedule.alpha(T700), s = p.model.schedule.sigma(T700);
  return Array.from(x.data, (xi, i) => (xi - s * eps.data[i]) / a);
}

/** A copy of the fixture with model_index.json edited (and folders removed or added). */
function variant(edit: (index: Record<string, unknown>, dir: string) => void): string {
  const root = tempRoot('dg-sdxl-');
  const dir = path.join(root, FIXTURE);
  cpSync(path.join(fixtures, FIXTURE), dir, { recursive: true });
  const file = path.join(dir, 'model_index.json');
  const index = JSON.parse(readFileSync(file, 'utf8'));
  edit(index, dir);
  writeFileSync(file, JSON.stringify(index));
  return root;
}

describe('LoadPipeline on the SDXL layout', () => {
  it('detects the layout, loads both encoders with their own tokenizers and feeds text_embeds and time_ids', async () => {
    const p = await load();
    expect(p.layout).toBe('sdxl');
    expect(p.model.sampleShape).toEqual([3, 5, 7]);
    expect(p.model.info).toMatchObject({ layout: 'sdxl', forceZerosForEmptyPrompt: true });
    expect(p.textEncoder.hiddenOutput).toBe('hidden_states.1');
    expect(p.textEncoder2!.hiddenOutput).toBe('hidden_states.2');
    const encoder = p.encoder as SdxlTextEncoder;
    expect(encoder.width).toBe(32);
    expect(encoder.pooledWidth).toBe(10);
    // tokenizer pads with <eos>, tokenizer_2 with <pad>: each uses its own.
    const { prompts } = refs.conditioning;
    expect(prompts.flatMap((t) => p.textEncoder.tokenizer.encode(t).ids)).toEqual(refs.models.text_encoder.inputs.input_ids.data);
    expect(prompts.flatMap((t) => p.textEncoder2!.tokenizer.encode(t).ids)).toEqual(refs.models.text_encoder_2.inputs.input_ids.data);
    expect(p.textEncoder.tokenizer.encode('a').ids.at(-1)).not.toBe(p.textEncoder2!.tokenizer.encode('a').ids.at(-1));
  });

  it('every component matches torch float32 within 1e-4', async () => {
    const p = await load();
    const classifier = await loadClassifier(testStore([fixtures]).store, `${FIXTURE}/classifier`, p.model);
    const sessions: Record<string, OnnxSession> = {
      text_encoder: p.textEncoder.session, text_encoder_2: p.textEncoder2!.session, unet: p.model.unet,
      unet_size_conditioning: p.model.unet, vae_decoder: p.vae.decoder, classifier: classifier.grad,
    };
    for (const [component, session] of Object.entries(sessions)) {
      const ref = refs.models[component];
      const outputs = await runReference(session, ref);
      for (const [name, expected] of Object.entries(ref.outputs)) {
        expect(outputs[name].shape, `${component} ${name}`).toEqual(expected.dims);
        expect(maxDiff(outputs[name].data, expected.data), `${component} ${name}`).toBeLessThanOrEqual(ATOL);
      }
    }
  });

  it('TextEncode assembles diffusers\' conditioning: penultimate states concatenated, the pooled projection, default time_ids', async () => {
    const p = await load();
    const { embeddings, pooled } = await p.encoder.encode(refs.conditioning.prompts);
    expect(embeddings.shape).toEqual([2, 16, 32]);
    expect(maxDiff(embeddings.data, refs.conditioning.embeddings.data)).toBeLessThanOrEqual(ATOL);
    expect(pooled!.shape).toEqual([2, 10]);
    expect(maxDiff(pooled!.data, refs.conditioning.pooled.data)).toBeLessThanOrEqual(ATOL);
    expect(refs.conditioning.time_ids.data).toEqual([10, 14, 0, 0, 10, 14]);
  });
});

describe('sampling the SDXL layout', () => {
  const link = (from: string, output: string) => ({ from, output });
  const encode = (text: string, extra: Record<string, unknown> = {}) => ({ type: 'TextEncode', inputs: { encoder: link('pipe', 'text_encoder'), text, ...extra } });

  async function execute(nodes: Workflow['nodes'], outputs: string[], roots = [fixtures]) {
    const wf: Workflow = { format: 'diffgraph/workflow@1', nodes: { pipe: { type: 'LoadPipeline', inputs: { path: FIXTURE } }, ...nodes }, outputs };
    const result = await new Executor(createRegistry()).run(wf, { services: { ...isolatedServices(), modelRoots: roots } });
    return (node: string, output: string) => {
      const r = result.outputs[node];
      if (r.status !== 'succeeded') throw new Error(`${node}: ${JSON.stringify(r)}`);
      return r.values[output];
    };
  }

  it('CFG with the negative left out: one batched UNet call, the negative zeroed, matching torch\'s CFG step', async () => {
    const p = await load();
    const ref = refs.models.unet;
    const x = rows(ref.inputs.sample, 0, 1);
    expect(p.model.schedule.modelTime(T700)).toBeCloseTo(700, 9);
    const positive = { embeddings: rows(refs.conditioning.embeddings, 0, 1), pooled: rows(refs.conditioning.pooled, 0, 1), sizes: { cropTopLeft: [0, 0] } };
    const run = vi.spyOn(p.model.unet, 'run');
    const [uncond, cond] = await p.model.predictX0Many(x, T700, [undefined, positive]);
    expect(run).toHaveBeenCalledTimes(1);
    const feeds = run.mock.calls[0][0];
    expect(feeds.sample.dims).toEqual([2, 3, 5, 7]);
    expect(feeds.text_embeds.dims).toEqual([2, 10]);
    expect(Array.from(feeds.time_ids.data as Float32Array)).toEqual([10, 14, 0, 0, 10, 14, 10, 14, 0, 0, 10, 14]);
    const eps = ref.outputs.out_sample;
    expect(maxDiff(uncond.data, x0FromEps(p, x, rows(eps, 0, 1)))).toBeLessThanOrEqual(ATOL * 2);
    expect(maxDiff(cond.data, x0FromEps(p, x, rows(eps, 1, 2)))).toBeLessThanOrEqual(ATOL * 2);
  });

  it('an explicit "" negative is encoded, not zeroed; force_zeros_for_empty_prompt: false encodes the omitted one', async () => {
    const value = await execute({ empty: encode('') }, ['empty']);
    const empty = value('empty', 'conditioning') as { embeddings: Tensor; pooled: Tensor };
    expect(maxDiff(empty.embeddings.data, rows(refs.conditioning.embeddings, 1, 2).data)).toBeLessThanOrEqual(ATOL);
    expect(maxDiff(empty.pooled.data, rows(refs.conditioning.pooled, 1, 2).data)).toBeLessThanOrEqual(ATOL);
    expect(Math.max(...empty.pooled.data.map(Math.abs))).toBeGreaterThan(0.01);

    const x = rows(refs.models.unet.inputs.sample, 0, 1);
    const zeroing = await load();
    const explicit = await zeroing.model.predictX0(x, T700, empty);
    const omitted = await zeroing.model.predictX0(x, T700, undefined);
    expect(maxDiff(omitted.data, x0FromEps(zeroing, x, rows(refs.models.unet.outputs.out_sample, 0, 1)))).toBeLessThanOrEqual(ATOL * 2);
    expect(maxDiff(explicit.data, omitted.data)).toBeGreaterThan(1e-3);

    const encoding = await load([variant((index) => { index.force_zeros_for_empty_prompt = false; })]);
    expect(encoding.model.info.forceZerosForEmptyPrompt).toBe(false);
    expect(maxDiff((await encoding.model.predictX0(x, T700, undefined)).data, explicit.data)).toBeLessThanOrEqual(1e-6);
  });

  it('size and crop conditioning from TextEncode\'s inputs reach time_ids, and an omitted negative takes the positive\'s', async () => {
    const ref = refs.models.unet_size_conditioning;
    expect(ref.inputs.time_ids.data).toEqual([24, 40, 3, 5, 10, 14]);
    const value = await execute({ pos: encode(refs.conditioning.prompts[0], { original_height: 24, original_width: 40, crop_top: 3, crop_left: 5 }) }, ['pos']);
    const positive = value('pos', 'conditioning') as Record<string, unknown>;
    const p = await load();
    const x = tensor(ref.inputs.sample);
    const run = vi.spyOn(p.model.unet, 'run');
    const [, cond] = await p.model.predictX0Many(x, T700, [undefined, positive]);
    expect(maxDiff(cond.data, x0FromEps(p, x, tensor(ref.outputs.out_sample)))).toBeLessThanOrEqual(ATOL * 2);
    expect(Array.from(run.mock.calls[0][0].time_ids.data as Float32Array).slice(0, 6)).toEqual([24, 40, 3, 5, 10, 14]);
    await expect(execute({ bad: encode('a', { original_height: 24 }) }, ['bad']).then((v) => v('bad', 'conditioning'))).rejects.toThrow(/TextEncode: set both original_height and original_width/);
  });

  it('a CFG run is one UNet call per step; composable and classifier guidance run on the same conditionings', async () => {
    const common = {
      pos: encode('a red circle on the left'),
      other: encode('a blue square'),
      sched: { type: 'Schedule', inputs: { model: link('pipe', 'model'), steps: 4 } },
      solver: { type: 'Solver', inputs: { kind: 'ddim' } },
      noise: { type: 'RandomNoise', inputs: { seed: 3 } },
      latent: { type: 'EmptyLatent', inputs: { model: link('pipe', 'model'), batch: 2 } },
      classifier: { type: 'LoadClassifier', inputs: { path: `${FIXTURE}/classifier`, model: link('pipe', 'model') } },
      cfg: { type: 'CFGGuider', inputs: { model: link('pipe', 'model'), positive: link('pos', 'conditioning'), cfg: 5 } },
      composable: { type: 'ComposableGuider', inputs: { model: link('pipe', 'model'), conditioning_1: link('pos', 'conditioning'), weight_1: 4, conditioning_2: link('other', 'conditioning'), weight_2: -1 } },
      guided: { type: 'ClassifierGuider', inputs: { guider: link('cfg', 'guider'), classifier: link('classifier', 'classifier'), target: { parity: 1 }, scale: 2 } },
    };
    const sample = (guider: string) => ({ type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link(guider, 'guider'), solver: link('solver', 'solver'), sigmas: link('sched', 'sigmas'), latent: link('latent', 'latent') } });
    const runs = vi.fn();
    const { OnnxSession } = await import('../src/runtime/onnx-session.ts');
    const original = OnnxSession.prototype.run;
    const spy = vi.spyOn(OnnxSession.prototype, 'run').mockImplementation(function (this: OnnxSession, feeds, fetch) {
      if (this.file.endsWith(path.join('unet', 'model.onnx'))) runs(feeds.sample.dims[0]);
      return original.call(this, feeds, fetch);
    });
    try {
      const value = await execute({ ...common, s_cfg: sample('cfg'), s_comp: sample('composable'), s_cls: sample('guided') }, ['s_cfg']);
      value('s_cfg', 'samples');
      expect(runs.mock.calls).toEqual([[4], [4], [4], [4]]); // 4 steps, the batch of 2 doubled by CFG, one call each
      runs.mockClear();
      const all = await execute({ ...common, s_comp: sample('composable'), s_cls: sample('guided') }, ['s_comp', 's_cls']);
      expect(runs.mock.calls.filter(([b]) => b === 6)).toHaveLength(4); // composable: ∅ + 2 conditions in one call
      const [plain, guided, composed] = [value('s_cfg', 'samples'), all('s_cls', 'samples'), all('s_comp', 'samples')] as Tensor[];
      for (const t of [guided, composed]) {
        expect(t.shape).toEqual([2, 3, 5, 7]);
        expect(t.data.every(Number.isFinite)).toBe(true);
      }
      expect(maxDiff(guided.data, plain.data)).toBeGreaterThan(1e-4); // the classifier moved the samples
    } finally {
      spy.mockRestore();
    }
  });
});

describe('layouts LoadPipeline refuses, by name', () => {
  it('widths the UNet graph leaves symbolic are checked against unet/config.json at load', async () => {
    const editUnetConfig = (edit: (c: Record<string, number>) => void) => variant((_, dir) => {
      const file = path.join(dir, 'unet', 'config.json');
      const config = JSON.parse(readFileSync(file, 'utf8'));
      edit(config);
      writeFileSync(file, JSON.stringify(config));
    });
    await expect(load([editUnetConfig((c) => { c.cross_attention_dim = 33; })])).rejects.toThrow(/the text encoders make embeddings of width 32 but unet\/model\.onnx expects encoder_hidden_states of width 33/);
    await expect(load([editUnetConfig((c) => { c.projection_class_embeddings_input_dim = 40; })])).rejects.toThrow(/text_encoder_2 makes a pooled projection of width 10 but unet\/model\.onnx expects text_embeds of width 16/);
  });


  it('a conditioning without the pooled embedding (an SD encoder\'s) is refused with the reason', async () => {
    const p = await load();
    const x = rows(refs.models.unet.inputs.sample, 0, 1);
    await expect(p.model.predictX0(x, T700, { embeddings: rows(refs.conditioning.embeddings, 0, 1) })).rejects.toThrow(/no "pooled" text embedding \[batch, width\], which this SDXL UNet needs/);
  });


  it('an SDXL class without text_encoder_2, an SDXL refiner, an SDXL UNet without time_ids, a transformer (SD3/Flux) folder', async () => {
    const { rmSync, renameSync } = await import('node:fs');
    await expect(load([variant((_, dir) => rmSync(path.join(dir, 'text_encoder_2'), { recursive: true }))])).rejects.toThrow(/ORTStableDiffusionXLPipeline is the SDXL layout but text_encoder_2\/ is missing/);
    await expect(load([variant((index) => { index.requires_aesthetics_score = true; })])).rejects.toThrow(/SDXL refiner .* not support/);
    await expect(load([variant((_, dir) => renameSync(path.join(dir, 'unet'), path.join(dir, 'transformer')))])).rejects.toThrow(/transformer\/ denoiser \(the SD3\/Flux layouts\)/);
    const sdUnet = variant((_, dir) => cpSync(path.join(fixtures, 'sd-fp16', 'float32', 'unet'), path.join(dir, 'unet'), { recursive: true }));
    await expect(load([sdUnet])).rejects.toThrow(/SDXL layout but unet\/model\.onnx has no 'text_embeds' input/);
  });
});
