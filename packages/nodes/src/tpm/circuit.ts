/**
 * The probabilistic circuit behind a TPM: a tree of hidden variables z_g ∈ {0..K−1}, one per variable
 * group g (a pixel or a latent patch), with leaves p(x_g | z_g) factorised over the group's values.
 *   p(x, z) = prior(z_root) · Π_{g ≠ root} T_g(z_g | z_parent(g)) · Π_g Π_{d ∈ g} p(x_d | z_g)
 * Two structures:
 *  - 'hclt' (hidden Chow–Liu tree): the tree is the max-mutual-information spanning tree of the data;
 *  - 'mofg' (mixture of factorised Gaussians): a star whose transitions are the identity, so every
 *    group shares the root's state — p(x) = Σ_k prior_k Π_d N(x_d; mu_dk, v_dk), a sum over products.
 * As a circuit: each z_g is a sum node over K products (its leaves × its children's sums).
 *
 * Exact inference with per-variable evidence (evidence.ts) is one upward and one downward message
 * pass, O(G·K²) (O(G·K) with identity transitions):
 *   upward   λ_g(k) = leaf_g(k)·Π_c m_c(k),  m_c(k) = Σ_j T_c(j | k)·λ_c(j),  p(e) = Σ_k prior_k λ_root(k)
 *   downward β_root = prior,  β_c(j) = Σ_k [β_g(k)·leaf_g(k)·Π_{c' ≠ c} m_c'(k)]·T_c(j | k)
 *   q_g(k) = p(z_g = k | e) ∝ β_g(k)·λ_g(k),  and pairwise q(z_g = k, z_c = j | e) for EM.
 * Messages are renormalised at every node (the scales summed in log space); "all children but one"
 * uses prefix/suffix products, not division, so zeros and underflow stay harmless.
 * Per-value posteriors then mix the leaves' own posteriors: E[x_d | e] = Σ_k q_g(k)·E[x_d | z_g = k, e_d].
 */
import type { Evidence } from './evidence.ts';
import { leavesFromJSON, type Leaves, type LeavesJSON } from './leaves.ts';
import type { Rng } from './rng.ts';

export type CircuitStructure = 'hclt' | 'mofg';

export interface CircuitJSON {
  format: 'diffgraph/tpm@1';
  structure: CircuitStructure;
  /** Shape of one item (e.g. [C, H, W] or [D]). */
  itemShape: number[];
  K: number;
  /** Value indices of each group; the groups partition 0..D−1. */
  groups: number[][];
  /** Parent group of each group, −1 for the root. */
  parent: number[];
  prior: number[];
  /** Per group, row-major [parent state][state]; null for the root and for identity ('mofg'). */
  transitions: (number[] | null)[];
  leaves: LeavesJSON;
}

/** What one inference pass returns (posteriors of the hidden states and what sampling needs). */
export interface Inference {
  logEvidence: number;
  /** q_g(k) at [g·K + k]. */
  posterior: Float64Array;
  /** Upward messages λ_g (normalised), [g·K + k]. */
  lambda: Float64Array;
}

/** EM statistics of the hidden part. */
export interface HiddenStats {
  prior: Float64Array;
  /** [g][K·K]; unused for identity transitions. */
  transitions: Float64Array[];
}

export interface Conditional {
  logEvidence: number;
  mean: Float64Array;
  variance: Float64Array;
}

export class TreeCircuit {
  readonly D: number;
  readonly G: number;
  readonly root: number;
  /** Groups in breadth-first order from the root. */
  readonly order: Int32Array;
  readonly children: number[][];
  readonly identity: boolean;

  constructor(
    readonly structure: CircuitStructure,
    readonly itemShape: readonly number[],
    readonly K: number,
    readonly groups: readonly (readonly number[])[],
    readonly parent: Int32Array,
    readonly prior: Float64Array,
    /** Per group K×K (null for the root); all null for 'mofg' (identity). */
    readonly transitions: (Float64Array | null)[],
    readonly leaves: Leaves,
  ) {
    this.G = groups.length;
    this.D = itemShape.reduce((a, b) => a * b, 1);
    if (!(Number.isInteger(K) && K >= 1)) throw new Error(`TPM: K must be a positive integer, got ${K}`);
    if (leaves.D !== this.D || leaves.K !== K) throw new Error(`TPM: leaves are for ${leaves.D} values × ${leaves.K} states, the circuit has ${this.D} × ${K}`);
    if (prior.length !== K) throw new Error('TPM: prior needs K entries');
    const seen = new Uint8Array(this.D);
    for (const g of groups) {
      for (const d of g) {
        if (!(d >= 0 && d < this.D) || seen[d]) throw new Error(`TPM: groups must partition 0..${this.D - 1} (value ${d} is out of range or repeated)`);
        seen[d] = 1;
      }
    }
    if (seen.some((v) => v === 0)) throw new Error('TPM: groups must cover every value');
    if (parent.length !== this.G || transitions.length !== this.G) throw new Error('TPM: parent and transitions need one entry per group');
    const roots = Array.from(parent.keys()).filter((g) => parent[g] === -1);
    if (roots.length !== 1) throw new Error(`TPM: the tree needs exactly one root, found ${roots.length}`);
    this.root = roots[0];
    this.children = Array.from({ length: this.G }, () => [] as number[]);
    parent.forEach((p, g) => p >= 0 && this.children[p].push(g));
    const order: number[] = [this.root];
    for (let i = 0; i < order.length; i++) order.push(...this.children[order[i]]);
    if (order.length !== this.G) throw new Error('TPM: the parent array does not form a tree');
    this.order = Int32Array.from(order);
    this.identity = structure === 'mofg';
    for (let g = 0; g < this.G; g++) {
      const T = transitions[g];
      if (g === this.root || this.identity) {
        if (T) throw new Error(`TPM: group ${g} must have no transition table (${this.identity ? 'mofg uses identity' : 'root'})`);
      } else if (!T || T.length !== K * K) {
        throw new Error(`TPM: group ${g} needs a ${K}×${K} transition table`);
      }
    }
  }

