/**
 * A CLASSIFIER over any tensor runner, e.g. an ONNX session of the shipped
 * models/shapes-32/classifier/grad.onnx (sample [B,4,8,8], timestep float32 [B], weights [B,19] →
 * logits [B,19], grad [B,4,8,8]). The runner is whatever executes the graph — the model store's
 * session wrapped to take and return engine tensors — so this file needs no onnxruntime.
 */
import { Tensor } from '@diffgraph/engine';
import type { NoiseSchedule } from '../contracts/sampling.ts';
import type { Classifier, ClassifierHead } from './classifier.ts';

/** Runs a graph on named float32 inputs and returns its named outputs. */
export type TensorRunner = (feeds: Record<string, Tensor>, fetch: readonly string[]) => Promise<Record<string, Tensor>>;

export interface OnnxClassifierNames {
  sample: string;
  timestep: string;
  weights: string;
  logits: string;
  grad: string;
}

export const GRAD_ONNX_NAMES: OnnxClassifierNames = { sample: 'sample', timestep: 'timestep', weights: 'weights', logits: 'logits', grad: 'grad' };

export interface OnnxClassifierOptions {
  name: string;
  run: TensorRunner;
  /** The schedule the classifier was trained on; its modelTime(t) is the network's timestep input. */
  schedule: NoiseSchedule;
  numLogits: number;
  heads: readonly ClassifierHead[];
  names?: OnnxClassifierNames;
}

/** Heads from the classifier's config.json (`num_logits`, `heads: [{name, offset, size, labels}]`). */
export function headsFromConfig(config: { num_logits?: unknown; heads?: unknown }, file: string): { numLogits: number; heads: ClassifierHead[] } {
  const n = config.num_logits;
  if (!Number.isInteger(n) || (n as number) <= 0) throw new Error(`${file}: "num_logits" must be a positive integer`);
  if (!Array.isArray(config.heads) || config.heads.length === 0) throw new Error(`${file}: "heads" must be a non-empty list`);
  const heads = config.heads.map((h, i) => {
    const { name, offset, size, labels } = h as Record<string, unknown>;
    if (typeof name !== 'string' || !Number.isInteger(offset) || !Number.isInteger(size) || (offset as number) < 0 || (offset as number) + (size as number) > (n as number)) {
      throw new Error(`${file}: head ${i} must be {name, offset, size} inside the ${n} logits`);
    }
    return { name, offset: offset as number, size: size as number, labels: Array.isArray(labels) ? labels.map(String) : undefined };
  });
  return { numLogits: n as number, heads };
}

export function onnxClassifier(o: OnnxClassifierOptions): Classifier {
  const names = o.names ?? GRAD_ONNX_NAMES;
  return {
    name: o.name,
    numLogits: o.numLogits,
    heads: o.heads,
    async logitsAndGrad(x, t, weights) {
      const batch = x.batch;
      // t = 0 (a clean x0-prediction) maps below the first training step on discrete schedules: clamp.
      const step = Math.max(0, o.schedule.modelTime(t));
      const w = weights ?? Tensor.zeros([batch, o.numLogits]);
      if (w.size !== batch * o.numLogits) throw new Error(`${o.name}: weights must be [${batch}, ${o.numLogits}], got ${w}`);
      const f32 = (v: Tensor, shape: readonly number[]) => new Tensor(shape, v.data instanceof Float32Array ? v.data : Float32Array.from(v.data));
      const out = await o.run({
        [names.sample]: f32(x, x.shape),
        [names.timestep]: Tensor.from([batch], new Array(batch).fill(step)),
        [names.weights]: f32(w, [batch, o.numLogits]),
      }, weights ? [names.logits, names.grad] : [names.logits]);
      const logits = out[names.logits];
      if (!logits || logits.size !== batch * o.numLogits) throw new Error(`${o.name}: output "${names.logits}" must be [${batch}, ${o.numLogits}]`);
      if (!weights) return { logits };
      const grad = out[names.grad];
      if (!grad || grad.size !== x.size) throw new Error(`${o.name}: output "${names.grad}" must be shaped like the sample [${x.shape.join(', ')}]`);
      // Back in the state's dtype, so float64 solvers stay float64.
      return { logits, grad: x.dtype === 'float64' ? Tensor.from(x.shape, grad.data, 'float64') : new Tensor(x.shape, grad.data) };
    },
  };
}
