/**
 * The CFG family on the class-conditional analytic Gaussian mixture, where the answers are known:
 * CFG with w = 1 samples the conditional and w = 0 the mixture; composable AND of two conditions on
 * independent factors samples the product of experts; CFG-rescale's defining identities; and every
 * guider makes ONE batched model call per step.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, maxAbsDiff } from '@diffgraph/engine';
import { GaussianMixture, gaussianMixtureModel } from '../src/index.ts';
import type { Conditioning, DiffusionModel } from '../src/contracts/sampling.ts';
import { cfgGuider } from '../src/guiders/cfg-guider.ts';
import { composableGuider } from '../src/guiders/composable.ts';
import { itemStds, rescaleGuider, rescaleToReference } from '../src/guiders/rescale.ts';
import { predictionFromX0 } from '../src/contracts/parameterization.ts';
import { randomNormal } from '../src/noise/philox.ts';
import { componentMasses, componentMeans, draw, gmm, MIXTURE, model, schedule, se } from './guiders-toy.ts';

const N = 2000;
const CLASS: Conditioning = { components: [1, 2] };

/** Wraps a model to count batched calls and the conditionings in each. */
function counting(m: DiffusionModel) {
  const calls: number[] = [];
  let single = 0;
  const wrapped: DiffusionModel = {
    ...m,
    predictX0: (x, t, c) => (single++, m.predictX0(x, t, c)),
    predictX0Many: (x, t, cs) => (calls.push(cs.length), m.predictX0Many!(x, t, cs)),
  };
  return { model: wrapped, calls, single: () => single };
}

function expectMasses(measured: number[], exact: number[], n: number, bias = 0.01) {
  measured.forEach((m, k) => expect(Math.abs(m - exact[k]), `component ${k}: ${m.toFixed(4)} vs ${exact[k].toFixed(4)}`).toBeLessThan(4 * se(exact[k], n) + bias));
}

describe('CFGGuider on the exact mixture', () => {
  it('w = 1 samples the class-conditional, w = 0 the mixture (N = 2000, 20 DPM-Solver++ steps)', async () => {
    const cond = await draw(cfgGuider(model, CLASS, undefined, 1), N);
    const uncond = await draw(cfgGuider(model, CLASS, undefined, 0), N);
    const mc = await componentMasses(gmm, cond.x, cond.tEnd);
    const mu = await componentMasses(gmm, uncond.x, uncond.tEnd);
    console.log(`CFG w=1 masses ${mc.map((v) => v.toFixed(4))} (exact 0, 0.6, 0.4); w=0 ${mu.map((v) => v.toFixed(4))} (exact 0.5, 0.3, 0.2)`);
    expectMasses(mc, [0, 0.6, 0.4], N);
    expectMasses(mu, MIXTURE.weights, N);
    // Within a component the samples keep its mean (std/√n per coordinate).
    const means = await componentMeans(gmm, cond.x, cond.tEnd);
    for (const k of [1, 2]) for (let d = 0; d < 2; d++) expect(Math.abs(means[k][d] - MIXTURE.means[k][d])).toBeLessThan(4 * MIXTURE.stds[k] / Math.sqrt(N * 0.4) + 0.01);
  });

  it('w > 1 pushes mass further into the class than the conditional', async () => {
    const { x, tEnd } = await draw(cfgGuider(model, { components: [0, 1] }, undefined, 3), N);
    const m = await componentMasses(gmm, x, tEnd);
    expect(m[2]).toBeLessThan(0.005);
  });
});

describe('batched model calls', () => {
  it('CFG, composable and rescale make one predictX0Many call per step with all their conditionings', async () => {
    const x = randomNormal([8, 2], 3, 'float64');
    for (const [make, k] of [
      [(m: DiffusionModel) => cfgGuider(m, CLASS, undefined, 4), 2],
      [(m: DiffusionModel) => composableGuider(m, [{ conditioning: CLASS, weight: 2 }, { conditioning: { components: [0] }, weight: -1 }]), 3],
      [(m: DiffusionModel) => rescaleGuider(m, CLASS, undefined, 4, 0.7), 2],
    ] as const) {
      const c = counting(model);
      const g = make(c.model);
      for (const t of [0.9, 0.5, 0.1]) await g.denoise(x, t);
      expect(c.calls).toEqual([k, k, k]);
      expect(c.single()).toBe(0);
    }
  });
});

