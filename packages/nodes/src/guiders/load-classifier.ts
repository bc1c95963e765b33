/**
 * LoadClassifier: a noisy-latent classifier folder (models/shapes-32/classifier: config.json with the
 * heads, grad.onnx = sample, timestep, weights → logits, grad, and optionally model.onnx = sample,
 * timestep → logits) opened through the model store, as a CLASSIFIER for ClassifierGuider and
 * RewardPotential.
 *
 * Time: the CLASSIFIER contract takes the diffusion model's continuous time t. The classifier was
 * trained on one schedule (the pack's scheduler/scheduler_config.json beside the classifier folder,
 * SD's scaled_linear by default).
 * - With no MODEL linked, or a model on that same schedule (the eps pack), the network timestep is
 *   schedule.modelTime(t), exactly as the UNet gets it (clamped at 0 for t = 0, a clean x0).
 * - A model on another schedule (e.g. the rectified-flow pack: alpha = 1 − s, sigma = s) is mapped by
 *   signal-to-noise ratio, as classifier/config.json prescribes: the classifier sees
 *   x / √(alpha² + sigma²) (the variance-preserving state with ᾱ = alpha²/(alpha² + sigma²)) at the
 *   training time with the same log-SNR, and the gradient is chain-ruled by the same factor.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { defineNode, Tensor } from '@diffgraph/engine';
import * as ort from 'onnxruntime-node';
import type { ModelStore } from '../runtime/model-store.ts';
import type { OnnxSession } from '../runtime/onnx-session.ts';
import { storeOf } from '../runtime/store-of.ts';
import { FLOAT_IO_DTYPES, fromOrt } from '../runtime/ort-tensors.ts';
import type { IoContract } from '../runtime/io-contract.ts';
import type { DiffusionModel, NoiseSchedule } from '../contracts/sampling.ts';
import { readJson, readOptionalJson } from '../models/onnx/config-files.ts';
import { schedulerFromConfig } from '../models/onnx/scheduler-config.ts';
import { DiscreteVPSchedule } from '../schedules/noise-schedules.ts';
import { headsFromConfig, onnxClassifier, type TensorRunner } from './onnx-classifier.ts';
import type { Classifier } from './classifier.ts';

type Log = (message: string) => void;

const state4 = { dtypes: FLOAT_IO_DTYPES, ranks: [4] } as const;
const timestep = { dtypes: [...FLOAT_IO_DTYPES, 'int64'], ranks: [1] } as const;

export function gradContract(numLogits: number): IoContract {
  return {
    inputs: { sample: state4, timestep, weights: { dtypes: FLOAT_IO_DTYPES, ranks: [2], dims: [null, numLogits] } },
    outputs: { logits: { dtypes: FLOAT_IO_DTYPES, ranks: [2], dims: [null, numLogits] }, grad: state4 },
  };
}

export function logitsContract(numLogits: number): IoContract {
  return { inputs: { sample: state4, timestep }, outputs: { logits: { dtypes: FLOAT_IO_DTYPES, ranks: [2], dims: [null, numLogits] } } };
}

/** Runs grad.onnx when the gradient is fetched, else model.onnx (cheaper) when there is one. */
function sessionRunner(grad: OnnxSession, logitsOnly?: OnnxSession): TensorRunner {
  return async (feeds, fetch) => {
    const session = fetch.includes('grad') || !logitsOnly ? grad : logitsOnly;
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, value] of Object.entries(feeds)) {
      const declared = session.inputs.get(name);
      if (!declared) continue; // model.onnx takes no weights
      ortFeeds[name] = declared.dtype === 'int64'
        ? new ort.Tensor('int64', BigInt64Array.from(value.data, (v) => BigInt(Math.round(v))), [...value.shape])
        : session.feed(name, value);
    }
    const out = await session.run(ortFeeds, fetch);
    return Object.fromEntries(fetch.map((name) => [name, fromOrt(out[name], session.file, name)]));
  };
}

/** Whether two schedules give the same alpha, sigma and network timestep (sampled on a grid). */
export function sameSchedule(a: NoiseSchedule, b: NoiseSchedule): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind || a.tMax !== b.tMax) return false;
  if (a instanceof DiscreteVPSchedule && b instanceof DiscreteVPSchedule) {
    return a.alphasCumprod.length === b.alphasCumprod.length && a.alphasCumprod.every((v, i) => Math.abs(v - b.alphasCumprod[i]) <= 1e-12 * Math.max(1, v));
  }
  for (let i = 1; i <= 64; i++) {
    const t = (i / 64) * a.tMax;
    if (Math.abs(a.alpha(t) - b.alpha(t)) > 1e-12 || Math.abs(a.sigma(t) - b.sigma(t)) > 1e-12 || Math.abs(a.modelTime(t) - b.modelTime(t)) > 1e-9) return false;
  }
  return true;
}

/**
 * A classifier trained on `trained`, used on states of a model whose schedule is `model`: matched by
 * log-SNR, the state rescaled to variance-preserving form, the gradient chain-ruled.
 */
