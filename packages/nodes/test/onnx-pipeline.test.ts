/**
 * LoadPipeline on tiny non-SD pipelines built in the test: shapes come from the files, the timestep is
 * fed as the session declares it, eps/v/flow outputs convert to x0 exactly, CFG is one session run per
 * step, the VAE scales and clamps, and the nodes work end to end through the executor.
 */
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { loadPipeline } from '../src/models/onnx/pipeline.ts';
import { loadOnnxModel } from '../src/models/onnx/single-model.ts';
import { cfgGuider } from '../src/guiders/cfg-guider.ts';
import { buildModel } from './fixtures/onnx-builder.ts';
import { DDIM_CONFIG, TINY, writeTinyPipeline, type TinyOptions } from './fixtures/tiny-pipeline.ts';
import { tempRoot, testStore } from './fixtures/onnx-helpers.ts';
import { isolatedServices } from './services.ts';

const root = tempRoot();
let counter = 0;
async function tiny(o: TinyOptions = {}) {
  const name = `p${counter++}`;
  writeTinyPipeline(path.join(root, name), o);
  const { store, log } = testStore([root]);
  return { ...(await loadPipeline(store, name, (m) => log.push(m))), log, name };
}

/** A deterministic test state [B, C, H, W]. */
function state(batch: number): Tensor {
  const n = batch * TINY.channels * TINY.height * TINY.width;
  return Tensor.from([batch, TINY.channels, TINY.height, TINY.width], Array.from({ length: n }, (_, i) => Math.sin(i * 0.37)));
}

/** What the tiny UNet computes for item b: A·x + B·timestep + C·mean(embeddings[b]). */
function unetOut(x: Tensor, timestep: number, embeddingMeans: number[]): Float64Array {
  const per = x.size / x.shape[0];
  return Float64Array.from(x.data, (v, i) => TINY.a * v + TINY.b * timestep + TINY.c * embeddingMeans[Math.floor(i / per)]);
}

const mean = (t: Tensor) => Array.from(t.data).reduce((s, v) => s + v, 0) / t.size;

function expectClose(actual: Tensor, expected: ArrayLike<number>, tol = 1e-5) {
  expect(actual.size).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual.data[i] - expected[i]));
  expect(worst).toBeLessThanOrEqual(tol);
}

describe('LoadPipeline reads everything from the files', () => {
  it('takes the sample shape from the session: 3 channels, non-square 6×10 latents', async () => {
    const p = await tiny();
    expect(p.model.sampleShape).toEqual([3, 6, 10]);
    expect(p.model.schedule.kind).toBe('discrete');
    expect(p.model.parameterization).toBe('eps');
    expect(p.model.info).toMatchObject({ scheduler: 'DDIMScheduler', timestepSpacing: 'trailing', stepsOffset: 1 });
    expect(p.textEncoder.tokenizer.length).toBe(7);
    expect(p.vae.scalingFactor).toBe(1.25);
    expect(p.vae.latentChannels).toBe(3);
    expect(p.log.some((l) => l.includes('eps prediction on a discrete schedule'))).toBe(true);
  });

  it('falls back to unet/config.json (in_channels, sample_size [h, w]) for symbolic axes', async () => {
    const p = await tiny({ declareSampleDims: false, unetConfig: { in_channels: 3, sample_size: [6, 10] } });
    expect(p.model.sampleShape).toEqual([3, 6, 10]);
  });

  it('says what is missing when neither the session nor the config gives the sample shape', async () => {
    await expect(tiny({ declareSampleDims: false, unetConfig: {} })).rejects.toThrow(/cannot tell the sample shape: input 'sample' is declared \[batch, channels, height, width\]/);
  });

  it('encodes text with int32 or int64 ids as declared, and selects last_hidden_state by name', async () => {
    for (const idsType of ['int32', 'int64'] as const) {
      const p = await tiny({ idsType, declareTextWidth: false });
      const { embeddings } = await p.textEncoder.encode(['a red circle']);
      expect(embeddings.shape).toEqual([1, 7, 5]);
      // ids: <bos>=1 a=4 red=5 circle=7 <eos>=2 <pad>=0 <pad>=0; embedding[s, d] = id·w[d].
      const ids = [1, 4, 5, 7, 2, 0, 0];
      expectClose(embeddings, ids.flatMap((id) => TINY.w.map((w) => id * w)), 0);
      expect(p.textEncoder.session.input('input_ids').dtype).toBe(idsType);
    }
  });
});

