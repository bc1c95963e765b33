/**
 * The CLASSIFIER socket: a classifier of diffusion states that also returns its own input-gradient,
 * so classifier guidance needs no autograd. Both the ONNX classifier
 * (`grad.onnx`: sample, timestep, weights → logits, grad) and the exact classifier of the analytic
 * Gaussian mixture implement it.
 *
 * Logits come in heads (independent softmaxes over slices of the logit vector, e.g. shape / colour /
 * position). For weights w [B, numLogits] the gradient is
 *   grad = ∇_x Σ_b Σ_j w[b, j]·logSoftmaxWithinHead(logits)[b, j],
 * which is exactly what the exported grad.onnx computes.
 */
import { Tensor } from '@diffgraph/engine';

export interface ClassifierHead {
  readonly name: string;
  /** First logit of the head in the logit vector. */
  readonly offset: number;
  readonly size: number;
  readonly labels?: readonly string[];
}

export interface Classifier {
  readonly name: string;
  readonly numLogits: number;
  readonly heads: readonly ClassifierHead[];
  /**
   * Logits [B, numLogits] of states x at continuous time t of the diffusion model's schedule (t = 0:
   * clean data), and, when weights are given, the gradient above, shaped like x.
   */
  logitsAndGrad(x: Tensor, t: number, weights?: Tensor): Promise<{ logits: Tensor; grad?: Tensor }>;
}

export function isClassifier(v: unknown): v is Classifier {
  return typeof v === 'object' && v !== null && typeof (v as Classifier).logitsAndGrad === 'function' && Array.isArray((v as Classifier).heads);
}

export function expectClassifier(v: unknown, node: string): Classifier {
  if (!isClassifier(v)) throw new Error(`${node}: input "classifier" must be a CLASSIFIER (e.g. from MixtureClassifier), got ${typeof v}`);
  return v;
}

/** One chosen label: a global logit index and the head it belongs to. */
export interface LabelChoice {
  head: ClassifierHead;
  logit: number;
}

function labelIn(head: ClassifierHead, label: unknown, node: string): LabelChoice {
  if (typeof label === 'number') {
    if (!Number.isInteger(label) || label < 0 || label >= head.size) throw new RangeError(`${node}: head "${head.name}" has labels 0..${head.size - 1}, got ${label}`);
    return { head, logit: head.offset + label };
  }
  if (typeof label === 'string') {
    const i = head.labels?.indexOf(label) ?? -1;
    if (i < 0) throw new Error(`${node}: head "${head.name}" has no label "${label}" (labels: ${(head.labels ?? []).join(', ') || 'unnamed, use an index'})`);
    return { head, logit: head.offset + i };
  }
  throw new Error(`${node}: a label must be an index or a name, got ${JSON.stringify(label)}`);
}

/**
 * The labels a target names. A target is a label index or name in the first head (`1`, `"circle"`),
 * or an object naming one label per head (`{"shape": "circle", "colour": "red"}`).
 */
export function parseTarget(classifier: Classifier, target: unknown, node: string): LabelChoice[] {
  const first = classifier.heads[0];
  if (!first) throw new Error(`${node}: the classifier has no heads`);
  if (typeof target === 'number') return [labelIn(first, target, node)];
  if (typeof target === 'string') {
    const hits = classifier.heads.filter((h) => h.labels?.includes(target));
    if (hits.length === 1) return [labelIn(hits[0], target, node)];
    if (hits.length > 1) throw new Error(`${node}: label "${target}" is in several heads (${hits.map((h) => h.name).join(', ')}); name the head: {"${hits[0].name}": "${target}"}`);
    return [labelIn(first, target, node)];
  }
  if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
    const entries = Object.entries(target);
    if (entries.length === 0) throw new Error(`${node}: the target names no label`);
    return entries.map(([name, label]) => {
      const head = classifier.heads.find((h) => h.name === name);
      if (!head) throw new Error(`${node}: no head "${name}" (heads: ${classifier.heads.map((h) => h.name).join(', ')})`);
      return labelIn(head, label, node);
    });
  }
  throw new Error(`${node}: target must be a label index, a label name or {head: label}, got ${JSON.stringify(target)}`);
}

/** softmax(tau·logits) over one head of one item. */
function headSoftmax(logits: Tensor, b: number, head: ClassifierHead, tau: number): Float64Array {
  const row = b * (logits.size / logits.batch) + head.offset;
  let max = -Infinity;
  for (let j = 0; j < head.size; j++) max = Math.max(max, tau * logits.data[row + j]);
  const q = new Float64Array(head.size);
  let sum = 0;
  for (let j = 0; j < head.size; j++) sum += q[j] = Math.exp(tau * logits.data[row + j] - max);
  for (let j = 0; j < head.size; j++) q[j] /= sum;
  return q;
}

/**
 * EluCD's calibrated log-probability, per chosen label:
 *   log p̃(y|x) = τ_joint·log p_y − log Σ_k p_k^τ_marg,
 * with p the head's softmax (EluCD writes it on raw logits, τ1·ℓ_y − logsumexp(τ2·ℓ); the two agree
 * whenever τ1 = τ2; we use log p so the value does not depend on an arbitrary per-input logit shift,
 * which a softmax classifier leaves undetermined). Its gradient is Σ_j v_j ∇ log p_j with
 * v = τ_joint·e_y − τ_marg·softmax(τ_marg·ℓ), i.e. the classifier's gradient for weights v.
 * `logits` is needed only when τ_marg ∉ {0, 1} (for τ_marg = 1 the second term sums to ∇1 = 0).
 */
export function calibratedWeights(classifier: Classifier, choices: readonly LabelChoice[], batch: number, tauJoint: number, tauMarginal: number, logits?: Tensor): Tensor {
  const n = classifier.numLogits;
  const w = Tensor.zeros([batch, n], 'float64');
  const needsLogits = tauMarginal !== 0 && tauMarginal !== 1;
  if (needsLogits && !logits) throw new Error('calibratedWeights: temperature_marginal ∉ {0, 1} needs the logits');
  for (let b = 0; b < batch; b++) {
    for (const { head, logit } of choices) {
      w.data[b * n + logit] += tauJoint;
      if (!needsLogits) continue;
      const q = headSoftmax(logits!, b, head, tauMarginal);
      for (let j = 0; j < head.size; j++) w.data[b * n + head.offset + j] -= tauMarginal * q[j];
    }
  }
  return w;
}

/** Σ over chosen labels of log p(y | x) (plain log-softmax within each head), per item. */
export function labelLogProbs(logits: Tensor, choices: readonly LabelChoice[]): Float64Array {
  const out = new Float64Array(logits.batch);
  const n = logits.size / logits.batch;
  for (let b = 0; b < logits.batch; b++) {
    for (const { head, logit } of choices) {
      const row = b * n + head.offset;
      let max = -Infinity;
      for (let j = 0; j < head.size; j++) max = Math.max(max, logits.data[row + j]);
      let sum = 0;
      for (let j = 0; j < head.size; j++) sum += Math.exp(logits.data[row + j] - max);
      out[b] += logits.data[b * n + logit] - max - Math.log(sum);
    }
  }
  return out;
}

declare module '@diffgraph/engine' {
  interface SocketTypes {
    CLASSIFIER: Classifier;
  }
}
