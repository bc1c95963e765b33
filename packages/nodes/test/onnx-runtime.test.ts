/** The model store: confinement to the model roots, session sharing and LRU, provider notice, clear load errors. */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveModelPath } from '../src/runtime/model-paths.ts';
import { planProviders } from '../src/runtime/execution-providers.ts';
import { loadPipeline } from '../src/models/onnx/pipeline.ts';
import { loadOnnxModel } from '../src/models/onnx/single-model.ts';
import { loadClassifier } from '../src/guiders/load-classifier.ts';
import { contractProblems } from '../src/runtime/io-contract.ts';
import { FLOAT_IO_DTYPES } from '../src/runtime/ort-tensors.ts';
import { isInside, resolveInside } from '../src/io/paths.ts';
import { buildModel } from './fixtures/onnx-builder.ts';
import { textEncoderGraph, unetGraph, vaeDecoderGraph, writeTinyPipeline } from './fixtures/tiny-pipeline.ts';
import { tempRoot, testStore } from './fixtures/onnx-helpers.ts';

describe('model roots', () => {
  const base = tempRoot();
  const root = path.join(base, 'models');
  const outside = path.join(base, 'secret');
  mkdirSync(path.join(root, 'pack'), { recursive: true });
  mkdirSync(outside, { recursive: true });
  writeFileSync(path.join(outside, 'model.onnx'), 'x');
  symlinkSync(outside, path.join(root, 'escape'));

  it('resolves a name inside a root to its real path', () => {
    expect(resolveModelPath([root], 'pack')).toBe(path.join(root, 'pack'));
  });

  it('refuses names that lead outside the roots, lexically or through a symlink', () => {
    expect(() => resolveModelPath([root], '../secret')).toThrow(/"\.\.\/secret" is outside the model roots/);
    expect(() => resolveModelPath([root], outside)).toThrow(/outside the model roots/);
    expect(() => resolveModelPath([root], 'escape/model.onnx')).toThrow(/leads outside the model roots .* through a symlink/);
  });

  it('says which roots were searched when a name is missing', () => {
    expect(() => resolveModelPath([root], 'nope')).toThrow(`"nope" was not found in the model roots (${root})`);
  });

  it('LoadPipeline refuses a pipeline outside the roots', async () => {
    const { store } = testStore([root]);
    await expect(loadPipeline(store, '../secret')).rejects.toThrow(/outside the model roots/);
  });

  it('reads a pipeline folder again once a file in it changes or is re-linked, and refuses a link swapped out of the roots after a load', async () => {
    const dir = writeTinyPipeline(path.join(root, 'swapped'));
    const elsewhere = writeTinyPipeline(path.join(outside, 'swapped-other'));
    const { store } = testStore([root]);
    const first = await loadPipeline(store, 'swapped');
    expect(await loadPipeline(store, 'swapped')).toBe(first);
    const config = path.join(dir, 'vae_decoder', 'config.json');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(config, 'utf8')), scaling_factor: 0.5 }));
    const edited = await loadPipeline(store, 'swapped');
    expect(edited).not.toBe(first);
    expect(edited.vae.scalingFactor).toBe(0.5);
    rmSync(path.join(dir, 'unet'), { recursive: true });
    symlinkSync(path.join(elsewhere, 'unet'), path.join(dir, 'unet'));
    await expect(loadPipeline(store, 'swapped')).rejects.toThrow(/leads outside the model roots .* through a symlink/);
  });

  it('refuses a component of a pipeline that is a symlink out of the roots', async () => {
    const dir = writeTinyPipeline(path.join(root, 'linked'));
    const elsewhere = writeTinyPipeline(path.join(outside, 'other'));
    rmSync(path.join(dir, 'unet'), { recursive: true });
    symlinkSync(path.join(elsewhere, 'unet'), path.join(dir, 'unet'));
    const { store } = testStore([root]);
    const error = await loadPipeline(store, 'linked').catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/unet\/(config\.json|model\.onnx) leads outside the model roots .* through a symlink/);
    // Where the link points is a path outside every root: the message never names it.
    expect((error as Error).message).not.toContain(outside);
  });

  // A secret outside the roots whose first bytes a JSON parse error would quote.
  const secretFile = path.join(outside, 'secret.txt');
  writeFileSync(secretFile, 'TOP-SECRET-CONTENT: not json');

  /** A copy of the tiny pipeline with one of its JSON files replaced by a link to the secret. */
  function packWithLinkedFile(name: string, relative: string): string {
    const dir = writeTinyPipeline(path.join(root, name));
    rmSync(path.join(dir, relative));
    symlinkSync(secretFile, path.join(dir, relative));
    return dir;
  }

  it.each([
    ['scheduler/scheduler_config.json'],
    ['model_index.json'],
    ['unet/config.json'],
    ['vae_decoder/config.json'],
    ['tokenizer/tokenizer.json'],
    ['tokenizer/tokenizer_config.json'],
  ])('refuses a pack whose %s is a symlink out of the roots, without reading it', async (relative) => {
    packWithLinkedFile(`json-link-${relative.replace(/\W/g, '-')}`, relative);
    const { store } = testStore([root]);
    const error = await loadPipeline(store, `json-link-${relative.replace(/\W/g, '-')}`).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    const message = (error as Error).message;
    expect(message).toMatch(new RegExp(`${relative.replace(/[./]/g, '\\$&')} leads outside the model roots`));
    expect(message).not.toMatch(/TOP-SECRET|not json/);
    expect(message).not.toContain(outside);
  });

  it('refuses a LoadOnnxModel sidecar and a classifier config that link out of the roots', async () => {
    const { store } = testStore([root]);
    const dir = packWithLinkedFile('sidecar-link', 'scheduler/scheduler_config.json');
    symlinkSync(secretFile, path.join(dir, 'unet', 'model.json'));
    const sidecar = await loadOnnxModel(store, 'sidecar-link/unet/model.onnx', '').catch((e: Error) => e);
    expect((sidecar as Error).message).toMatch(/leads outside the model roots .*through a symlink/);
    expect((sidecar as Error).message).not.toMatch(/TOP-SECRET/);
    mkdirSync(path.join(root, 'clf'), { recursive: true });
    writeFileSync(path.join(root, 'clf', 'grad.onnx'), 'x');
    symlinkSync(secretFile, path.join(root, 'clf', 'config.json'));
    const classifier = await loadClassifier(store, 'clf').catch((e: Error) => e);
    expect((classifier as Error).message).toMatch(/config\.json leads outside the model roots/);
    expect((classifier as Error).message).not.toMatch(/TOP-SECRET/);
  });

  it('refuses external weights beside a graph (weights.pb) that link out of the roots', async () => {
    const dir = writeTinyPipeline(path.join(root, 'weights-link'));
    symlinkSync(secretFile, path.join(dir, 'unet', 'weights.pb'));
    const { store } = testStore([root]);
    const error = await loadPipeline(store, 'weights-link').catch((e: Error) => e);
    expect((error as Error).message).toMatch(/external weights .*unet\/weights\.pb leads outside the model roots/);
  });

  it('a name inside the root that starts with ".." is inside: "..pack", "..x.npy"', () => {
    mkdirSync(path.join(root, '..pack'), { recursive: true });
    expect(resolveModelPath([root], '..pack')).toBe(path.join(root, '..pack'));
    expect(resolveInside(root, '..x.npy')).toBe(path.join(root, '..x.npy'));
    expect(isInside(root, path.join(root, '..x'))).toBe(true);
    expect(isInside(root, path.join(root, '...'))).toBe(true);
    expect(isInside(root, root)).toBe(true);
    expect(isInside(root, path.dirname(root))).toBe(false);
    expect(isInside(root, path.join(root, '..', 'sibling'))).toBe(false);
    expect(isInside(root, `${root}-sibling`)).toBe(false);
    expect(() => resolveInside(root, '../x')).toThrow(/outside the allowed folder/);
  });
});

