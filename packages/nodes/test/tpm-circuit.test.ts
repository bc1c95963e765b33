/**
 * The TPM's circuit: exact marginals/conditionals against brute-force enumeration (discrete leaves),
 * Gaussian-leaf conditionals against closed form, EM monotonicity, learning a known mixture, sampling
 * and save/load.
 */
import { describe, expect, it } from 'vitest';
import { TreeCircuit } from '../src/tpm/circuit.ts';
import { CategoricalLeaves, GaussianLeaves } from '../src/tpm/leaves.ts';
import { logNormal, missing, type Evidence } from '../src/tpm/evidence.ts';
import { learnCircuit } from '../src/tpm/learn.ts';
import { patchGroups } from '../src/tpm/groups.ts';
import { makeRng, type Rng } from '../src/tpm/rng.ts';

const normalized = (v: number[]) => {
  const s = v.reduce((a, b) => a + b, 0);
  return v.map((x) => x / s);
};
const randomSimplex = (rng: Rng, n: number) => normalized(Array.from({ length: n }, () => 0.05 + rng.uniform()));

/** A random discrete HCLT (or MoFG) over single-variable groups with categorical leaves. */
function randomCategorical(structure: 'hclt' | 'mofg', parent: number[], K: number, values: number[], seed: number): TreeCircuit {
  const rng = makeRng(seed);
  const D = parent.length, C = values.length;
  const probs = new Float64Array(D * K * C);
  for (let i = 0; i < D * K; i++) probs.set(randomSimplex(rng, C), i * C);
  const transitions = parent.map((p) => (p < 0 || structure === 'mofg' ? null : Float64Array.from(Array.from({ length: K }, () => randomSimplex(rng, K)).flat())));
  return new TreeCircuit(structure, [D], K, parent.map((_, d) => [d]), Int32Array.from(parent), Float64Array.from(randomSimplex(rng, K)),
    transitions, new CategoricalLeaves(D, K, Float64Array.from(values), probs));
}

/** Joint p(x, z) of a categorical circuit by its definition, for enumeration. */
function bruteForce(c: TreeCircuit, e: Evidence) {
  const leaves = c.leaves as CategoricalLeaves;
  const { D, K } = c;
  const C = leaves.C;
  const zConfigs = c.identity ? Array.from({ length: K }, (_, k) => new Array(D).fill(k)) : enumerate(D, K);
  let total = 0;
  const meanNum = new Float64Array(D), secondNum = new Float64Array(D), zPost = new Float64Array(D * K);
  for (const z of zConfigs) {
    let pz = c.prior[z[c.root]];
    for (let g = 0; g < D; g++) if (!c.identity && c.parent[g] >= 0) pz *= c.transitions[g]![z[c.parent[g]] * K + z[g]];
    for (const x of enumerate(D, C)) {
      let p = pz;
      for (let d = 0; d < D; d++) {
        const v = leaves.values[x[d]];
        if (!Number.isNaN(e.hard[d]) && e.hard[d] !== v) p = 0;
        p *= leaves.probs[(d * K + z[d]) * C + x[d]];
        if (e.soft && Number.isNaN(e.hard[d])) p *= Math.exp(logNormal(e.soft.obs[d], e.soft.alpha * v, e.soft.sigma ** 2));
      }
      if (p === 0) continue;
      total += p;
      for (let d = 0; d < D; d++) {
        meanNum[d] += p * leaves.values[x[d]];
        secondNum[d] += p * leaves.values[x[d]] ** 2;
        zPost[d * K + z[d]] += p;
      }
    }
  }
  const mean = meanNum.map((v) => v / total);
  return { logEvidence: Math.log(total), mean, variance: secondNum.map((v, d) => v / total - mean[d] ** 2), zPost: zPost.map((v) => v / total) };
}

function enumerate(n: number, base: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < base ** n; i++) out.push(Array.from({ length: n }, (_, d) => Math.floor(i / base ** d) % base));
  return out;
}

const close = (a: number, b: number, tol: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b)));