describe('ComposableGuider', () => {
  /**
   * A 3×3 grid of components with π_ij = a_i·b_j and equal isotropic stds: the mixture factorizes,
   * p(x) = f(x1)·g(x2), and so does every noised marginal. Condition 1 restricts i ∈ I (changes f
   * only), condition 2 restricts j ∈ J (changes g only). The AND composition (weights 1, 1) has the
   * score of p1·p2/p∅ = f_I(x1)·g_J(x2) at every noise level — the exactly noised product of experts,
   * i.e. the grid restricted to I×J with weights ∝ a_i·b_j.
   */
  const a = [0.5, 0.3, 0.2], b = [0.2, 0.3, 0.5], u = [-2, 0, 2];
  const grid = new GaussianMixture({
    weights: a.flatMap((ai) => b.map((bj) => ai * bj)),
    means: u.flatMap((ui) => u.map((vj) => [ui, vj])),
    stds: new Array(9).fill(0.3),
  });
  const gridModel = gaussianMixtureModel(grid, schedule, 'float64');
  const I = [0, 1], J = [1, 2];
  const cond1 = { components: I.flatMap((i) => [0, 1, 2].map((j) => 3 * i + j)) };
  const cond2 = { components: [0, 1, 2].flatMap((i) => J.map((j) => 3 * i + j)) };

  it('AND of two conditions samples the closed-form product of experts', async () => {
    const g = composableGuider(gridModel, [{ conditioning: cond1, weight: 1 }, { conditioning: cond2, weight: 1 }]);
    const { x, tEnd } = await draw(g, N);
    const masses = await componentMasses(grid, x, tEnd);
    const zI = I.reduce((s, i) => s + a[i], 0), zJ = J.reduce((s, j) => s + b[j], 0);
    const exact = Array.from({ length: 9 }, (_, c) => (I.includes(Math.floor(c / 3)) && J.includes(c % 3) ? (a[Math.floor(c / 3)] / zI) * (b[c % 3] / zJ) : 0));
    console.log(`composable AND masses ${masses.map((v) => v.toFixed(4))}\n                exact  ${exact.map((v) => v.toFixed(4))}`);
    expectMasses(masses, exact, N);
  });

  it('weights (w, 0) are CFG with w; c_i AND NOT c_j with (w, −w) is x0_∅ + w·(x0_i − x0_j)', async () => {
    const x = randomNormal([16, 2], 9, 'float64');
    const t = 0.6;
    const w = 3.5;
    const viaComposable = await composableGuider(model, [{ conditioning: CLASS, weight: w }, { conditioning: { components: [0] }, weight: 0 }]).denoise(x, t);
    const viaCfg = await cfgGuider(model, CLASS, undefined, w).denoise(x, t);
    expect(maxAbsDiff(viaComposable, viaCfg)).toBeLessThan(1e-12);
    const andNot = await composableGuider(model, [{ conditioning: CLASS, weight: w }, { conditioning: { components: [0] }, weight: -w }]).denoise(x, t);
    const [u0, ci, cj] = await Promise.all([undefined, CLASS, { components: [0] }].map((c) => model.predictX0(x, t, c)));
    const expected = u0.clone();
    for (let j = 0; j < expected.size; j++) expected.data[j] += w * (ci.data[j] - cj.data[j]);
    expect(maxAbsDiff(andNot, expected)).toBeLessThan(1e-12);
  });

  it('refuses an empty list and non-finite weights', () => {
    expect(() => composableGuider(model, [])).toThrow(/at least one/);
    expect(() => composableGuider(model, [{ conditioning: CLASS, weight: NaN }])).toThrow(/finite/);
  });
});

describe('RescaleGuidance', () => {
  const x = randomNormal([32, 2], 21, 'float64');
  const t = 0.4;
  const alpha = schedule.alpha(t), sigma = schedule.sigma(t);

  it('phi = 1: the output has, per sample and in the rescaled space, the conditional std', async () => {
    for (const space of ['eps', 'v', 'x0'] as const) {
      const out = await rescaleGuider(model, CLASS, undefined, 6, 1, space).denoise(x, t);
      const cond = await model.predictX0(x, t, CLASS);
      const so = itemStds(predictionFromX0(space, out, x, alpha, sigma));
      const sc = itemStds(predictionFromX0(space, cond, x, alpha, sigma));
      so.forEach((s, b) => expect(s).toBeCloseTo(sc[b], 10));
    }
  });

  it('phi = 0 is plain CFG; cfg = 1 returns the conditional prediction', async () => {
    const plain = await cfgGuider(model, CLASS, undefined, 6).denoise(x, t);
    expect(maxAbsDiff(await rescaleGuider(model, CLASS, undefined, 6, 0, 'eps').denoise(x, t), plain)).toBeLessThan(1e-12);
    const cond = await model.predictX0(x, t, CLASS);
    expect(maxAbsDiff(await rescaleGuider(model, CLASS, undefined, 1, 0.7, 'v').denoise(x, t), cond)).toBeLessThan(1e-12);
  });

  it('rescaleToReference mixes the rescaled and the plain tensor by phi', () => {
    const g = Tensor.from([1, 4], [1, 3, 1, 3], 'float64'); // std 1
    const r = Tensor.from([1, 4], [0, 4, 0, 4], 'float64'); // std 2
    expect(Array.from(rescaleToReference(g, r, 0.5).data)).toEqual([1.5, 4.5, 1.5, 4.5]);
  });
});
