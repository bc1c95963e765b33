/**
 * The shipped model pack against the pack's own torch outputs (models/<pack>/golden.json:
 * { atol, models: { key: { file, inputs: {name: {type, dims, data}}, outputs: {...} } } }):
 * first every listed ONNX file run raw through the model store, then the same numbers through the
 * wrappers (tokenizer + text encoder, UNet → x0, VAE scaling), so both the files and our plumbing are checked.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import * as ort from 'onnxruntime-node';
import { loadPipeline } from '../src/models/onnx/pipeline.ts';
import { testStore } from './fixtures/onnx-helpers.ts';

const modelsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../models');

interface GoldenTensor { type: 'float32' | 'int32' | 'int64'; dims: number[]; data: number[] }
interface GoldenModel { file: string; inputs: Record<string, GoldenTensor>; outputs: Record<string, GoldenTensor> }
interface Golden { atol?: number; models: Record<string, GoldenModel> }

function ortTensor(g: GoldenTensor): ort.Tensor {
  if (g.type === 'int64') return new ort.Tensor('int64', BigInt64Array.from(g.data, (v) => BigInt(v)), g.dims);
  if (g.type === 'int32') return new ort.Tensor('int32', Int32Array.from(g.data), g.dims);
  return new ort.Tensor('float32', Float32Array.from(g.data), g.dims);
}

const tensor = (g: GoldenTensor) => Tensor.from(g.dims, g.data);

function maxDiff(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  return worst;
}

for (const pack of ['shapes-32', 'shapes-32-flow']) {
  const dir = path.join(modelsDir, pack);
  const goldenFile = path.join(dir, 'golden.json');
  // The packs and their golden files are committed: a missing file fails the suite rather than skipping.
  describe(`${pack} against golden.json`, () => {
    const golden = JSON.parse(readFileSync(goldenFile, 'utf8')) as Golden;
    const atol = golden.atol ?? 2e-3;
    const { store } = testStore([modelsDir], { intraOpThreads: 2 });

    for (const [key, m] of Object.entries(golden.models)) {
      it(`${key} (${m.file}) matches torch within ${atol} when run raw`, async () => {
        const session = await store.open(path.join(dir, m.file));
        const feeds = Object.fromEntries(Object.entries(m.inputs).map(([name, g]) => [name, ortTensor(g)]));
        const out = await session.run(feeds, Object.keys(m.outputs));
        for (const [name, g] of Object.entries(m.outputs)) {
          expect(out[name].dims, `${key}.${name} dims`).toEqual(g.dims);
          expect(maxDiff(out[name].data as Float32Array, g.data), `${key}.${name}`).toBeLessThanOrEqual(atol);
        }
      });
    }

    it('loads as a pipeline with the shapes and schedule its files declare, and the wrappers reproduce golden.json', async () => {
      const p = await loadPipeline(store, pack);
      expect(p.model.sampleShape).toEqual([4, 8, 8]);
      expect(p.model.schedule.kind).toBe(pack.endsWith('flow') ? 'flow' : 'discrete');
      expect(p.textEncoder.tokenizer.length).toBe(16);

      // Tokenizer + text encoder: rebuild each prompt from the golden ids and encode it as text.
      const te = golden.models.text_encoder;
      const vocab = JSON.parse(readFileSync(path.join(dir, 'tokenizer', 'tokenizer.json'), 'utf8')).model.vocab as Record<string, number>;
      const word = new Map(Object.entries(vocab).map(([w, id]) => [id, w]));
      const ids = te.inputs.input_ids;
      const seq = ids.dims[1];
      const prompts = Array.from({ length: ids.dims[0] }, (_, b) => ids.data.slice(b * seq, (b + 1) * seq).filter((id) => id > 3).map((id) => word.get(id)).join(' '));
      expect(prompts.map((t) => p.textEncoder.tokenizer.encode(t).ids).flat()).toEqual(ids.data);
      const { embeddings } = await p.textEncoder.encode(prompts);
      expect(maxDiff(embeddings.data, te.outputs.last_hidden_state.data)).toBeLessThanOrEqual(atol);

      // UNet through the DiffusionModel: network step 640 ↔ t = 0.641 (discrete) or 0.64 (flow).
      const u = golden.models.unet_timestep_broadcast;
      expect(u.inputs.timestep.data).toEqual([640]);
      const t = p.model.schedule.kind === 'flow' ? 0.64 : 0.641;
      expect(p.model.schedule.modelTime(t)).toBeCloseTo(640, 9);
      const x = tensor(u.inputs.sample);
      const x0 = await p.model.predictX0(x, t, { embeddings: tensor(u.inputs.encoder_hidden_states) });
      const a = p.model.schedule.alpha(t), s = p.model.schedule.sigma(t);
      const out = u.outputs.out_sample.data;
      const expected = Array.from(x.data, (xi, i) => (p.model.parameterization === 'flow' ? xi - s * out[i] : (xi - s * out[i]) / a));
      expect(maxDiff(x0.data, expected)).toBeLessThanOrEqual(atol * (1 + s / a));

      // VAE: scaled latents in, [0, 1] images out (and back).
      const dec = golden.models.vae_decoder;
      const image = await p.vae.decode(Tensor.from(dec.inputs.latent_sample.dims, dec.inputs.latent_sample.data.map((v) => v * p.vae.scalingFactor)));
      expect(maxDiff(image.data, dec.outputs.sample.data.map((v) => Math.min(1, Math.max(0, (v + 1) / 2))))).toBeLessThanOrEqual(atol);
      const enc = golden.models.vae_encoder;
      const latent = await p.vae.encode(Tensor.from(enc.inputs.sample.dims, enc.inputs.sample.data.map((v) => (v + 1) / 2)));
      const encOut = enc.outputs.latent_sample ?? enc.outputs.latent_parameters;
      expect(maxDiff(latent.data, encOut.data.slice(0, latent.size).map((v) => v * p.vae.scalingFactor))).toBeLessThanOrEqual(atol * p.vae.scalingFactor * 2);
    });
  });
}