describe('TPM circuit: exact inference', () => {
  const evidences: [string, Evidence][] = [
    ['no evidence', missing(5)],
    ['hard evidence on two variables', { hard: Float64Array.from([NaN, 1, NaN, 0, NaN]) }],
    ['hard + soft (x_t-likelihood) evidence', { hard: Float64Array.from([1, NaN, NaN, 0, NaN]), soft: { obs: Float64Array.from([0, 0.9, -0.4, 0, 0.3]), alpha: 0.8, sigma: 0.6 } }],
  ];

  it.each(evidences)('binary HCLT over 5 variables, K = 3, matches brute-force enumeration (%s)', (_, e) => {
    const c = randomCategorical('hclt', [-1, 0, 0, 1, 1], 3, [0, 1], 7);
    const exact = bruteForce(c, e);
    const inf = c.infer(e);
    const cond = c.condition(e);
    close(inf.logEvidence, exact.logEvidence, 1e-12);
    for (let d = 0; d < 5; d++) {
      close(cond.mean[d], exact.mean[d], 1e-12); // = p(x_d = 1 | e)
      close(cond.variance[d], exact.variance[d], 1e-12);
    }
    inf.posterior.forEach((q, i) => close(q, exact.zPost[i], 1e-12));
  });

  it('3-category HCLT on a chain rooted in the middle and a categorical mixture (mofg) match enumeration', () => {
    const e: Evidence = { hard: Float64Array.from([NaN, -1, NaN, NaN]), soft: { obs: Float64Array.from([0.5, 0, -1.2, 2]), alpha: 1, sigma: 0.7 } };
    for (const c of [randomCategorical('hclt', [1, -1, 1, 2], 3, [-1, 0, 2], 3), randomCategorical('mofg', [-1, 0, 0, 0], 4, [-1, 0, 2], 4)]) {
      const exact = bruteForce(c, e);
      const cond = c.condition(e);
      close(cond.logEvidence, exact.logEvidence, 1e-12);
      cond.mean.forEach((m, d) => close(m, exact.mean[d], 1e-12));
    }
  });

  it('Gaussian leaves over patch groups: conditionals match the closed form summed over hidden configurations', () => {
    const rng = makeRng(5);
    const K = 2, groups = [[0, 1], [2], [3]], parent = [-1, 0, 0], D = 4;
    const mean = Float64Array.from({ length: D * K }, () => 2 * rng.normal());
    const variance = Float64Array.from({ length: D * K }, () => 0.2 + rng.uniform());
    const T = [null, Float64Array.from([0.7, 0.3, 0.2, 0.8]), Float64Array.from([0.4, 0.6, 0.9, 0.1])];
    const prior = Float64Array.from([0.35, 0.65]);
    const c = new TreeCircuit('hclt', [D], K, groups, Int32Array.from(parent), prior, T, new GaussianLeaves(D, K, mean, variance));
    const a = 0.6, s = 0.8;
    const e: Evidence = { hard: Float64Array.from([0.3, NaN, NaN, -1.1]), soft: { obs: Float64Array.from([0, 0.7, -0.2, 0]), alpha: a, sigma: s } };
    // Closed form: per hidden configuration, leaf evidence and per-value posterior are Gaussian formulas.
    let total = 0;
    const m1 = new Float64Array(D), m2 = new Float64Array(D);
    for (const z of enumerate(3, K)) {
      let w = prior[z[0]] * T[1]![z[0] * K + z[1]] * T[2]![z[0] * K + z[2]];
      const mom: [number, number][] = [];
      groups.forEach((members, g) => members.forEach((d) => {
        const mu = mean[d * K + z[g]], v = variance[d * K + z[g]];
        if (!Number.isNaN(e.hard[d])) {
          w *= Math.exp(logNormal(e.hard[d], mu, v));
          mom[d] = [e.hard[d], 0];
        } else {
          const o = e.soft!.obs[d];
          w *= Math.exp(logNormal(o, a * mu, a * a * v + s * s));
          const cv = 1 / (1 / v + (a * a) / (s * s));
          mom[d] = [cv * (mu / v + (a * o) / (s * s)), cv];
        }
      }));
      total += w;
      for (let d = 0; d < D; d++) {
        m1[d] += w * mom[d][0];
        m2[d] += w * (mom[d][1] + mom[d][0] ** 2);
      }
    }
    const cond = c.condition(e);
    close(cond.logEvidence, Math.log(total), 1e-12);
    for (let d = 0; d < D; d++) {
      close(cond.mean[d], m1[d] / total, 1e-12);
      close(cond.variance[d], m2[d] / total - (m1[d] / total) ** 2, 1e-11);
    }
    // The soft-evidence integral itself, ∫ N(x; mu, v) N(o; a x, s²) dx, by quadrature.
    const [mu, v, o] = [0.4, 0.3, 0.9];
    let q = 0;
    for (let x = -8; x <= 8; x += 1e-3) q += 1e-3 * Math.exp(logNormal(x, mu, v) + logNormal(o, a * x, s * s));
    close(Math.log(q), logNormal(o, a * mu, a * a * v + s * s), 1e-9);
  });

  it('exact joint samples reproduce the conditional means (Monte Carlo)', () => {
    const c = randomCategorical('hclt', [-1, 0, 1, 1, 0], 3, [0, 1], 21);
    const e: Evidence = { hard: Float64Array.from([NaN, NaN, 1, NaN, NaN]) };
    const exact = c.condition(e);
    const rng = makeRng(1);
    const n = 4000;
    const acc = new Float64Array(5);
    for (let i = 0; i < n; i++) c.sample(e, rng).forEach((v, d) => (acc[d] += v / n));
    acc.forEach((m, d) => expect(Math.abs(m - exact.mean[d])).toBeLessThan(4 * Math.sqrt(0.25 / n) + 1e-12));
  });
});

