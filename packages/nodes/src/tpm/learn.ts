/**
 * Learning a TPM by EM in TypeScript.
 * Data are fully observed items; the hidden states are the latent variables EM sums over.
 *  E-step: one inference pass per item (circuit.ts) gives q_g(k) for every group and, for 'hclt',
 *          q(z_parent, z_g) on every edge; they are accumulated as expected counts and leaf statistics.
 *  M-step: prior ∝ counts + α, transitions ∝ edge counts + α (rows), Gaussian leaves by weighted
 *          moments with a variance floor, categorical leaves ∝ counts + α.
 * With α = 0 and no active floor this is plain maximum-likelihood EM, whose log-likelihood never
 * decreases (tested). Initialisation is seeded: state k's leaves start at a random training item
 * (so the states of different groups line up), variances at the data's, transitions at ½·I + ½/K.
 */
import { TreeCircuit, type CircuitStructure, type HiddenStats } from './circuit.ts';
import { chowLiuTree, quantileCodes } from './chow-liu.ts';
import { CategoricalLeaves, GaussianLeaves, type Leaves } from './leaves.ts';
import { observed } from './evidence.ts';
import { makeRng } from './rng.ts';

export interface LearnOptions {
  structure: CircuitStructure;
  /** Shape of one item; data hold n·prod(itemShape) values. */
  itemShape: readonly number[];
  groups: readonly (readonly number[])[];
  K: number;
  iterations: number;
  seed?: number;
  /** 'gaussian' (default) or 'categorical' with the given category values (e.g. [0, 1]). */
  leaf?: { type: 'gaussian' } | { type: 'categorical'; values: readonly number[] };
  /** Dirichlet pseudocount α on prior, transitions and categorical leaves (default 1e-3). */
  pseudocount?: number;
  /** Variance floor of Gaussian leaves (default 1e-3). */
  minVariance?: number;
  /** Bins per group for the Chow–Liu mutual information of continuous data (default 8). */
  bins?: number;
  signal?: AbortSignal;
  onIteration?: (iteration: number, meanLogLikelihood: number) => void;
}

export interface LearnResult {
  circuit: TreeCircuit;
  /** Mean log-likelihood per item before each M-step, and after the last one (iterations + 1 values). */
  logLikelihoods: number[];
}

