import { describe, expect, it } from 'vitest';
import { Tensor, maxAbsDiff } from '@diffgraph/engine';
import { GaussianMixture, makeGmmDenoiser } from '../src/models/gmm.ts';
import { loadRefModel, rowsToTensor } from './refs.ts';

const ref = loadRefModel('gmm2');
const firstFour = Tensor.from([4, 2], ref.xT.data.subarray(0, 8), 'float64');

/** |a − b| ≤ tol·max(1, |b|) entrywise (stored values have 12 significant digits). */
function expectTensorClose(actual: Tensor, expected: readonly (readonly number[])[], tol: number): void {
  const flat = expected.flat();
  expect(actual.size).toBe(flat.length);
  for (let i = 0; i < flat.length; i++) {
    expect(Math.abs(actual.data[i] - flat[i])).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(flat[i])));
  }
}

describe('GaussianMixture against model_checks (data/refs/README.md §1)', () => {
  it('eps and x0 at every listed (schedule, t)', () => {
    for (const check of ref.json.model_checks.vp) {
      const schedule = ref.schedules[check.schedule];
      expectTensorClose(ref.gmm.epsAt(firstFour, schedule, check.t), check.eps, 1e-9);
      expectTensorClose(ref.gmm.x0At(firstFour, schedule, check.t), check.x0, 1e-9);
    }
  });

  it('VE denoiser D(u, sigma) at sigma_max, 1, 0.1, sigma_min and 0', () => {
    for (const check of ref.json.model_checks.ve_denoiser) {
      const u = Tensor.from([4, 2], firstFour.data.map((v) => v * Math.max(check.sigma, 1)), 'float64');
      expectTensorClose(ref.gmm.denoiseVE(u, check.sigma), check.D, 1e-9);
    }
  });
});

describe('GaussianMixture identities', () => {
  const { gmm } = ref;
  const sd = ref.schedules.sd_discrete;

  it('x0 = (x − sigma·eps)/alpha, and the VE form agrees with the VP form', () => {
    for (const t of [0.9, 0.3, 0.02]) {
      const [a, s] = [sd.alpha(t), sd.sigma(t)];
      const x0 = gmm.x0(ref.xT, a, s);
      const eps = gmm.eps(ref.xT, a, s);
      const fromEps = Tensor.from(ref.xT.shape, ref.xT.data.map((x, i) => (x - s * eps.data[i]) / a), 'float64');
      expect(maxAbsDiff(x0, fromEps)).toBeLessThan(1e-12 / a);
      const u = Tensor.from(ref.xT.shape, ref.xT.data.map((x) => x / a), 'float64');
      expect(maxAbsDiff(gmm.denoiseVE(u, s / a), x0)).toBeLessThan(1e-12);
      const epsVE = gmm.epsVE(u, s / a);
      expect(maxAbsDiff(epsVE, eps)).toBeLessThan(1e-12);
    }
  });

  it('is exact at sigma = 0 and at alpha = 0', () => {
    expect(maxAbsDiff(gmm.x0(ref.xT, 1, 0), ref.xT)).toBeLessThan(1e-15);
    expect(Array.from(gmm.eps(ref.xT, 1, 0).data).every((v) => v === 0)).toBe(true);
    // Pure noise: the posterior mean is the prior mean.
    const mean = [0, 1].map((d) => gmm.weights.reduce((sum, w, k) => sum + w * gmm.means[k * 2 + d], 0));
    const x0 = gmm.x0(ref.xT, 0, 1);
    for (let b = 0; b < ref.xT.batch; b++) {
      expect(x0.data[2 * b]).toBeCloseTo(mean[0], 13);
      expect(x0.data[2 * b + 1]).toBeCloseTo(mean[1], 13);
    }
  });

  it('matches a finite-difference score (eps = −sigma·∇log p_t)', () => {
    const [a, s] = [sd.alpha(0.4), sd.sigma(0.4)];
    const logDensity = (x: number[]): number => {
      let total = 0;
      for (let k = 0; k < gmm.K; k++) {
        const v = a * a * gmm.stds[k] ** 2 + s * s;
        const sq = x.reduce((acc, xi, d) => acc + (xi - a * gmm.means[k * 2 + d]) ** 2, 0);
        total += (gmm.weights[k] * Math.exp(-sq / (2 * v))) / (2 * Math.PI * v);
      }
      return Math.log(total);
    };
    const x = [0.3, -0.7];
    const eps = gmm.eps(Tensor.from([1, 2], x, 'float64'), a, s);
    const h = 1e-5;
    for (let d = 0; d < 2; d++) {
      const plus = [...x], minus = [...x];
      plus[d] += h;
      minus[d] -= h;
      const score = (logDensity(plus) - logDensity(minus)) / (2 * h);
      expect(eps.data[d]).toBeCloseTo(-s * score, 8);
    }
  });

  it('stays finite far from every component (log-sum-exp)', () => {
    const far = Tensor.from([1, 2], [400, -300], 'float64');
    const x0 = gmm.x0(far, 1, 1e-3);
    expect(Array.from(x0.data).every(Number.isFinite)).toBe(true);
  });

  it('keeps the input dtype and batch layout', () => {
    const x32 = Tensor.from([3, 1, 2], ref.xT.data.subarray(0, 6), 'float32');
    const out = gmm.x0At(x32, sd, 0.5);
    expect(out.dtype).toBe('float32');
    expect(out.shape).toEqual([3, 1, 2]);
    const out64 = gmm.x0At(Tensor.from([3, 2], x32.data, 'float64'), sd, 0.5);
    expect(maxAbsDiff(out, out64)).toBeLessThan(1e-6);
    // Each item is independent of its batch neighbours.
    const single = gmm.x0At(Tensor.from([1, 2], x32.data.subarray(2, 4), 'float64'), sd, 0.5);
    expect(Math.abs(single.data[0] - out64.data[2])).toBe(0);
    expect(() => gmm.x0(Tensor.zeros([2, 3], 'float64'), 1, 0.5)).toThrow(/2 values per item/);
  });
});