describe('the UNet model', () => {
  const t = 0.6;
  const cases: { label: string; timestep: TinyOptions['timestep'] }[] = [
    { label: 'int64 [batch] (old diffusers/optimum)', timestep: { type: 'int64', dims: ['batch'] } },
    { label: 'float32 [batch] (diffusers)', timestep: { type: 'float32', dims: ['batch'] } },
    { label: 'float32 [1]', timestep: { type: 'float32', dims: [1] } },
    { label: 'float32 scalar [] (optimum since 2024)', timestep: { type: 'float32', dims: [] } },
  ];
  for (const c of cases) {
    it(`feeds a timestep declared ${c.label} and converts eps to x0 exactly`, async () => {
      const p = await tiny({ timestep: c.timestep });
      const cond = (await p.textEncoder.encode(['a red circle'])).embeddings;
      const x = state(2);
      const x0 = await p.model.predictX0(x, t, { embeddings: cond });
      const step = p.model.schedule.modelTime(t);
      expect(step).toBeCloseTo(599, 9);
      const networkStep = c.timestep!.type === 'int64' ? Math.round(step) : step;
      const eps = unetOut(x, networkStep, [mean(cond), mean(cond)]);
      const a = p.model.schedule.alpha(t), s = p.model.schedule.sigma(t);
      expectClose(x0, Array.from(x.data, (v, i) => (v - s * eps[i]) / a));
    });
  }

  it('converts v-prediction: x0 = alpha·x − sigma·v', async () => {
    const p = await tiny({ scheduler: { ...DDIM_CONFIG, prediction_type: 'v_prediction' } });
    expect(p.model.parameterization).toBe('v');
    const cond = (await p.textEncoder.encode(['blue square'])).embeddings;
    const x = state(1);
    const x0 = await p.model.predictX0(x, 0.3, { embeddings: cond });
    const v = unetOut(x, p.model.schedule.modelTime(0.3), [mean(cond)]);
    const a = p.model.schedule.alpha(0.3), s = p.model.schedule.sigma(0.3);
    expectClose(x0, Array.from(x.data, (xi, i) => a * xi - s * v[i]));
  });

  it('reads a flow-matching scheduler: timestep = 1000·t and x0 = x − t·velocity', async () => {
    const p = await tiny({ scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: 1000, shift: 1.0, use_dynamic_shifting: false } });
    expect(p.model.schedule.kind).toBe('flow');
    expect(p.model.parameterization).toBe('flow');
    const cond = (await p.textEncoder.encode(['red'])).embeddings;
    const x = state(1);
    const x0 = await p.model.predictX0(x, 0.25, { embeddings: cond });
    const u = unetOut(x, 250, [mean(cond)]);
    expectClose(x0, Array.from(x.data, (xi, i) => xi - 0.25 * u[i]));
  });

  it('runs all conditionings of predictX0Many in ONE session run, each result matching its own conditioning', async () => {
    const p = await tiny();
    const e = async (text: string) => (await p.textEncoder.encode([text])).embeddings;
    const [c1, c2, c3] = [await e('a red circle'), await e('blue square on the left'), await e('')];
    const x = state(2);
    const before = p.model.unet.runs;
    const outs = await p.model.predictX0Many(x, 0.5, [{ embeddings: c1 }, { embeddings: c2 }, { embeddings: c3 }]);
    expect(p.model.unet.runs - before).toBe(1);
    expect(outs).toHaveLength(3);
    for (const [i, c] of [c1, c2, c3].entries()) {
      expectClose(outs[i], Array.from(await p.model.predictX0(x, 0.5, { embeddings: c }).then((r) => r.data)));
    }
    // No conditioning = the empty prompt (encoded once by the pipeline).
    expectClose(await p.model.predictX0(x, 0.5), Array.from(outs[2].data));
  });

  it('reuses the stacked conditionings while a sampler asks with the same ones, and restacks when they or the batch change', async () => {
    const p = await tiny();
    const e = async (text: string) => ({ embeddings: (await p.textEncoder.encode([text])).embeddings });
    const [red, blue] = [await e('a red circle'), await e('blue square on the left')];
    const calls = [[state(2), [red, blue]], [state(2), [red, blue]], [state(2), [blue, red]], [state(1), [blue, red]], [state(2), [red]]] as const;
    const times = [0.6, 0.4];
    // Each conditioning alone first, so the calls below follow one another as a sampler's do.
    const expected: number[][][] = [];
    for (const [x, conditionings] of calls) {
      for (const t of times) expected.push(await Promise.all(conditionings.map(async (c) => Array.from((await p.model.predictX0(x, t, c)).data))));
    }
    let k = 0;
    for (const [x, conditionings] of calls) {
      for (const t of times) {
        const outs = await p.model.predictX0Many(x, t, conditionings);
        const want = expected[k++];
        conditionings.forEach((_, i) => expectClose(outs[i], want[i]));
      }
    }
  });

  it('shares a loaded pipeline between loads from one store while its files are unchanged, and reports it each time', async () => {
    const p = await tiny();
    const { store, log } = testStore([root]);
    const first = await loadPipeline(store, p.name, (m) => log.push(m));
    const summary = log.filter((l) => l.includes('eps prediction on a discrete schedule'));
    expect(summary).toHaveLength(1);
    const second = await loadPipeline(store, p.name, (m) => log.push(m));
    expect(second).toBe(first);
    expect(log.filter((l) => l.includes('eps prediction on a discrete schedule'))).toEqual([...summary, ...summary]);
    // Another store (another host) reads the folder itself.
    expect(await loadPipeline(testStore([root]).store, p.name)).not.toBe(first);
  });

  it('CFGGuider: uncond + cfg·(cond − uncond) from one UNet run per step', async () => {
    const p = await tiny();
    const pos = { embeddings: (await p.textEncoder.encode(['a red circle'])).embeddings };
    const neg = { embeddings: (await p.textEncoder.encode([''])).embeddings };
    const x = state(1);
    const guider = cfgGuider(p.model, pos, neg, 4);
    const before = p.model.unet.runs;
    const guided = await guider.denoise(x, 0.7);
    expect(p.model.unet.runs - before).toBe(1);
    const c = await p.model.predictX0(x, 0.7, pos), u = await p.model.predictX0(x, 0.7, neg);
    expectClose(guided, Array.from(u.data, (ui, i) => ui + 4 * (c.data[i] - ui)));
  });

  it('rejects a conditioning from another encoder with a clear message', async () => {
    const p = await tiny();
    await expect(p.model.predictX0(state(1), 0.5, { embeddings: Tensor.zeros([1, 7, 9]) })).rejects.toThrow(/input 'encoder_hidden_states' expects \[batch, 7, 5\], the conditioning is \[1, 7, 9\]/);
    await expect(p.model.predictX0(state(1), 0.5, { components: [1] })).rejects.toThrow(/no "embeddings" tensor/);
  });
});

