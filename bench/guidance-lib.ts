/** Shared helpers of bench/guidance.ts: the shapes-32 pack, sampling, the attribute classifier, image grids. */
import path from 'node:path';
import { Tensor } from '../packages/engine/src/tensor.ts';
import {
  ModelStore, loadPipeline, loadClassifier, cfgGuider, buildGrid, makeSolver, seededNoise, sample, encodePng,
  type Pipeline,
} from '../packages/nodes/src/index.ts';
import type { Conditioning, DiffusionModel, Guider, Solver, TimeGrid } from '../packages/nodes/src/contracts/sampling.ts';
import type { Classifier } from '../packages/nodes/src/guiders/classifier.ts';
import type { OnnxSession } from '../packages/nodes/src/runtime/onnx-session.ts';
import { fromOrt, toOrt } from '../packages/nodes/src/runtime/ort-tensors.ts';

export const HEADS = {
  shape: { offset: 0, labels: ['circle', 'square', 'triangle'] },
  colour: { offset: 3, labels: ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] },
  position: { offset: 9, labels: ['center', 'left', 'right', 'top', 'bottom'] },
  size: { offset: 14, labels: ['small', 'medium', 'large'] },
  count: { offset: 17, labels: ['one', 'two'] },
} as const;
export type HeadName = keyof typeof HEADS;

export interface Pack {
  store: ModelStore;
  pipe: Pipeline;
  attr: OnnxSession;
  loadedClassifier: Awaited<ReturnType<typeof loadClassifier>>;
  cond(text: string): Promise<Conditioning>;
}

export async function openPack(root: string): Promise<Pack> {
  const store = new ModelStore({ roots: [path.join(root, 'models')], intraOpThreads: 1 });
  const pipe = await loadPipeline(store, 'shapes-32');
  const attr = await store.open(path.join(root, 'models/shapes-32/attribute_classifier/model.onnx'));
  const loadedClassifier = await loadClassifier(store, 'shapes-32/classifier', pipe.model);
  const cache = new Map<string, Conditioning>();
  return {
    store, pipe, attr, loadedClassifier,
    async cond(text) {
      let c = cache.get(text);
      if (!c) cache.set(text, (c = { embeddings: (await pipe.textEncoder.encode([text])).embeddings, text }));
      return c;
    },
  };
}

/** Attribute-classifier logits [B, 19] of IMAGEs in [0, 1]. */
export async function attributeLogits(pack: Pack, image: Tensor): Promise<Tensor> {
  const x = new Float32Array(image.size);
  for (let i = 0; i < x.length; i++) x[i] = image.data[i] * 2 - 1;
  const out = await pack.attr.run({ sample: toOrt(new Tensor(image.shape, x)) }, ['logits']);
  return fromOrt(out.logits, 'attribute_classifier', 'logits');
}

export function argmaxHead(logits: Tensor, b: number, head: HeadName): string {
  const { offset, labels } = HEADS[head];
  let best = 0;
  for (let j = 1; j < labels.length; j++) if (logits.data[b * 19 + offset + j] > logits.data[b * 19 + offset + best]) best = j;
  return labels[best];
}

export function logProb(logits: Tensor, b: number, head: HeadName, label: string): number {
  const { offset, labels } = HEADS[head];
  const row = Array.from({ length: labels.length }, (_, j) => logits.data[b * 19 + offset + j]);
  const m = Math.max(...row);
  const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
  return row[labels.indexOf(label as never)] - lse;
}

export function grid(pack: Pack, steps: number, spacing = 'trailing', denoise = 1): TimeGrid {
  return buildGrid(pack.pipe.model.schedule, { spacing: spacing as never, steps, denoise, rho: 7 });
}

export function solver(kind: 'ddim' | 'dpmsolver++', eta = 0): Solver {
  return { kind, solve: makeSolver(kind, { order: 2, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 }) };
}

export async function run(guider: Guider, s: Solver, g: TimeGrid, batch: number, seed: number, latent?: Tensor, addNoise = true): Promise<Tensor> {
  const l = latent ?? Tensor.zeros([batch, 4, 8, 8]);
  return (await sample({ guider, solver: s, grid: g, latent: l, noise: seededNoise(seed), addNoise, startScale: 'unit' })).samples;
}

export async function decode(pack: Pack, latent: Tensor): Promise<Tensor> {
  return pack.pipe.vae.decode(latent, 64);
}

export function cfg(pack: Pack, pos: Conditioning, scale: number, neg?: Conditioning): Guider {
  return cfgGuider(pack.pipe.model, pos, neg, scale);
}

/** A PNG grid of rows of IMAGEs [n, 3, 32, 32], each image upscaled ×scale, 2 px gaps. */
export function gridPng(rows: Tensor[], scale = 3): Buffer {
  const n = Math.max(...rows.map((r) => r.batch));
  const [h, w] = [rows[0].shape[2], rows[0].shape[3]];
  const gap = 2;
  const H = rows.length * (h * scale + gap) + gap, W = n * (w * scale + gap) + gap;
  const out = Tensor.zeros([1, 3, H, W]);
  out.data.fill(1);
  rows.forEach((img, r) => {
    for (let b = 0; b < img.batch; b++) {
      for (let c = 0; c < 3; c++) for (let y = 0; y < h * scale; y++) for (let x = 0; x < w * scale; x++) {
        const v = img.data[((b * 3 + c) * h + Math.floor(y / scale)) * w + Math.floor(x / scale)];
        out.data[(c * H + gap + r * (h * scale + gap) + y) * W + gap + b * (w * scale + gap) + x] = v;
      }
    }
  });
  return encodePng(out, 0);
}

/** Network evaluations, counted per batch item: UNet x0-predictions, classifier logits and classifier gradients. */
export interface CallCount { unet: number; classifierLogits: number; classifierGrads: number }

export const noCalls = (): CallCount => ({ unet: 0, classifierLogits: 0, classifierGrads: 0 });

/** The model, counting one UNet evaluation per batch item and conditioning (a CFG pair counts 2). */
export function countingModel(model: DiffusionModel, count: CallCount): DiffusionModel {
  return {
    name: model.name, schedule: model.schedule, sampleShape: model.sampleShape, dtype: model.dtype,
    predictX0(x, t, c) {
      count.unet += x.batch;
      return model.predictX0(x, t, c);
    },
    predictX0Many: model.predictX0Many && ((x, t, cs) => {
      count.unet += x.batch * cs.length;
      return model.predictX0Many!(x, t, cs);
    }),
    latentRgb: model.latentRgb && (() => model.latentRgb!()),
  };
}

/** The classifier, counting its evaluations per batch item: logits only, or logits with the input-gradient. */
export function countingClassifier(classifier: Classifier, count: CallCount): Classifier {
  return {
    name: classifier.name, numLogits: classifier.numLogits, heads: classifier.heads,
    logitsAndGrad(x, t, weights) {
      if (weights) count.classifierGrads += x.batch;
      else count.classifierLogits += x.batch;
      return classifier.logitsAndGrad(x, t, weights);
    },
  };
}
