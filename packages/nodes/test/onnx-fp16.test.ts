/**
 * fp16 exports (models/fixtures/sd-fp16, built by models/build/fixtures/make_fp16_fixture.py): a tiny
 * seeded random SD-layout pipeline exported as float32, as fully float16 (optimum --fp16: float16 IO,
 * int64 ids, a 0-d float16 timestep, `latent_parameters`, the UNet in weights.pb external data) and as
 * mixed (float16 weights, float32 IO). Each loads through LoadPipeline, every component matches torch's
 * float32 outputs (as does a LoadClassifier folder beside each), and a CFG run of each matches the float32 export's within the documented bound
 * (docs/model-pack.md, "fp16 exports").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import type * as ort from 'onnxruntime-node';
import { createRegistry } from '../src/index.ts';
import { loadClassifier, type LoadedClassifier } from '../src/guiders/load-classifier.ts';
import { loadPipeline, type Pipeline } from '../src/models/onnx/pipeline.ts';
import { OnnxVae } from '../src/models/onnx/vae.ts';
import type { OnnxSession } from '../src/runtime/onnx-session.ts';
import { fromOrt, idsTensor } from '../src/runtime/ort-tensors.ts';
import { testStore } from './fixtures/onnx-helpers.ts';
import { isolatedServices } from './services.ts';

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models/fixtures/sd-fp16');

interface RefTensor { type: 'float32' | 'int64'; dims: number[]; data: number[] }
interface RefModel { inputs: Record<string, RefTensor>; outputs: Record<string, RefTensor> }
const references = JSON.parse(readFileSync(path.join(fixtures, 'references.json'), 'utf8')).models as Record<string, RefModel>;

/**
 * The documented bounds (docs/model-pack.md, "fp16 exports"; measured values in brackets). Float16
 * keeps 11 significant bits (a relative step of 2^-11 ≈ 4.9e-4), so its bounds are relative to the
 * largest magnitude of the float32 result.
 */
/** The float32 export against torch, max |Δ| [≤ 5.2e-7]. */
const FLOAT32_ATOL = 1e-4;
/** One component of a float16 form against torch [fp16 ≤ 6.0e-4, mixed ≤ 3.3e-4]. */
const FP16_COMPONENT_RELATIVE = 2e-3;
/** The final latent (and its VAE re-encoding) of a 6-step CFG-4 run against the float32 export's [fp16 4.8e-3, mixed 9.3e-4]. */
const FP16_RUN_LATENT_RELATIVE = 2e-2;
/** The decoded image in [0, 1] of that run, max |Δ| [fp16 1.5e-3, mixed 4.8e-4]. */
const FP16_RUN_IMAGE_ATOL = 5e-3;

const VARIANTS = ['float32', 'fp16', 'mixed'] as const;
type Variant = (typeof VARIANTS)[number];

async function load(variant: Variant): Promise<Pipeline> {
  const { store } = testStore([fixtures]);
  return loadPipeline(store, variant);
}

async function loadFixtureClassifier(variant: Variant, model?: Pipeline['model']): Promise<LoadedClassifier> {
  const { store } = testStore([fixtures]);
  return loadClassifier(store, `${variant}/classifier`, model);
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]));
  return m;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** One raw session run on the reference inputs, each fed as the session declares it (dtype and rank). */
async function runReference(session: OnnxSession, ref: RefModel): Promise<Record<string, Tensor>> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, r] of Object.entries(ref.inputs)) {
    const declared = session.input(name);
    const dims = declared.shape.length === 0 ? [] : r.dims;
    feeds[name] = r.type === 'int64' ? idsTensor(r.data, dims, declared.dtype) : session.feed(name, Tensor.from(dims, r.data));
  }
  const out = await session.run(feeds, Object.keys(ref.outputs));
  return Object.fromEntries(Object.keys(ref.outputs).map((name) => [name, fromOrt(out[name], session.file, name)]));
}