describe('the VAE', () => {
  /** The encoder's mean channel k at latent pixel (y, x): conv row k over the 2×2 average of 2·image − 1. */
  function expectedLatent(image: Tensor, rows: readonly (readonly number[])[], scale: number): number[] {
    const [b, , H, W] = image.shape;
    const h = H / 2, w = W / 2;
    const out: number[] = [];
    const at = (n: number, c: number, y: number, x: number) => 2 * image.data[((n * 3 + c) * H + y) * W + x] - 1;
    for (let n = 0; n < b; n++) for (let k = 0; k < TINY.channels; k++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      let v = 0;
      for (let c = 0; c < 3; c++) v += rows[k][c] * (at(n, c, 2 * y, 2 * x) + at(n, c, 2 * y + 1, 2 * x) + at(n, c, 2 * y, 2 * x + 1) + at(n, c, 2 * y + 1, 2 * x + 1)) / 4;
      out.push(v * scale);
    }
    return out;
  }

  const image = Tensor.from([2, 3, 12, 20], Array.from({ length: 2 * 3 * 12 * 20 }, (_, i) => (Math.cos(i * 0.11) + 1) / 2));

  for (const output of ['latent_parameters', 'latent_sample'] as const) {
    it(`encodes with ${output} (keeping the mean channels) and scales by scaling_factor`, async () => {
      const p = await tiny({ encoderOutput: output, scalingFactor: 1.25 });
      const latent = await p.vae.encode(image, 1);
      expect(latent.shape).toEqual([2, 3, 6, 10]);
      expectClose(latent, expectedLatent(image, TINY.enc, 1.25));
      expect(p.vae.encoder!.runs).toBe(2);
    });
  }

  it('decodes: divides by scaling_factor, maps [-1, 1] to [0, 1] and clamps', async () => {
    const p = await tiny({ scalingFactor: 2 });
    const latent = Tensor.from([1, 3, 6, 10], Array.from({ length: 180 }, (_, i) => Math.sin(i) * 3));
    const img = await p.vae.decode(latent);
    expect(img.shape).toEqual([1, 3, 12, 20]);
    const z = (c: number, y: number, x: number) => latent.data[(c * 6 + y) * 10 + x] / 2;
    let clamped = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < 12; y++) for (let x = 0; x < 20; x++) {
      const q = TINY.dec[c].reduce<number>((s, wk, k) => s + wk * z(k, y >> 1, x >> 1), 0);
      const expected = Math.min(1, Math.max(0, (q + 1) / 2));
      if (expected === 0 || expected === 1) clamped++;
      expect(Math.abs(img.data[(c * 12 + y) * 20 + x] - expected)).toBeLessThan(1e-5);
    }
    expect(clamped).toBeGreaterThan(0);
  });

  it('says so when the pipeline has no encoder, or the latent has the wrong channel count', async () => {
    const p = await tiny({ encoderOutput: 'none' });
    await expect(p.vae.encode(image)).rejects.toThrow(/has no vae_encoder/);
    await expect(p.vae.decode(Tensor.zeros([1, 4, 6, 10]))).rejects.toThrow(/expected a latent \[B, 3, h, w\]/);
  });
});

