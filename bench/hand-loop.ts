/**
 * txt2img written out by hand over the ONNX sessions of a loaded pipeline: the tokenizer and text
 * encoder once per prompt, one stacked UNet call per step (the CFG pair), DPM-Solver++ 2M on the
 * trailing grid, the VAE decoder and the clamp. bench/models.ts times the Executor against it; its test
 * checks that the workflow's image equals it bit for bit, so the loop rounds to float32 exactly where the
 * engine stores a tensor (each branch's x0, the CFG combination, each solver step).
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import type { Pipeline } from '../packages/nodes/src/models/onnx/pipeline.ts';
import { randomNormal } from '../packages/nodes/src/noise/philox.ts';
import type { ModelStore } from '../packages/nodes/src/runtime/model-store.ts';
import { idsTensor, toOrt } from '../packages/nodes/src/runtime/ort-tensors.ts';
import { buildGrid } from '../packages/nodes/src/schedules/schedule-node.ts';

export interface HandLoopSettings {
  steps: number;
  cfg: number;
  batch: number;
}

export interface HandLoop {
  /** IMAGE data [batch, 3, H, W] in [0, 1]; `embeddings` ([negative, positive]) skips the text encoder. */
  run(prompt: string, negative: string, seed: number, embeddings?: Float32Array[]): Promise<Float32Array>;
  encode(texts: string[]): Promise<Float32Array[]>;
}

export async function handLoop(store: ModelStore, pipeline: Pipeline, { steps, cfg, batch }: HandLoopSettings): Promise<HandLoop> {
  const unet = (await store.borrow(pipeline.model.unet.file)).session;
  const text = (await store.borrow(pipeline.textEncoder.session.file)).session;
  const decoder = (await store.borrow(pipeline.vae.decoder.file)).session;
  const tokenizer = pipeline.textEncoder.tokenizer;
  const schedule = pipeline.model.schedule;
  const times = buildGrid(schedule, { spacing: 'trailing', steps, denoise: 1, rho: 7 }).times;
  const scaling = pipeline.vae.scalingFactor;
  const [channels, height, width] = pipeline.model.sampleShape;
  const n = batch * channels * height * width;
  const idsType = pipeline.textEncoder.session.input('input_ids').dtype;
  const seq = tokenizer.length;

  async function encode(texts: string[]): Promise<Float32Array[]> {
    // One call per prompt, as the workflow's two TextEncode nodes do.
    const out: Float32Array[] = [];
    for (const t of texts) {
      const r = await text.run({ input_ids: idsTensor(tokenizer.encode(t).ids, [1, seq], idsType) as never }, ['last_hidden_state']);
      out.push(r.last_hidden_state.data as Float32Array);
    }
    return out;
  }

  async function run(prompt: string, negative: string, seed: number, embeddings?: Float32Array[]): Promise<Float32Array> {
    const [neg, pos] = embeddings ?? (await encode([negative, prompt]));
    const contextWidth = neg.length / seq;
    // Context for [uncond × batch, cond × batch], built once.
    const context = new Float32Array(2 * batch * seq * contextWidth);
    for (let b = 0; b < batch; b++) {
      context.set(neg, b * seq * contextWidth);
      context.set(pos, (batch + b) * seq * contextWidth);
    }
    const contextTensor = toOrt(new Tensor([2 * batch, seq, contextWidth], context));
    const noise = randomNormal([batch, channels, height, width], seed, 'float32', 0).data as Float32Array;
    let x = Float32Array.from(noise);
    if (times[0] < schedule.tMax) for (let i = 0; i < n; i++) x[i] *= schedule.sigma(times[0]);
    const sample = new Float32Array(2 * n);
    const uncond = new Float32Array(n), cond = new Float32Array(n);

    const denoise = async (t: number): Promise<Float32Array> => {
      sample.set(x, 0);
      sample.set(x, n);
      const ts = toOrt(new Tensor([2 * batch], new Float32Array(2 * batch).fill(schedule.modelTime(t))));
      const out = await unet.run({ sample: toOrt(new Tensor([2 * batch, channels, height, width], sample)) as never, timestep: ts as never, encoder_hidden_states: contextTensor as never }, ['out_sample']);
      const eps = out.out_sample.data as Float32Array;
      const a = schedule.alpha(t), s = schedule.sigma(t);
      const toX = 1 / a, toEps = -s / a;
      for (let i = 0; i < n; i++) {
        uncond[i] = toX * x[i] + toEps * eps[i];
        cond[i] = toX * x[i] + toEps * eps[n + i];
      }
      const x0 = new Float32Array(n);
      for (let i = 0; i < n; i++) x0[i] = (1 - cfg) * uncond[i] + cfg * cond[i];
      return x0;
    };

    // DPM-Solver++ 2M (multistep, data prediction), first step first order; steps >= 10 keep order 2 to the end.
    let prev = { t: times[0], lambda: schedule.lambda(times[0]), m: await denoise(times[0]) };
    let older: typeof prev | undefined;
    for (let i = 1; i <= steps; i++) {
      const t = times[i];
      const sigmaT = schedule.sigma(t);
      const next = new Float32Array(n);
      if (sigmaT === 0) {
        const alphaT = schedule.alpha(t);
        for (let j = 0; j < n; j++) next[j] = alphaT * prev.m[j];
      } else {
        const h = schedule.lambda(t) - schedule.lambda(prev.t);
        const ratio = sigmaT / schedule.sigma(prev.t);
        const c = schedule.alpha(t);
        const p1 = Math.expm1(-h);
        const order = steps < 10 ? Math.min(2, i, steps + 1 - i) : Math.min(2, i);
        if (order === 1 || !older) {
          for (let j = 0; j < n; j++) next[j] = ratio * x[j] + -c * p1 * prev.m[j];
        } else {
          const r0 = (prev.lambda - older.lambda) / h;
          const d = (-0.5 * c * p1) / r0;
          for (let j = 0; j < n; j++) next[j] = ratio * x[j] + (-c * p1 + d) * prev.m[j] + -d * older.m[j];
        }
      }
      x = next;
      if (i < steps) {
        older = prev;
        prev = { t, lambda: schedule.lambda(t), m: await denoise(t) };
      }
    }
    const latent = new Float32Array(n);
    for (let i = 0; i < n; i++) latent[i] = x[i] / scaling;
    const out = await decoder.run({ latent_sample: toOrt(new Tensor([batch, channels, height, width], latent)) as never }, ['sample']);
    const image = out.sample.data as Float32Array;
    const result = new Float32Array(image.length);
    for (let i = 0; i < image.length; i++) result[i] = Math.min(1, Math.max(0, (image[i] + 1) / 2));
    return result;
  }

  return { run, encode };
}