  /** log p(leaf evidence of group g | z_g = k) into out (length K). */
  private groupLogEvidence(g: number, e: Evidence, out: Float64Array): void {
    out.fill(0);
    for (const d of this.groups[g]) this.leaves.addLogEvidence(d, e, out);
  }

  /** One upward and one downward pass; `stats` (optional) receives the expected hidden counts. */
  infer(e: Evidence, stats?: HiddenStats): Inference {
    const { G, K, order, children, identity } = this;
    if (e.hard.length !== this.D) throw new Error(`TPM: evidence has ${e.hard.length} values, the circuit ${this.D}`);
    const leaf = new Float64Array(G * K); // exp(log leaf − max), per group
    const lambda = new Float64Array(G * K);
    const msg = new Float64Array(G * K);
    const tmp = new Float64Array(K);
    let logScale = 0;
    for (let i = G - 1; i >= 0; i--) {
      const g = order[i], o = g * K;
      this.groupLogEvidence(g, e, tmp);
      let mx = -Infinity;
      for (let k = 0; k < K; k++) mx = Math.max(mx, tmp[k]);
      if (mx === -Infinity) throw new Error('TPM: the evidence has probability zero under the circuit');
      logScale += mx;
      for (let k = 0; k < K; k++) leaf[o + k] = Math.exp(tmp[k] - mx);
      let sum = 0;
      for (let k = 0; k < K; k++) {
        let v = leaf[o + k];
        for (const c of children[g]) v *= msg[c * K + k];
        lambda[o + k] = v;
        sum += v;
      }
      if (!(sum > 0)) throw new Error('TPM: the evidence has probability zero under the circuit');
      logScale += Math.log(sum);
      for (let k = 0; k < K; k++) lambda[o + k] /= sum;
      if (g === this.root) continue;
      if (identity) {
        for (let k = 0; k < K; k++) msg[o + k] = lambda[o + k];
      } else {
        const T = this.transitions[g]!;
        for (let kp = 0; kp < K; kp++) {
          let v = 0;
          for (let kc = 0; kc < K; kc++) v += T[kp * K + kc] * lambda[o + kc];
          msg[o + kp] = v;
        }
      }
    }
    const r = this.root * K;
    let z = 0;
    for (let k = 0; k < K; k++) z += this.prior[k] * lambda[r + k];
    const logEvidence = logScale + Math.log(z);

    const beta = new Float64Array(G * K);
    const posterior = new Float64Array(G * K);
    for (let k = 0; k < K; k++) beta[r + k] = this.prior[k];
    const excl = new Float64Array(K);
    for (let i = 0; i < G; i++) {
      const g = order[i], o = g * K;
      let total = 0;
      for (let k = 0; k < K; k++) total += (posterior[o + k] = beta[o + k] * lambda[o + k]);
      for (let k = 0; k < K; k++) posterior[o + k] /= total;
      if (stats && g === this.root) for (let k = 0; k < K; k++) stats.prior[k] += posterior[o + k];
      const ch = children[g];
      if (ch.length === 0) continue;
      // suffix[j] = Π_{j' ≥ j} m_{ch[j']}, renormalised (scale is irrelevant: excl is normalised).
      const suffix = new Float64Array((ch.length + 1) * K).fill(1, ch.length * K);
      for (let j = ch.length - 1; j >= 0; j--) {
        let mx = 0;
        for (let k = 0; k < K; k++) mx = Math.max(mx, (suffix[j * K + k] = suffix[(j + 1) * K + k] * msg[ch[j] * K + k]));
        if (mx > 0) for (let k = 0; k < K; k++) suffix[j * K + k] /= mx;
      }
      const prefix = new Float64Array(K);
      for (let k = 0; k < K; k++) prefix[k] = beta[o + k] * leaf[o + k];
      for (let j = 0; j < ch.length; j++) {
        const c = ch[j], oc = c * K;
        let s = 0;
        for (let k = 0; k < K; k++) s += (excl[k] = prefix[k] * suffix[(j + 1) * K + k]);
        for (let k = 0; k < K; k++) excl[k] /= s;
        if (identity) {
          for (let k = 0; k < K; k++) beta[oc + k] = excl[k];
        } else {
          const T = this.transitions[c]!;
          let sb = 0;
          for (let kc = 0; kc < K; kc++) {
            let v = 0;
            for (let kp = 0; kp < K; kp++) v += excl[kp] * T[kp * K + kc];
            sb += (beta[oc + kc] = v);
          }
          for (let kc = 0; kc < K; kc++) beta[oc + kc] /= sb;
          if (stats) {
            // q(z_g = kp, z_c = kc | e) ∝ excl(kp)·T(kc | kp)·λ_c(kc).
            const acc = stats.transitions[c];
            let sp = 0;
            for (let kp = 0; kp < K; kp++) for (let kc = 0; kc < K; kc++) sp += excl[kp] * T[kp * K + kc] * lambda[oc + kc];
            for (let kp = 0; kp < K; kp++) for (let kc = 0; kc < K; kc++) acc[kp * K + kc] += (excl[kp] * T[kp * K + kc] * lambda[oc + kc]) / sp;
          }
        }
        let mx = 0;
        for (let k = 0; k < K; k++) mx = Math.max(mx, (prefix[k] *= msg[oc + k]));
        if (mx > 0) for (let k = 0; k < K; k++) prefix[k] /= mx;
      }
    }
    return { logEvidence, posterior, lambda };
  }