describe('LoadOnnxModel (one .onnx + sidecar)', () => {
  it('loads a rank-2 toy model with renamed IO and no context, and converts x0 / v outputs', async () => {
    const dir = tempRoot('dg-single-');
    // out = x·0.5 + t·0.001 (t: float32 [batch]).
    writeFileSync(path.join(dir, 'toy.onnx'), buildModel({
      inputs: [{ name: 'x', type: 'float32', dims: ['n', 2] }, { name: 't', type: 'float32', dims: ['n'] }],
      outputs: [{ name: 'y', type: 'float32', dims: ['n', 2] }],
      inits: [{ name: 'A', dims: [], floats: [0.5] }, { name: 'B', dims: [], floats: [0.001] }, { name: 'shape2', dims: [2], int64s: [-1, 1] }],
      nodes: [
        { op: 'Reshape', inputs: ['t', 'shape2'], outputs: ['t2'] },
        { op: 'Mul', inputs: ['x', 'A'], outputs: ['ax'] },
        { op: 'Mul', inputs: ['t2', 'B'], outputs: ['bt'] },
        { op: 'Add', inputs: ['ax', 'bt'], outputs: ['y'] },
      ],
    }));
    const sidecar = (parameterization: string) => writeFileSync(path.join(dir, 'toy.json'), JSON.stringify({
      parameterization, schedule: { kind: 'discrete', betaSchedule: 'linear' }, sample_shape: [2], inputs: { sample: 'x', timestep: 't', context: null }, output: 'y',
    }));
    const { store } = testStore([dir]);
    const x = Tensor.from([3, 2], [1, -1, 0.5, 2, 0, 0.25]);
    sidecar('x0');
    const m = await loadOnnxModel(store, 'toy.onnx', '');
    expect(m.sampleShape).toEqual([2]);
    expectClose(await m.predictX0(x, 0.5), Array.from(x.data, (v) => 0.5 * v + 0.001 * 499));
    sidecar('v');
    const mv = await loadOnnxModel(store, 'toy.onnx', '');
    const a = mv.schedule.alpha(0.5), s = mv.schedule.sigma(0.5);
    expectClose(await mv.predictX0(x, 0.5), Array.from(x.data, (v) => a * v - s * (0.5 * v + 0.001 * 499)));
    sidecar('sideways');
    await expect(loadOnnxModel(store, 'toy.onnx', '')).rejects.toThrow(/toy\.json: "parameterization" must be one of eps, x0, v, flow, found "sideways"/);
    await expect(loadOnnxModel(store, '../toy.onnx', '')).rejects.toThrow(/outside the model roots/);
  });
});