describe('TPM circuit: learning by EM', () => {
  it('EM on 3×3 binary images (K = 4, no pseudocount) never lowers the log-likelihood', () => {
    const truth = randomCategorical('hclt', [-1, 0, 1, 0, 3, 4, 3, 6, 7], 3, [0, 1], 11);
    const rng = makeRng(2);
    const n = 300;
    const data = new Float64Array(n * 9);
    for (let i = 0; i < n; i++) data.set(truth.sample(missing(9), rng), i * 9);
    const { circuit, logLikelihoods } = learnCircuit(data, {
      structure: 'hclt', itemShape: [3, 3], groups: patchGroups([3, 3], 1), K: 4, iterations: 15, seed: 3,
      leaf: { type: 'categorical', values: [0, 1] }, pseudocount: 0,
    });
    for (let i = 1; i < logLikelihoods.length; i++) expect(logLikelihoods[i]).toBeGreaterThanOrEqual(logLikelihoods[i - 1] - 1e-9);
    expect(logLikelihoods.at(-1)! - logLikelihoods[0]).toBeGreaterThan(0.05);
    // Close to the truth's own fit: the data's entropy under the generating circuit.
    let truthLl = 0;
    for (let i = 0; i < n; i++) truthLl += truth.logProbability({ hard: data.subarray(i * 9, (i + 1) * 9) }) / n;
    expect(logLikelihoods.at(-1)!).toBeGreaterThan(truthLl - 0.15);
    expect(circuit.structure).toBe('hclt');
  });

  it('a mixture of factorised Gaussians fit to data from a known diagonal GMM gives its conditionals', () => {
    // Truth: 2 components in 4 dims; conditionals of x_U given x_O are analytic (reweighted components).
    const truth = { w: [0.4, 0.6], mu: [[-2, 1, 0, 2], [2, -1, 1, -2]], sd: [[0.5, 0.6, 0.4, 0.5], [0.6, 0.3, 0.5, 0.7]] };
    const rng = makeRng(9);
    const n = 1500;
    const data = new Float64Array(n * 4);
    for (let i = 0; i < n; i++) {
      const k = rng.uniform() < truth.w[0] ? 0 : 1;
      for (let d = 0; d < 4; d++) data[i * 4 + d] = truth.mu[k][d] + truth.sd[k][d] * rng.normal();
    }
    const { circuit, logLikelihoods } = learnCircuit(data, { structure: 'mofg', itemShape: [4], groups: patchGroups([4], 1), K: 2, iterations: 30, seed: 1 });
    for (let i = 1; i < logLikelihoods.length; i++) expect(logLikelihoods[i]).toBeGreaterThanOrEqual(logLikelihoods[i - 1] - 1e-9);
    for (const xo of [[-1.5, 0.8], [0.3, -0.2], [1.8, -1.3]]) {
      const cond = circuit.condition({ hard: Float64Array.from([xo[0], xo[1], NaN, NaN]) });
      const lw = truth.w.map((w, k) => Math.log(w) + logNormal(xo[0], truth.mu[k][0], truth.sd[k][0] ** 2) + logNormal(xo[1], truth.mu[k][1], truth.sd[k][1] ** 2));
      const r = normalized(lw.map((v) => Math.exp(v - Math.max(...lw))));
      for (const d of [2, 3]) {
        const m = r[0] * truth.mu[0][d] + r[1] * truth.mu[1][d];
        expect(Math.abs(cond.mean[d] - m)).toBeLessThan(0.08);
      }
    }
  });

  it('saves and loads exactly (JSON round trip), and rejects malformed documents', () => {
    const rng = makeRng(4);
    const data = Float64Array.from({ length: 40 * 2 * 4 * 4 }, () => rng.normal());
    const { circuit } = learnCircuit(data, { structure: 'hclt', itemShape: [2, 4, 4], groups: patchGroups([2, 4, 4], 2), K: 3, iterations: 3, seed: 0 });
    expect(circuit.G).toBe(4);
    const back = TreeCircuit.fromJSON(JSON.parse(JSON.stringify(circuit.toJSON())));
    const e: Evidence = { hard: Float64Array.from({ length: 32 }, (_, i) => (i % 3 === 0 ? 0.1 * i : NaN)) };
    expect(Array.from(back.condition(e).mean)).toEqual(Array.from(circuit.condition(e).mean));
    expect(() => TreeCircuit.fromJSON({ ...circuit.toJSON(), parent: [-1, -1, 0, 0] })).toThrow(/exactly one root/);
    expect(() => TreeCircuit.fromJSON({ format: 'x' } as never)).toThrow(/not a diffgraph\/tpm@1/);
  });
});