  /** log p(evidence): the log-likelihood of the observed values, the hidden states and the rest summed out. */
  logProbability(e: Evidence): number {
    return this.infer(e).logEvidence;
  }

  /** Exact per-value posterior mean and variance given the evidence. */
  condition(e: Evidence): Conditional {
    const { K } = this;
    const inf = this.infer(e);
    const mean = new Float64Array(this.D), variance = new Float64Array(this.D);
    this.groups.forEach((members, g) => {
      for (const d of members) {
        let m = 0, m2 = 0;
        for (let k = 0; k < K; k++) {
          const q = inf.posterior[g * K + k];
          if (q === 0) continue;
          const [mk, vk] = this.leaves.moments(d, k, e);
          m += q * mk;
          m2 += q * (vk + mk * mk);
        }
        mean[d] = m;
        variance[d] = Math.max(0, m2 - m * m);
      }
    });
    return { logEvidence: inf.logEvidence, mean, variance };
  }

  /** An exact joint sample of all values given the evidence (hidden states top-down, then leaves). */
  sample(e: Evidence, rng: Rng): Float64Array {
    const { K } = this;
    const inf = this.infer(e);
    const z = new Int32Array(this.G);
    const w = new Float64Array(K);
    for (const g of this.order) {
      const p = this.parent[g];
      let total = 0;
      for (let k = 0; k < K; k++) {
        const up = inf.lambda[g * K + k];
        const down = p < 0 ? this.prior[k] : this.identity ? (k === z[p] ? 1 : 0) : this.transitions[g]![z[p] * K + k];
        total += (w[k] = up * down);
      }
      z[g] = rng.categorical(w, total);
    }
    const x = new Float64Array(this.D);
    this.groups.forEach((members, g) => {
      for (const d of members) x[d] = this.leaves.sample(d, z[g], e, rng);
    });
    return x;
  }

  toJSON(): CircuitJSON {
    return {
      format: 'diffgraph/tpm@1',
      structure: this.structure,
      itemShape: [...this.itemShape],
      K: this.K,
      groups: this.groups.map((g) => [...g]),
      parent: Array.from(this.parent),
      prior: Array.from(this.prior),
      transitions: this.transitions.map((t) => (t ? Array.from(t) : null)),
      leaves: this.leaves.toJSON(),
    };
  }

  static fromJSON(j: CircuitJSON): TreeCircuit {
    if (j?.format !== 'diffgraph/tpm@1') throw new Error('TPM: not a diffgraph/tpm@1 document');
    if (j.structure !== 'hclt' && j.structure !== 'mofg') throw new Error(`TPM: unknown structure "${j.structure}"`);
    const D = j.itemShape.reduce((a, b) => a * b, 1);
    return new TreeCircuit(
      j.structure, j.itemShape, j.K, j.groups, Int32Array.from(j.parent), Float64Array.from(j.prior),
      j.transitions.map((t) => (t ? Float64Array.from(t) : null)), leavesFromJSON(j.leaves, D, j.K),
    );
  }
}

declare module '@diffgraph/engine' {
  interface SocketTypes {
    TPM: TreeCircuit;
  }
}
