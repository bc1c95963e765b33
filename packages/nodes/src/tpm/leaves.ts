/**
 * Leaf distributions p(x_d | z = k) of a circuit, one per (variable d, hidden state k). A variable
 * group's leaf is the product of its variables' leaves (factorised), so groups can be pixels or whole
 * latent patches with the same code.
 *
 * Gaussian N(mu, v):
 *   hard evidence y:       log N(y; mu, v)
 *   soft obs = a·x + s·n:  ∫ N(x; mu, v)·N(obs; a·x, s²) dx = N(obs; a·mu, a²v + s²), and the
 *                          posterior of x is N(m, c), c = 1/(1/v + a²/s²), m = c·(mu/v + a·obs/s²)
 * Categorical over numeric category values c_1..c_C (binary pixels, quantised intensities):
 *   hard: log p(y); soft: log Σ_c p_c·N(obs; a·c_c, s²) and the reweighted p_c as the posterior.
 */
import { logNormal, softAt, type Evidence } from './evidence.ts';
import type { Rng } from './rng.ts';

export interface GaussianLeavesJSON {
  type: 'gaussian';
  /** [D][K] row-major. */
  mean: number[];
  variance: number[];
}

export interface CategoricalLeavesJSON {
  type: 'categorical';
  values: number[];
  /** [D][K][C] row-major. */
  probs: number[];
}

export type LeavesJSON = GaussianLeavesJSON | CategoricalLeavesJSON;

/** EM sufficient statistics, indexed like the parameters. */
export interface LeafStats {
  weight: Float64Array;
  first: Float64Array;
  second: Float64Array;
}

export interface Leaves {
  readonly type: 'gaussian' | 'categorical';
  readonly D: number;
  readonly K: number;
  /** out[k] += log p(evidence on d | z = k). */
  addLogEvidence(d: number, e: Evidence, out: Float64Array): void;
  /** Mean and variance of x_d given z = k and the evidence on d. */
  moments(d: number, k: number, e: Evidence): [number, number];
  sample(d: number, k: number, e: Evidence, rng: Rng): number;
  createStats(): LeafStats;
  /** Adds q[k] (k = 0..K−1) of a fully observed value x_d. */
  accumulate(stats: LeafStats, d: number, x: number, q: Float64Array, qOffset: number): void;
  maximize(stats: LeafStats, options: { pseudocount: number; minVariance: number }): void;
  toJSON(): LeavesJSON;
}

export class GaussianLeaves implements Leaves {
  readonly type = 'gaussian';
  constructor(readonly D: number, readonly K: number, readonly mean: Float64Array, readonly variance: Float64Array) {
    if (mean.length !== D * K || variance.length !== D * K) throw new Error(`GaussianLeaves: need ${D}×${K} means and variances`);
    for (const v of variance) if (!(v > 0)) throw new Error('GaussianLeaves: variances must be > 0');
  }

  addLogEvidence(d: number, e: Evidence, out: Float64Array): void {
    const y = e.hard[d], base = d * this.K;
    if (!Number.isNaN(y)) {
      for (let k = 0; k < this.K; k++) out[k] += logNormal(y, this.mean[base + k], this.variance[base + k]);
      return;
    }
    const s = softAt(e, d);
    if (!s) return;
    const o = s.obs[d], a = s.alpha, s2 = s.sigma * s.sigma;
    for (let k = 0; k < this.K; k++) out[k] += logNormal(o, a * this.mean[base + k], a * a * this.variance[base + k] + s2);
  }

  moments(d: number, k: number, e: Evidence): [number, number] {
    const y = e.hard[d];
    if (!Number.isNaN(y)) return [y, 0];
    const mu = this.mean[d * this.K + k], v = this.variance[d * this.K + k];
    const s = softAt(e, d);
    if (!s) return [mu, v];
    const s2 = s.sigma * s.sigma;
    const c = 1 / (1 / v + (s.alpha * s.alpha) / s2);
    return [c * (mu / v + (s.alpha * s.obs[d]) / s2), c];
  }

  sample(d: number, k: number, e: Evidence, rng: Rng): number {
    const [m, v] = this.moments(d, k, e);
    return v > 0 ? m + Math.sqrt(v) * rng.normal() : m;
  }

  createStats(): LeafStats {
    const n = this.D * this.K;
    return { weight: new Float64Array(n), first: new Float64Array(n), second: new Float64Array(n) };
  }

  accumulate(stats: LeafStats, d: number, x: number, q: Float64Array, qOffset: number): void {
    const base = d * this.K;
    for (let k = 0; k < this.K; k++) {
      const w = q[qOffset + k];
      stats.weight[base + k] += w;
      stats.first[base + k] += w * x;
      stats.second[base + k] += w * x * x;
    }
  }