describe('execution providers', () => {
  it('falls back to CPU with a one-line notice when the CUDA provider is not installed', () => {
    const plan = planProviders('auto');
    // This machine's onnxruntime-node has only the bundled CPU provider.
    expect(plan.providers).toEqual(['cpu']);
    expect(plan.notice).toMatch(/CUDA execution provider not installed, falling back to CPU/);
    expect(() => planProviders('cuda')).toThrow(/CUDA execution provider was requested but is not installed/);
  });
});

describe('session sharing and errors', () => {
  const root = tempRoot();
  writeTinyPipeline(path.join(root, 'tiny'));

  it('loads each file once, shares it, logs the provider once, and evicts least recently used sessions', async () => {
    const { store, log } = testStore([root], { maxSessions: 2 });
    const unet = path.join(root, 'tiny', 'unet', 'model.onnx');
    const a = await store.open(unet);
    const b = await store.open(unet);
    expect(store.loads).toBe(1);
    expect(a.file).toBe(b.file);
    expect(log.filter((l) => l.includes('falling back to CPU'))).toHaveLength(1);
    await store.open(path.join(root, 'tiny', 'text_encoder', 'model.onnx'));
    await store.open(path.join(root, 'tiny', 'vae_decoder', 'model.onnx'));
    expect(store.loaded().map((f) => path.basename(path.dirname(f)))).toEqual(['text_encoder', 'vae_decoder']);
    // The evicted UNet reloads transparently on its next run.
    const { Tensor } = await import('@diffgraph/engine');
    const { toOrt } = await import('../src/runtime/ort-tensors.ts');
    const ort = await import('onnxruntime-node');
    const out = await a.run({
      sample: toOrt(Tensor.zeros([1, 3, 6, 10])),
      timestep: new ort.Tensor('float32', new Float32Array([10]), [1]),
      encoder_hidden_states: toOrt(Tensor.zeros([1, 7, 5])),
    }, ['out_sample']);
    expect(out.out_sample.dims).toEqual([1, 3, 6, 10]);
    expect(store.loads).toBe(4);
    await store.close();
  });

  it('names the file of a corrupt model', async () => {
    const dir = writeTinyPipeline(path.join(root, 'corrupt'));
    writeFileSync(path.join(dir, 'unet', 'model.onnx'), Buffer.from('this is not protobuf at all \u0000\u0001'));
    const { store } = testStore([root]);
    await expect(loadPipeline(store, 'corrupt')).rejects.toThrow(/cannot load ONNX model .*corrupt\/unet\/model\.onnx: .*not a valid ONNX model/);
  });

  it('names a missing component', async () => {
    const dir = writeTinyPipeline(path.join(root, 'missing'));
    const { rmSync } = await import('node:fs');
    rmSync(path.join(dir, 'vae_decoder', 'model.onnx'));
    const { store } = testStore([root]);
    await expect(loadPipeline(store, 'missing')).rejects.toThrow(/missing: vae_decoder\/model\.onnx is missing/);
    rmSync(path.join(dir, 'scheduler', 'scheduler_config.json'));
    await expect(loadPipeline(store, 'missing')).rejects.toThrow(/scheduler\/scheduler_config\.json is missing/);
  });

  it('lists every IO mismatch with file, input, expected and found', async () => {
    const dir = writeTinyPipeline(path.join(root, 'wrong'), { sampleName: 'x', timestep: { type: 'int32', dims: ['batch'] } });
    const { store } = testStore([root]);
    const error = await loadPipeline(store, 'wrong').then(() => null, (e: Error) => e.message);
    expect(error).toContain(path.join(dir, 'unet', 'model.onnx'));
    expect(error).toContain("missing input 'sample' (the model declares inputs: x, timestep, encoder_hidden_states)");
    expect(error).toContain("input 'timestep': expected dtype int64 or float32 or float16, found int32");
    expect(error).toContain("unexpected input 'x'");
  });

  it('says why bfloat16 IO cannot be used', () => {
    const declared = new Map([['sample', { name: 'sample', dtype: 'bfloat16', shape: [1, 4, 8, 8] }]]);
    const problems = contractProblems({ inputs: { sample: { dtypes: FLOAT_IO_DTYPES, ranks: [4] } }, outputs: {} }, declared, new Map());
    expect(problems).toEqual(["input 'sample': expected dtype float32 or float16, found bfloat16 (onnxruntime-node cannot pass bfloat16 tensors: re-export with float16 or float32 inputs and outputs)"]);
  });

  it('rejects a text encoder without last_hidden_state and a VAE with other latent channels than the UNet', async () => {
    const dir = writeTinyPipeline(path.join(root, 'wrong2'));
    const te = textEncoderGraph();
    te.outputs = te.outputs.filter((o) => o.name !== 'last_hidden_state');
    te.nodes = te.nodes.map((n) => (n.outputs[0] === 'last_hidden_state' ? { ...n, outputs: ['hidden'] } : n));
    writeFileSync(path.join(dir, 'text_encoder', 'model.onnx'), buildModel(te));
    const { store } = testStore([root]);
    await expect(loadPipeline(store, 'wrong2')).rejects.toThrow(/text_encoder\/model\.onnx: not a valid text encoder model:\n {2}- missing output 'last_hidden_state' \(the model declares outputs: pooler_output\)/);

    writeFileSync(path.join(dir, 'text_encoder', 'model.onnx'), buildModel(textEncoderGraph()));
    const dec = vaeDecoderGraph();
    dec.inputs[0] = { ...dec.inputs[0], dims: ['batch', 4, 'h', 'w'] };
    dec.inits![0] = { name: 'K', dims: [3, 4, 1, 1], floats: Array.from({ length: 12 }, () => 1) };
    writeFileSync(path.join(dir, 'vae_decoder', 'model.onnx'), buildModel(dec));
    await expect(loadPipeline(testStore([root]).store, 'wrong2')).rejects.toThrow(/the UNet works on 3 latent channels but the VAE decoder on 4/);
  });

  it('rejects a UNet whose context width differs from the text encoder\'s', async () => {
    const dir = writeTinyPipeline(path.join(root, 'width'));
    const g = unetGraph();
    g.inputs[2] = { ...g.inputs[2], dims: ['batch', 7, 6] };
    writeFileSync(path.join(dir, 'unet', 'model.onnx'), buildModel(g));
    await expect(loadPipeline(testStore([root]).store, 'width')).rejects.toThrow(/text encoder makes embeddings of width 5 but unet\/model\.onnx expects encoder_hidden_states of width 6/);
  });
});