export function learnCircuit(data: Float64Array, o: LearnOptions): LearnResult {
  const D = o.itemShape.reduce((a, b) => a * b, 1);
  const n = data.length / D;
  if (!Number.isInteger(n) || n < 2) throw new Error(`LearnTPM: need at least 2 items of ${D} values, got ${data.length} values`);
  if (!(Number.isInteger(o.K) && o.K >= 1)) throw new Error(`LearnTPM: K must be a positive integer, got ${o.K}`);
  if (!(Number.isInteger(o.iterations) && o.iterations >= 0)) throw new Error(`LearnTPM: iterations must be ≥ 0, got ${o.iterations}`);
  const { K, groups } = o;
  const G = groups.length;
  const alpha = o.pseudocount ?? 1e-3;
  const minVariance = o.minVariance ?? 1e-3;
  const rng = makeRng(o.seed ?? 0);
  const leafSpec = o.leaf ?? { type: 'gaussian' };
  const item = (i: number) => data.subarray(i * D, (i + 1) * D);

  // Structure.
  let parent: Int32Array;
  if (o.structure === 'mofg') {
    parent = Int32Array.from({ length: G }, (_, g) => (g === 0 ? -1 : 0));
  } else {
    const categories = leafSpec.type === 'categorical' ? leafSpec.values : undefined;
    const bins = categories ? categories.length : (o.bins ?? 8);
    const codes = groups.map((members) => {
      if (categories) {
        if (members.length !== 1) throw new Error('LearnTPM: categorical leaves need one value per group (patch 1)');
        return Int32Array.from({ length: n }, (_, i) => {
          const c = categories.indexOf(data[i * D + members[0]]);
          if (c < 0) throw new Error(`LearnTPM: value ${data[i * D + members[0]]} (item ${i}) is not one of the categories [${categories.join(', ')}]`);
          return c;
        });
      }
      const summary = Float64Array.from({ length: n }, (_, i) => members.reduce((s, d) => s + data[i * D + d], 0) / members.length);
      return quantileCodes(summary, bins);
    });
    parent = chowLiuTree(codes, bins, 0);
  }

  // Initialisation.
  const picks = Array.from({ length: K }, () => Math.floor(rng.uniform() * n));
  let leaves: Leaves;
  if (leafSpec.type === 'gaussian') {
    const mean = new Float64Array(D * K), variance = new Float64Array(D * K);
    for (let d = 0; d < D; d++) {
      let s = 0, s2 = 0;
      for (let i = 0; i < n; i++) {
        s += data[i * D + d];
        s2 += data[i * D + d] ** 2;
      }
      const v = Math.max(s2 / n - (s / n) ** 2, minVariance);
      for (let k = 0; k < K; k++) {
        mean[d * K + k] = data[picks[k] * D + d];
        variance[d * K + k] = v;
      }
    }
    leaves = new GaussianLeaves(D, K, mean, variance);
  } else {
    const values = Float64Array.from(leafSpec.values);
    const C = values.length;
    const probs = new Float64Array(D * K * C);
    for (let d = 0; d < D; d++) {
      for (let k = 0; k < K; k++) {
        // Lean toward the picked item's category, randomised to break the states' symmetry.
        const pick = leafSpec.values.indexOf(data[picks[k] * D + d]);
        let total = 0;
        for (let c = 0; c < C; c++) total += (probs[(d * K + k) * C + c] = (c === pick ? 2 : 1) * (0.5 + rng.uniform()));
        for (let c = 0; c < C; c++) probs[(d * K + k) * C + c] /= total;
      }
    }
    leaves = new CategoricalLeaves(D, K, values, probs);
  }
  const prior = new Float64Array(K).fill(1 / K);
  const transitions = Array.from({ length: G }, (_, g) => {
    if (o.structure === 'mofg' || parent[g] < 0) return null;
    return Float64Array.from({ length: K * K }, (_, i) => (Math.floor(i / K) === i % K ? 0.5 : 0) + 0.5 / K);
  });
  const circuit = new TreeCircuit(o.structure, o.itemShape, K, groups, parent, prior, transitions, leaves);

  const logLikelihoods: number[] = [];
  for (let it = 0; it <= o.iterations; it++) {
    if (o.signal?.aborted) throw o.signal.reason;
    const hidden: HiddenStats = { prior: new Float64Array(K), transitions: transitions.map(() => new Float64Array(K * K)) };
    const leafStats = leaves.createStats();
    let ll = 0;
    for (let i = 0; i < n; i++) {
      const x = item(i);
      const inf = circuit.infer(observed(x), hidden);
      ll += inf.logEvidence;
      groups.forEach((members, g) => {
        for (const d of members) leaves.accumulate(leafStats, d, x[d], inf.posterior, g * K);
      });
    }
    logLikelihoods.push(ll / n);
    o.onIteration?.(it, ll / n);
    if (it === o.iterations) break;
    // M-step (in place: the circuit holds these arrays).
    const pTotal = hidden.prior.reduce((a, b) => a + b, 0) + K * alpha;
    for (let k = 0; k < K; k++) prior[k] = (hidden.prior[k] + alpha) / pTotal;
    transitions.forEach((T, g) => {
      if (!T) return;
      const counts = hidden.transitions[g];
      for (let kp = 0; kp < K; kp++) {
        let row = 0;
        for (let kc = 0; kc < K; kc++) row += counts[kp * K + kc] + alpha;
        if (!(row > 1e-12)) continue;
        for (let kc = 0; kc < K; kc++) T[kp * K + kc] = (counts[kp * K + kc] + alpha) / row;
      }
    });
    leaves.maximize(leafStats, { pseudocount: alpha, minVariance });
  }
  return { circuit, logLikelihoods };
}