describe('class-conditional mixtures', () => {
  it('restrict renormalizes the chosen components', () => {
    const sub = ref.gmm.restrict([3, 1]);
    expect(sub.K).toBe(2);
    const total = ref.gmm.weights[3] + ref.gmm.weights[1];
    expect(sub.weights[0]).toBeCloseTo(ref.gmm.weights[3] / total, 15);
    expect(Array.from(sub.means.subarray(0, 2))).toEqual(ref.json.model.means[3]);
    expect(sub.stds[1]).toBe(ref.gmm.stds[1]);
    expect(() => ref.gmm.restrict([])).toThrow();
    expect(() => ref.gmm.restrict([5])).toThrow(RangeError);
    expect(() => ref.gmm.restrict([1, 1])).toThrow();
  });

  it('a single-component class is the Gaussian posterior mean', () => {
    const k = 2;
    const single = ref.gmm.restrict([k]);
    const [a, s] = [0.6, 0.8];
    const x0 = single.x0(ref.xT, a, s);
    const s2 = ref.gmm.stds[k] ** 2;
    const v = a * a * s2 + s * s;
    for (let i = 0; i < ref.xT.size; i++) {
      const mu = ref.gmm.means[k * 2 + (i % 2)];
      expect(x0.data[i]).toBeCloseTo(mu + (a * s2 / v) * (ref.xT.data[i] - a * mu), 14);
    }
  });

  it('makeGmmDenoiser gives an async x0 prediction, optionally class-conditional', async () => {
    const vp = ref.schedules.linear_vp;
    const denoiser = makeGmmDenoiser(ref.gmm, vp);
    const check = ref.json.model_checks.vp.find((c) => c.schedule === 'linear_vp' && c.t === 0.2345678)!;
    expectTensorClose(await denoiser(firstFour, check.t), check.x0, 1e-9);
    const conditional = makeGmmDenoiser(ref.gmm, vp, { components: [0, 4] });
    const expected = ref.gmm.restrict([0, 4]).x0At(firstFour, vp, 0.5);
    expect(maxAbsDiff(await conditional(firstFour, 0.5), expected)).toBe(0);
  });

  it('rejects invalid parameters', () => {
    expect(() => new GaussianMixture({ weights: [1], means: [[0, 0]], stds: [0] })).toThrow();
    expect(() => new GaussianMixture({ weights: [0.5, 0.5], means: [[0, 0], [1]], stds: [1, 1] })).toThrow();
    expect(rowsToTensor([[1, 2]]).shape).toEqual([1, 2]);
  });
});
