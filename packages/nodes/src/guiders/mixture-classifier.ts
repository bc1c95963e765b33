/**
 * The exact classifier of the analytic Gaussian mixture: classes are groups of components, and at
 * time t (x_t = a·x0 + s·eps)
 *   L_k(x) = log π_k − (D/2)·log v_k − |x − a·μ_k|²/(2 v_k),  v_k = a²σ_k² + s²,
 *   log p(c | x_t) = logsumexp_{k∈c} L_k − logsumexp_k L_k.
 * With g_k = ∇L_k = −(x − a·μ_k)/v_k, ρ^c the responsibilities within class c and r over all:
 *   ∇ log p(c | x_t) = Σ_{k∈c} ρ^c_k g_k − Σ_k r_k g_k.
 * This is the noisy classifier classifier guidance assumes: with it, guidance scale 1 samples the
 * class-conditional exactly (Bayes: ∇log p_t(x|c) = ∇log p_t(x) + ∇log p(c|x_t)).
 * Logits are already log-probabilities, so logSoftmaxWithinHead(logits) = logits.
 */
import { defineNode, jsonInput, Tensor } from '@diffgraph/engine';
import type { NoiseSchedule } from '../contracts/sampling.ts';
import { GaussianMixture } from '../models/gmm.ts';
import type { Classifier } from './classifier.ts';

/** Checks that `classes` partitions the K components (default: every component its own class). */
export function classPartition(K: number, classes?: readonly (readonly number[])[]): number[][] {
  if (!classes) return Array.from({ length: K }, (_, k) => [k]);
  const seen = new Set<number>();
  for (const group of classes) {
    if (group.length === 0) throw new Error('MixtureClassifier: a class must list at least one component');
    for (const k of group) {
      if (!Number.isInteger(k) || k < 0 || k >= K) throw new RangeError(`MixtureClassifier: no component ${k} (the mixture has ${K})`);
      if (seen.has(k)) throw new Error(`MixtureClassifier: component ${k} is in two classes`);
      seen.add(k);
    }
  }
  if (seen.size !== K) throw new Error(`MixtureClassifier: classes must cover all ${K} components; missing ${Array.from({ length: K }, (_, k) => k).filter((k) => !seen.has(k)).join(', ')}`);
  return classes.map((g) => [...g]);
}

function logSumExp(values: Float64Array, indices: readonly number[]): number {
  let max = -Infinity;
  for (const k of indices) max = Math.max(max, values[k]);
  let s = 0;
  for (const k of indices) s += Math.exp(values[k] - max);
  return max + Math.log(s);
}

export function mixtureClassifier(gmm: GaussianMixture, schedule: NoiseSchedule, classes?: readonly (readonly number[])[]): Classifier {
  const groups = classPartition(gmm.K, classes);
  const { K, D, means, stds, weights } = gmm;
  const all = Array.from({ length: K }, (_, k) => k);
  const C = groups.length;
  return {
    name: `mixture-classifier(K=${K}, classes=${C})`,
    numLogits: C,
    heads: [{ name: 'class', offset: 0, size: C, labels: groups.map((g) => g.join('+')) }],
    async logitsAndGrad(x, t, w) {
      if (x.size !== x.batch * D) throw new Error(`MixtureClassifier: expected ${D} values per item, got ${x}`);
      if (w && w.size !== x.batch * C) throw new Error(`MixtureClassifier: weights must be [${x.batch}, ${C}], got ${w}`);
      // t = 0 is clean data (a = 1, s = 0) whatever the schedule's table starts at.
      const a = t === 0 ? 1 : schedule.alpha(t);
      const s = t === 0 ? 0 : schedule.sigma(t);
      const v = Float64Array.from(stds, (sd) => a * a * sd * sd + s * s);
      const logits = Tensor.zeros([x.batch, C], 'float64');
      const grad = w ? x.zerosLike() : undefined;
      const L = new Float64Array(K);
      const coef = new Float64Array(K);
      for (let b = 0; b < x.batch; b++) {
        const base = b * D;
        for (let k = 0; k < K; k++) {
          let sq = 0;
          for (let d = 0; d < D; d++) sq += (x.data[base + d] - a * means[k * D + d]) ** 2;
          L[k] = Math.log(weights[k]) - 0.5 * D * Math.log(v[k]) - sq / (2 * v[k]);
        }
        const total = logSumExp(L, all);
        let wSum = 0;
        coef.fill(0);
        groups.forEach((g, c) => {
          const lc = logSumExp(L, g);
          logits.data[b * C + c] = lc - total;
          if (!w) return;
          const wc = w.data[b * C + c];
          wSum += wc;
          for (const k of g) coef[k] += wc * Math.exp(L[k] - lc);
        });
        if (!grad) continue;
        for (let k = 0; k < K; k++) coef[k] -= wSum * Math.exp(L[k] - total);
        for (let k = 0; k < K; k++) {
          if (coef[k] === 0) continue;
          for (let d = 0; d < D; d++) grad.data[base + d] -= coef[k] * (x.data[base + d] - a * means[k * D + d]) / v[k];
        }
      }
      return { logits, grad };
    },
  };
}

export const MixtureClassifier = defineNode({
  type: 'MixtureClassifier',
  category: 'models',
  description: 'The exact noisy classifier p(class | x_t) of a GaussianMixtureModel, with its exact gradient: ground truth for classifier guidance and class rewards.',
  version: 1,
  inputs: {
    model: { type: 'MODEL', tooltip: 'A GaussianMixtureModel' },
    classes: jsonInput<number[][]>({
      optional: true,
      tooltip: 'Groups of component indices, one per class, covering every component once (default: one class per component)',
      schema: { type: 'array', items: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1 }, minItems: 1 },
    }),
  },
  outputs: { classifier: { type: 'CLASSIFIER' } },
  run({ model, classes }) {
    const mixture = 'mixture' in model ? model.mixture : undefined;
    if (!(mixture instanceof GaussianMixture)) throw new Error(`MixtureClassifier: "${model.name}" is not a GaussianMixtureModel`);
    return { classifier: mixtureClassifier(mixture, model.schedule, classes) };
  },
});