async function componentSessions(variant: Variant): Promise<Record<string, OnnxSession>> {
  const p = await load(variant);
  const classifier = await loadFixtureClassifier(variant, p.model);
  return { text_encoder: p.textEncoder.session, unet: p.model.unet, vae_decoder: p.vae.decoder, vae_encoder: p.vae.encoder!, classifier: classifier.grad };
}

describe('fp16 exports load through LoadPipeline', () => {
  it('reads each element type from the session: float16 IO, a 0-d float16 timestep, int64 ids; sizes from config.json', async () => {
    const p = await load('fp16');
    expect(p.model.unet.input('sample').dtype).toBe('float16');
    expect(p.model.unet.input('timestep')).toMatchObject({ dtype: 'float16', shape: [] });
    expect(p.textEncoder.session.input('input_ids').dtype).toBe('int64');
    expect(p.textEncoder.session.output('last_hidden_state').dtype).toBe('float16');
    expect(p.vae.decoder.input('latent_sample').dtype).toBe('float16');
    expect([...p.vae.encoder!.outputs.keys()]).toEqual(['latent_parameters']);
    // The graphs leave the channels symbolic ('unet_sample_channels', 'num_channels_latent'): the sizes are the configs'.
    expect(p.model.unet.input('sample').shape[1]).toBe('unet_sample_channels');
    expect(p.model.sampleShape).toEqual([3, 5, 7]);
    expect(p.vae.latentChannels).toBe(3);
    expect(p.model.dtype).toBe('float32');
  });

  it.each(VARIANTS)('%s: every component matches torch float32 (float32 ≤ 1e-4, float16 forms within 2e-3 of the largest magnitude)', async (variant) => {
    for (const [component, session] of Object.entries(await componentSessions(variant))) {
      const ref = references[component];
      const outputs = await runReference(session, ref);
      for (const [name, expected] of Object.entries(ref.outputs)) {
        const actual = outputs[name];
        expect(actual.shape, `${variant} ${component} ${name}`).toEqual(expected.dims);
        expect(actual.data).toBeInstanceOf(Float32Array);
        const bound = variant === 'float32' ? FLOAT32_ATOL : FP16_COMPONENT_RELATIVE * maxAbs(expected.data);
        expect(maxDiff(actual.data, expected.data), `${variant} ${component} ${name}`).toBeLessThanOrEqual(bound);
      }
    }
  });
});

describe('sizes the graph does not declare', () => {
  it('checks the VAE encoder\'s latent_parameters (labelled like the latent) against latent_channels from config.json', async () => {
    const { store } = testStore([fixtures]);
    const [decoder, encoder] = await Promise.all(['vae_decoder', 'vae_encoder'].map((c) => store.open(path.join(fixtures, 'fp16', c, 'model.onnx'))));
    const image = Tensor.from([1, 3, 10, 14], Array.from({ length: 420 }, (_, i) => (i % 11) / 10));
    const right = new OnnxVae({ name: 'vae', decoder, encoder, scalingFactor: 0.9, latentChannels: 3 });
    expect((await right.encode(image)).shape).toEqual([1, 3, 5, 7]);
    const wrong = new OnnxVae({ name: 'vae', decoder, encoder, scalingFactor: 0.9, latentChannels: 4 });
    await expect(wrong.encode(image)).rejects.toThrow(/output 'latent_parameters' has 6 channels, expected 8 \(mean and log-variance of 4 latent channels\): check latent_channels/);
  });
});

describe('a float16 classifier (LoadClassifier)', () => {
  it('gives the float32 export\'s logits and gradient within the component bound', async () => {
    const x = Tensor.from([2, 3, 5, 7], Array.from({ length: 210 }, (_, i) => Math.sin(i * 0.37) * 1.5));
    const weights = Tensor.from([2, 5], [1, 0, 0.5, 0, 0, 0, 1, 0, 0, 2]);
    const [reference, half] = await Promise.all((['float32', 'fp16'] as const).map(async (v) => (await loadFixtureClassifier(v)).classifier.logitsAndGrad(x, 0.6, weights)));
    expect(half.logits.data).toBeInstanceOf(Float32Array);
    expect(maxDiff(half.logits.data, reference.logits.data)).toBeLessThanOrEqual(FP16_COMPONENT_RELATIVE * maxAbs(reference.logits.data));
    expect(maxDiff(half.grad!.data, reference.grad!.data)).toBeLessThanOrEqual(FP16_COMPONENT_RELATIVE * maxAbs(reference.grad!.data));
  });
});