  maximize(stats: LeafStats, { minVariance }: { minVariance: number }): void {
    for (let i = 0; i < this.mean.length; i++) {
      const w = stats.weight[i];
      if (!(w > 1e-12)) continue; // an unused state keeps its parameters
      const m = stats.first[i] / w;
      this.mean[i] = m;
      this.variance[i] = Math.max(stats.second[i] / w - m * m, minVariance);
    }
  }

  toJSON(): GaussianLeavesJSON {
    return { type: 'gaussian', mean: Array.from(this.mean), variance: Array.from(this.variance) };
  }
}

export class CategoricalLeaves implements Leaves {
  readonly type = 'categorical';
  readonly C: number;
  private readonly index = new Map<number, number>();

  constructor(readonly D: number, readonly K: number, readonly values: Float64Array, readonly probs: Float64Array) {
    this.C = values.length;
    if (probs.length !== D * K * this.C) throw new Error(`CategoricalLeaves: need ${D}×${K}×${this.C} probabilities`);
    values.forEach((v, c) => this.index.set(v, c));
    if (this.index.size !== this.C) throw new Error('CategoricalLeaves: category values must be distinct');
  }

  category(y: number): number {
    const c = this.index.get(y);
    if (c === undefined) throw new Error(`CategoricalLeaves: ${y} is not one of the categories [${Array.from(this.values).join(', ')}]`);
    return c;
  }

  /** p(category | z = k, evidence on d), unnormalised into w; returns the normaliser. */
  private posterior(d: number, k: number, e: Evidence, w: Float64Array): number {
    const base = (d * this.K + k) * this.C;
    const s = softAt(e, d);
    let total = 0;
    for (let c = 0; c < this.C; c++) {
      w[c] = this.probs[base + c] * (s ? Math.exp(logNormal(s.obs[d], s.alpha * this.values[c], s.sigma * s.sigma)) : 1);
      total += w[c];
    }
    return total;
  }

  addLogEvidence(d: number, e: Evidence, out: Float64Array): void {
    const y = e.hard[d];
    if (!Number.isNaN(y)) {
      const c = this.category(y);
      for (let k = 0; k < this.K; k++) out[k] += Math.log(this.probs[(d * this.K + k) * this.C + c]);
      return;
    }
    if (!softAt(e, d)) return;
    const w = new Float64Array(this.C);
    for (let k = 0; k < this.K; k++) out[k] += Math.log(this.posterior(d, k, e, w));
  }

  moments(d: number, k: number, e: Evidence): [number, number] {
    const y = e.hard[d];
    if (!Number.isNaN(y)) return [y, 0];
    const w = new Float64Array(this.C);
    const total = this.posterior(d, k, e, w);
    let m = 0, m2 = 0;
    for (let c = 0; c < this.C; c++) {
      m += (w[c] / total) * this.values[c];
      m2 += (w[c] / total) * this.values[c] ** 2;
    }
    return [m, Math.max(0, m2 - m * m)];
  }

  sample(d: number, k: number, e: Evidence, rng: Rng): number {
    const y = e.hard[d];
    if (!Number.isNaN(y)) return y;
    const w = new Float64Array(this.C);
    return this.values[rng.categorical(w, this.posterior(d, k, e, w))];
  }

  createStats(): LeafStats {
    return { weight: new Float64Array(this.D * this.K * this.C), first: new Float64Array(0), second: new Float64Array(0) };
  }

  accumulate(stats: LeafStats, d: number, x: number, q: Float64Array, qOffset: number): void {
    const c = this.category(x);
    for (let k = 0; k < this.K; k++) stats.weight[(d * this.K + k) * this.C + c] += q[qOffset + k];
  }

  maximize(stats: LeafStats, { pseudocount }: { pseudocount: number }): void {
    for (let i = 0; i < this.D * this.K; i++) {
      let total = 0;
      for (let c = 0; c < this.C; c++) total += stats.weight[i * this.C + c] + pseudocount;
      if (!(total > 1e-12)) continue;
      for (let c = 0; c < this.C; c++) this.probs[i * this.C + c] = (stats.weight[i * this.C + c] + pseudocount) / total;
    }
  }

  toJSON(): CategoricalLeavesJSON {
    return { type: 'categorical', values: Array.from(this.values), probs: Array.from(this.probs) };
  }
}

export function leavesFromJSON(j: LeavesJSON, D: number, K: number): Leaves {
  if (j.type === 'gaussian') return new GaussianLeaves(D, K, Float64Array.from(j.mean), Float64Array.from(j.variance));
  if (j.type === 'categorical') return new CategoricalLeaves(D, K, Float64Array.from(j.values), Float64Array.from(j.probs));
  throw new Error(`TPM: unknown leaf type ${(j as { type: unknown }).type}`);
}