describe('the nodes through the executor', () => {
  const link = (from: string, output: string) => ({ from, output });

  it('txt2img: LoadPipeline → TextEncode → CFGGuider → Sample → VAEDecode, one UNet run per step', async () => {
    const name = 'wf';
    writeTinyPipeline(path.join(root, name), { timestep: { type: 'int64', dims: ['batch'] } });
    const workflow: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        pipe: { type: 'LoadPipeline', inputs: { path: name } },
        pos: { type: 'TextEncode', inputs: { encoder: link('pipe', 'text_encoder'), text: 'a red circle' } },
        neg: { type: 'TextEncode', inputs: { encoder: link('pipe', 'text_encoder'), text: '' } },
        cfg: { type: 'CFGGuider', inputs: { model: link('pipe', 'model'), positive: link('pos', 'conditioning'), negative: link('neg', 'conditioning'), cfg: 3 } },
        latent: { type: 'EmptyLatent', inputs: { model: link('pipe', 'model'), batch: 2 } },
        sched: { type: 'Schedule', inputs: { model: link('pipe', 'model'), spacing: 'trailing', steps: 5 } },
        solver: { type: 'Solver', inputs: { kind: 'ddim' } },
        noise: { type: 'RandomNoise', inputs: { seed: 7 } },
        sample: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('cfg', 'guider'), solver: link('solver', 'solver'), sigmas: link('sched', 'sigmas'), latent: link('latent', 'latent') } },
        decode: { type: 'VAEDecode', inputs: { vae: link('pipe', 'vae'), latent: link('sample', 'samples') } },
      },
      outputs: ['decode', 'pipe'],
    };
    const executor = new Executor(createRegistry());
    const result = await executor.run(workflow, { services: { ...isolatedServices(), modelRoots: [root] } });
    const decoded = result.outputs.decode;
    if (decoded.status !== 'succeeded') throw new Error(JSON.stringify(decoded));
    const img = decoded.values.image as Tensor;
    expect(img.shape).toEqual([2, 3, 12, 20]);
    expect(img.data.every((v) => v >= 0 && v <= 1)).toBe(true);
    const pipe = result.outputs.pipe;
    if (pipe.status !== 'succeeded') throw new Error(JSON.stringify(pipe));
    const model = pipe.values.model as { unet: { runs: number } };
    expect(model.unet.runs).toBe(5);
  });
});