describe('sampling an fp16 export', () => {
  const link = (from: string, output: string) => ({ from, output });
  const workflow = (variant: Variant): Workflow => ({
    format: 'diffgraph/workflow@1',
    nodes: {
      pipe: { type: 'LoadPipeline', inputs: { path: variant } },
      pos: { type: 'TextEncode', inputs: { encoder: link('pipe', 'text_encoder'), text: 'a red circle' } },
      neg: { type: 'TextEncode', inputs: { encoder: link('pipe', 'text_encoder'), text: '' } },
      cfg: { type: 'CFGGuider', inputs: { model: link('pipe', 'model'), positive: link('pos', 'conditioning'), negative: link('neg', 'conditioning'), cfg: 4 } },
      latent: { type: 'EmptyLatent', inputs: { model: link('pipe', 'model'), batch: 2 } },
      sched: { type: 'Schedule', inputs: { model: link('pipe', 'model'), spacing: 'trailing', steps: 6 } },
      solver: { type: 'Solver', inputs: { kind: 'ddim' } },
      noise: { type: 'RandomNoise', inputs: { seed: 11 } },
      sample: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('cfg', 'guider'), solver: link('solver', 'solver'), sigmas: link('sched', 'sigmas'), latent: link('latent', 'latent') } },
      decode: { type: 'VAEDecode', inputs: { vae: link('pipe', 'vae'), latent: link('sample', 'samples') } },
      encode: { type: 'VAEEncode', inputs: { vae: link('pipe', 'vae'), image: link('decode', 'image') } },
    },
    outputs: ['sample', 'decode', 'encode'],
  });

  async function run(variant: Variant): Promise<{ latent: Tensor; image: Tensor; encoded: Tensor }> {
    const result = await new Executor(createRegistry()).run(workflow(variant), { services: { ...isolatedServices(), modelRoots: [fixtures] } });
    const value = (node: string, output: string) => {
      const r = result.outputs[node];
      if (r.status !== 'succeeded') throw new Error(`${variant} ${node}: ${JSON.stringify(r)}`);
      return r.values[output] as Tensor;
    };
    return { latent: value('sample', 'samples'), image: value('decode', 'image'), encoded: value('encode', 'latent') };
  }

  it('a 6-step DDIM run with CFG 4 of the fp16 and the mixed export matches the float32 export within the documented bound', async () => {
    const reference = await run('float32');
    expect(reference.latent.shape).toEqual([2, 3, 5, 7]);
    expect(reference.image.shape).toEqual([2, 3, 10, 14]);
    expect(maxAbs(reference.latent.data)).toBeGreaterThan(0.1); // the run is not trivially all zeros
    for (const variant of ['fp16', 'mixed'] as const) {
      const r = await run(variant);
      expect(r.latent.data).toBeInstanceOf(Float32Array);
      expect(maxDiff(r.latent.data, reference.latent.data), `${variant} latent`).toBeLessThanOrEqual(FP16_RUN_LATENT_RELATIVE * maxAbs(reference.latent.data));
      expect(maxDiff(r.image.data, reference.image.data), `${variant} image`).toBeLessThanOrEqual(FP16_RUN_IMAGE_ATOL);
      expect(maxDiff(r.encoded.data, reference.encoded.data), `${variant} VAEEncode`).toBeLessThanOrEqual(FP16_RUN_LATENT_RELATIVE * maxAbs(reference.encoded.data));
    }
  });
});