export function snrMatchedClassifier(inner: Classifier, model: NoiseSchedule, trained: NoiseSchedule): Classifier {
  return {
    name: inner.name,
    numLogits: inner.numLogits,
    heads: inner.heads,
    async logitsAndGrad(x, t, weights) {
      if (t === 0) return inner.logitsAndGrad(x, 0, weights);
      const a = model.alpha(t), s = model.sigma(t);
      const k = 1 / Math.sqrt(a * a + s * s);
      const tc = Math.min(trained.tMax, Math.max(trained.tMin, trained.tOfLambda(model.lambda(t))));
      const scaled = k === 1 ? x : new Tensor(x.shape, x.data.map((v) => v * k));
      const out = await inner.logitsAndGrad(scaled, tc, weights);
      if (!out.grad || k === 1) return out;
      return { logits: out.logits, grad: new Tensor(out.grad.shape, out.grad.data.map((v) => v * k)) };
    },
  };
}

export interface LoadedClassifier {
  folder: string;
  classifier: Classifier;
  /** The schedule the classifier was trained on. */
  trained: NoiseSchedule;
  /** 'model' (same schedule: modelTime as for the UNet) or 'snr' (mapped by log-SNR). */
  timeMapping: 'model' | 'snr';
  grad: OnnxSession;
  logits?: OnnxSession;
}

/** The classifier folder of `name`: the folder itself, or a pack's `_diffgraph_extras.classifier`. */
function classifierFolder(store: ModelStore, name: string): string {
  const resolved = store.resolve(name, 'classifier');
  if (!statSync(resolved).isDirectory()) {
    if (path.basename(resolved) === 'grad.onnx') return path.dirname(resolved);
    throw new Error(`classifier "${name}" (${resolved}) must be a classifier folder (config.json + grad.onnx) or a model pack that lists one`);
  }
  if (existsSync(path.join(resolved, 'grad.onnx'))) return resolved;
  const index = readOptionalJson(store.roots, path.join(resolved, 'model_index.json'), `classifier "${name}"`);
  const extra = (index._diffgraph_extras as Record<string, unknown> | undefined)?.classifier;
  if (typeof extra === 'string') return store.resolve(path.join(name, extra), 'classifier');
  throw new Error(`classifier "${name}" (${resolved}) has no grad.onnx and is not a model pack with a "_diffgraph_extras.classifier" entry`);
}

/** The training schedule: the pack's scheduler config beside the classifier folder, else SD's scaled_linear. */
function trainedSchedule(store: ModelStore, folder: string, log?: Log): NoiseSchedule {
  const file = path.join(folder, '..', 'scheduler', 'scheduler_config.json');
  if (existsSync(file)) {
    const info = schedulerFromConfig(readJson(store.roots, file, 'classifier schedule'), file);
    if (info.schedule.kind === 'discrete') return info.schedule;
    log?.(`${file} is not a discrete VP schedule; the classifier is taken to be trained on SD's scaled_linear schedule`);
  }
  return DiscreteVPSchedule.fromBetas('scaled_linear');
}

export async function loadClassifier(store: ModelStore, name: string, model?: DiffusionModel, log?: Log): Promise<LoadedClassifier> {
  const folder = classifierFolder(store, name);
  const configFile = path.join(folder, 'config.json');
  const { numLogits, heads } = headsFromConfig(readJson(store.roots, configFile, `classifier "${name}"`), configFile);
  const grad = (await store.open(path.join(folder, 'grad.onnx'), log)).check(gradContract(numLogits), 'classifier gradient (grad.onnx)');
  const modelFile = path.join(folder, 'model.onnx');
  const logits = existsSync(modelFile) ? (await store.open(modelFile, log)).check(logitsContract(numLogits), 'classifier (model.onnx)') : undefined;
  const trained = trainedSchedule(store, folder, log);
  const same = !model || sameSchedule(model.schedule, trained);
  const run = sessionRunner(grad, logits);
  const base = onnxClassifier({ name: `${name} classifier`, run, schedule: same ? (model?.schedule ?? trained) : trained, numLogits, heads });
  const classifier = same ? base : snrMatchedClassifier(base, model!.schedule, trained);
  log?.(`classifier "${name}": ${heads.map((h) => `${h.name}(${h.size})`).join(', ')}; ${same ? 'timestep = the model schedule\'s modelTime(t)' : `${model!.schedule.kind} model mapped to the training schedule by log-SNR`}`);
  return { folder, classifier, trained, timeMapping: same ? 'model' : 'snr', grad, logits };
}

export const LoadClassifier = defineNode({
  type: 'LoadClassifier',
  category: 'models',
  description: 'Loads a noisy-latent classifier (config.json with its heads, grad.onnx returning logits and ∇ of weighted log-softmax, optional model.onnx) from the model roots, as a CLASSIFIER for ClassifierGuider and RewardPotential. Link the MODEL it guides: its schedule maps the sampler\'s time to the classifier\'s timestep (modelTime, as for the UNet; other schedules by log-SNR).',
  version: 1,
  inputs: {
    path: { type: 'STRING', default: 'shapes-32/classifier', path: 'models', role: 'model', tooltip: 'Classifier folder (or a model pack listing one), resolved inside the model roots' },
    model: { type: 'MODEL', optional: true, tooltip: 'The diffusion model whose states it classifies (default: the classifier\'s training schedule)' },
  },
  outputs: { classifier: { type: 'CLASSIFIER' } },
  async run({ path: name, model }, ctx) {
    try {
      const loaded = await loadClassifier(storeOf(ctx), name, model, (m) => ctx.log(m));
      return { classifier: loaded.classifier };
    } catch (e) {
      throw new Error(`LoadClassifier: ${(e as Error).message}`);
    }
  },
});
