/**
 * VolumeInverseGuider: a volume [Z, ...slice] sampled slice-wise with a 2-D prior, with data consistency
 * through a volume operator and a total-variation coupling along z, checked where the answer is known.
 *
 * Gaussian slices (a one-component GaussianMixture, whose denoiser is exact) with a linear-Gaussian
 * observation have the Gaussian posterior with mean μ* = m + τ²Aᵀ(τ²AAᵀ + σ_y²I)⁻¹(y − Am), a linear
 * solve over the whole volume (A may mix slices). Ensembles are antithetic (noise z and −z): with
 * tv_weight 0 the sampler is an affine map of the noise for a Gaussian prior, so the pair's mean is the
 * map's mean without Monte Carlo error. Errors are relative to the prior mean's, ‖m − μ*‖.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Executor, Tensor, maxAbsDiff, type EngineEvent } from '@diffgraph/engine';
import { basicGuider, buildGrid, createRegistry, GaussianMixture, gaussianMixtureModel, makeSolver, sample, seededNoise } from '../src/index.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { randomNormal } from '../src/noise/philox.ts';
import type { Guider, NoiseGenerator } from '../src/contracts/sampling.ts';
import { maskOperator } from '../src/operators/mask-operator.ts';
import { composeOperators, gaussianTaps, zAveragePool, zConvolution, zProjection, type VolumeOperator } from '../src/operators/volume-operator.ts';
import { dpsGuider } from '../src/inverse/dps.ts';
import { volumeInverseGuider, type VolumeInverseOptions } from '../src/inverse/volume-guider.ts';
import { isolatedServices } from './services.ts';
import { solveDense as solve } from './linear-algebra.ts';

const schedule = makeNoiseSchedule({ kind: 'linear_vp' });
const report: Record<string, string> = {};

const negated = (g: NoiseGenerator): NoiseGenerator => ({
  seed: null,
  sample(like, stream) {
    const z = g.sample(like, stream);
    for (let i = 0; i < z.size; i++) z.data[i] = -z.data[i];
    return z;
  },
});

async function draw(guider: Guider, shape: readonly number[], noise: NoiseGenerator, steps = 30): Promise<Tensor> {
  const grid = buildGrid(schedule, { spacing: 'logSNR', steps, denoise: 1, rho: 7 });
  const solve = makeSolver('dpmsolver++', { order: 2, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 });
  const { samples } = await sample({ guider, solver: { kind: 'dpmsolver++', solve }, grid, latent: Tensor.zeros(shape, 'float64'), noise, addNoise: true, startScale: 'unit' });
  return samples;
}

/** The mean of the antithetic pair of samples for `seed`. */
async function antitheticMean(guider: Guider, shape: readonly number[], seed: number): Promise<number[]> {
  const a = await draw(guider, shape, seededNoise(seed));
  const b = await draw(guider, shape, negated(seededNoise(seed)));
  return Array.from(a.data, (v, i) => (v + b.data[i]) / 2);
}

/** Dense A (rows = measurements) from the operator applied to basis volumes. */
function dense(A: VolumeOperator, shape: readonly number[]): number[][] {
  const n = shape.reduce((a, b) => a * b, 1);
  const cols = Array.from({ length: n }, (_, j) => {
    const e = Tensor.zeros(shape, 'float64');
    e.data[j] = 1;
    return Array.from(A.forward(e).data);
  });
  return cols[0].map((_, i) => cols.map((c) => c[i]));
}

const dist = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v, i) => s + (v - b[i]) ** 2, 0));
const rmse = (a: ArrayLike<number>, b: ArrayLike<number>) => dist(a, b) / Math.sqrt(a.length);

interface GaussianVolume {
  shape: number[];
  prior: number[];
  guider: Guider;
  A: VolumeOperator;
  y: Tensor;
  posterior: number[];
}

/** Z slices of N(m, τ²I) in R^D, observed through A with noise σ_y, and the exact joint posterior mean. */
function gaussianVolume(A: VolumeOperator, Z: number, D: number, sigmaY: number, truth?: Tensor): GaussianVolume {
  const tau = 0.8;
  const m = Array.from(randomNormal([1, D], 101, 'float64').data, (v) => 0.5 * v);
  const shape = [Z, D];
  const x = truth ?? Tensor.from(shape, Array.from(randomNormal(shape, 102, 'float64').data, (v, i) => m[i % D] + tau * v), 'float64');
  const y = A.forward(x);
  const n = randomNormal(y.shape, 103, 'float64');
  for (let i = 0; i < y.size; i++) y.data[i] += sigmaY * n.data[i];
  const prior = Array.from({ length: Z * D }, (_, i) => m[i % D]);
  const H = dense(A, shape);
  const S = H.map((hi) => H.map((hj) => tau * tau * hi.reduce((s, v, k) => s + v * hj[k], 0)));
  S.forEach((row, i) => (row[i] += sigmaY * sigmaY));
  const w = solve(S, H.map((hi, i) => y.data[i] - hi.reduce((s, v, k) => s + v * prior[k], 0)));
  const posterior = prior.map((mk, k) => mk + tau * tau * H.reduce((s, hi, i) => s + hi[k] * w[i], 0));
  const model = gaussianMixtureModel(new GaussianMixture({ weights: [1], means: [m], stds: [tau] }), schedule, 'float64');
  return { shape, prior, guider: basicGuider(model), A, y, posterior };
}

const relError = (p: GaussianVolume, mean: number[]) => dist(mean, p.posterior) / dist(p.prior, p.posterior);
// Sample starts from pure noise at t = 1, not from p(x_1 | y): with alpha(1) ≈ 0.0066 this shifts the
// ensemble mean by at most about alpha(1)·‖μ*‖ (inverse-guiders.test.ts measures the same bound).
const startBound = (p: GaussianVolume) => (schedule.alpha(schedule.tMax) * Math.sqrt(p.posterior.reduce((a, v) => a + v * v, 0))) / dist(p.prior, p.posterior);

const perSliceMask = (Z: number, D: number, seed: number) => maskOperator(new Tensor([Z, D], Float64Array.from(randomNormal([Z, D], seed, 'float64').data, (v) => (v > 0 ? 1 : 0))));

describe('VolumeInverseGuider without coupling (tv_weight 0) matches the exact posterior mean', () => {
  const Z = 6, D = 4;
  const operators: [string, VolumeOperator][] = [
    ['per-slice masks', perSliceMask(Z, D, 5)],
    ['z-blur ∘ per-slice masks', composeOperators(zConvolution(gaussianTaps(3, 1)), perSliceMask(Z, D, 5))],
    ['thick slices (z-avgpool 2)', zAveragePool(2)],
    ['projection along z + one observed slice', composeOperators(zProjection(Z), maskOperator(Tensor.from([Z, 1], [0, 0, 1, 0, 0, 0], 'float64')))],
  ];

  it.each(operators)('%s: the finite-difference route is exact up to the start mismatch', async (name, A) => {
    const p = gaussianVolume(A, Z, D, 0.1);
    const options: VolumeInverseOptions = { sigmaY: 0.1, tvWeight: 0, jacobian: 'fd', cgSteps: 30 };
    const e = relError(p, await antitheticMean(volumeInverseGuider(p.guider, A, p.y, options), p.shape, 3));
    report[`tv 0, fd: ${name}`] = `${e.toExponential(2)} (start bound ${startBound(p).toExponential(2)})`;
    expect(e).toBeLessThanOrEqual(1.5 * startBound(p) + 1e-3);
  });

  it('per-slice masks: the skipped Jacobian (no extra model calls) is close', async () => {
    const p = gaussianVolume(operators[0][1], Z, D, 0.1);
    const e = relError(p, await antitheticMean(volumeInverseGuider(p.guider, p.A, p.y, { sigmaY: 0.1, tvWeight: 0, jacobian: 'skip' }), p.shape, 3));
    report['tv 0, skip: per-slice masks'] = e.toExponential(2);
    expect(e).toBeLessThan(0.03);
  });

  it('a z-mixing operator needs the joint solve: treating each slice on its own (per-item DPS) is far off', async () => {
    const A = operators[1][1];
    const p = gaussianVolume(A, Z, D, 0.1);
    // dpsGuider's conjugate gradients take inner products per batch item, which is only right for per-slice operators.
    const e = relError(p, await antitheticMean(dpsGuider(p.guider, A, p.y, { sigmaY: 0.1, jacobian: 'fd', iterations: 30 }), p.shape, 3));
    report['per-item DPS on the z-blur'] = e.toExponential(2);
    expect(e).toBeGreaterThan(0.05);
  });
});

describe('mixture slices', () => {
  const MIXTURE = { weights: [0.5, 0.3, 0.2], means: [[-1.5, 0.5], [1.2, 1.0], [0.3, -1.4]], stds: [0.25, 0.15, 0.35] };
  const model = gaussianMixtureModel(new GaussianMixture(MIXTURE), schedule, 'float64');
  const observeFirst = maskOperator(Tensor.from([1, 2], [1, 0], 'float64'));
  const sigmaY = 0.3;

  it('with a per-slice operator and no coupling, each slice gets exactly the per-slice DPS step', async () => {
    const y = Tensor.from([8, 2], Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? -1.5 + 0.4 * i : 0)), 'float64');
    const x = randomNormal([8, 2], 4, 'float64');
    for (const jacobian of ['skip', 'fd'] as const) {
      const volume = volumeInverseGuider(basicGuider(model), observeFirst, y, { sigmaY, tvWeight: 0, jacobian, cgSteps: 10 });
      const perSlice = dpsGuider(basicGuider(model), observeFirst, y, { sigmaY, jacobian, iterations: 10 });
      for (const t of [0.9, 0.5, 0.1]) expect(maxAbsDiff(await volume.denoise(x, t), await perSlice.denoise(x, t))).toBeLessThan(1e-9);
    }
  });

  // The exact posterior of a mixture slice under y = x_1 + σ_y·n is a mixture again (a Kalman update per
  // component, reweighted by its evidence). The DPS-type step is exact only for a Gaussian prior: its
  // Gaussian approximation of p(y | x_t) misweights the components where the observation is ambiguous.
  it('the posterior mean of the sampled slices against the exact per-component Kalman mixture posterior (DPS bias, measured)', async () => {
    const values = [-1.4, 0.1, 0.8, 1.3], repeats = 64, Z = values.length * repeats;
    const y = Tensor.zeros([Z, 2], 'float64');
    for (let z = 0; z < Z; z++) y.data[2 * z] = values[Math.floor(z / repeats)];
    const exact = values.map((v) => {
      const parts = MIXTURE.means.map((mu, k) => {
        const s2 = MIXTURE.stds[k] ** 2, evidenceVar = s2 + sigmaY ** 2;
        return { w: (MIXTURE.weights[k] * Math.exp(-((v - mu[0]) ** 2) / (2 * evidenceVar))) / Math.sqrt(evidenceVar), mean: [mu[0] + (s2 / evidenceVar) * (v - mu[0]), mu[1]] };
      });
      const total = parts.reduce((s, q) => s + q.w, 0);
      return [0, 1].map((d) => parts.reduce((s, q) => s + (q.w / total) * q.mean[d], 0));
    }).flat();
    const priorMean = [0, 1].map((d) => MIXTURE.means.reduce((s, mu, k) => s + MIXTURE.weights[k] * mu[d], 0));
    const guider = volumeInverseGuider(basicGuider(model), observeFirst, y, { sigmaY, tvWeight: 0, jacobian: 'fd', cgSteps: 5 });
    const estimate = new Array(values.length * 2).fill(0);
    const seeds = [1, 2];
    for (const seed of seeds) {
      const s = await draw(guider, [Z, 2], seededNoise(seed), 20);
      for (let z = 0; z < Z; z++) for (let d = 0; d < 2; d++) estimate[2 * Math.floor(z / repeats) + d] += s.data[2 * z + d] / (repeats * seeds.length);
    }
    const e = dist(estimate, exact) / dist(values.flatMap(() => priorMean), exact);
    report['mixture slices, tv 0, fd: ‖mean − exact‖/‖prior mean − exact‖'] = e.toFixed(3);
    // Far better than the prior, not exact: the ambiguous observation (0.1) keeps part of the wrong components.
    expect(e).toBeLessThan(0.6);
  });
});

describe('total-variation coupling along z', () => {
  it('reduces the error on a piecewise-constant-in-z volume, below even the exact uncoupled posterior mean', async () => {
    const pieces = 4, repeats = 4, Z = pieces * repeats, D = 4, sigmaY = 0.5;
    const values = randomNormal([pieces, D], 55, 'float64');
    const m = Array.from(randomNormal([1, D], 101, 'float64').data, (v) => 0.5 * v);
    const truth = Tensor.from([Z, D], Array.from({ length: Z * D }, (_, i) => m[i % D] + 0.8 * values.data[Math.floor(i / D / repeats) * D + (i % D)]), 'float64');
    const p = gaussianVolume(perSliceMask(Z, D, 5), Z, D, sigmaY, truth);
    const errors: Record<string, number> = { 'exact posterior mean, tv 0': rmse(p.posterior, truth.data) };
    for (const jacobian of ['skip', 'fd'] as const) {
      for (const tv of [0, 1]) {
        const mean = await antitheticMean(volumeInverseGuider(p.guider, p.A, p.y, { sigmaY, tvWeight: tv, jacobian, cgSteps: 10 }), p.shape, 3);
        errors[`${jacobian}, tv ${tv}`] = rmse(mean, truth.data);
      }
    }
    for (const [k, v] of Object.entries(errors)) report[`piecewise-constant volume RMSE: ${k}`] = v.toFixed(4);
    for (const jacobian of ['skip', 'fd']) {
      expect(errors[`${jacobian}, tv 1`]).toBeLessThan(0.92 * errors[`${jacobian}, tv 0`]);
      expect(errors[`${jacobian}, tv 1`]).toBeLessThan(errors['exact posterior mean, tv 0']);
    }
  });
});

describe('the coupled step is the MAP it claims to be', () => {
  it('with many ADMM iterations, no small move lowers ½‖x − x̂0‖²/c + ½‖Ax − y‖²/σ_y² + λ‖D_z x‖₁ (skip: C = c·I)', async () => {
    const Z = 6, D = 2, sigmaY = 0.2, tv = 2, t = 0.4;
    const A = composeOperators(zConvolution(gaussianTaps(3, 1)), perSliceMask(Z, D, 9));
    const p = gaussianVolume(A, Z, D, sigmaY);
    const x = randomNormal([Z, D], 21, 'float64');
    const guided = await volumeInverseGuider(p.guider, A, p.y, { sigmaY, tvWeight: tv, jacobian: 'skip', admmIterations: 400, cgSteps: 60 }).denoise(x, t);
    const x0 = await p.guider.denoise(x, t);
    const c = (schedule.sigma(t) / schedule.alpha(t)) ** 2;
    const objective = (v: Float64Array) => {
      const xt = new Tensor([Z, D], v);
      const ax = A.forward(xt);
      let f = 0;
      for (let i = 0; i < v.length; i++) f += (v[i] - x0.data[i]) ** 2 / (2 * c);
      for (let i = 0; i < ax.size; i++) f += (ax.data[i] - p.y.data[i]) ** 2 / (2 * sigmaY ** 2);
      for (let z = 0; z + 1 < Z; z++) for (let d = 0; d < D; d++) f += tv * Math.abs(v[(z + 1) * D + d] - v[z * D + d]);
      return f;
    };
    const best = objective(guided.data as Float64Array);
    // TV made some neighbouring slices equal (a kink of the objective), which the smooth λ = 0 step never does.
    const plain = await volumeInverseGuider(p.guider, A, p.y, { sigmaY, tvWeight: 0, jacobian: 'skip', cgSteps: 60 }).denoise(x, t);
    expect(objective(plain.data as Float64Array)).toBeGreaterThan(best + 1e-3);
    for (let k = 0; k < 40; k++) {
      const r = randomNormal([Z, D], 200 + k, 'float64').data;
      for (const eps of [1e-2, 1e-4]) {
        const moved = Float64Array.from(guided.data, (v, i) => v + eps * r[i]);
        expect(objective(moved)).toBeGreaterThanOrEqual(best - 1e-9 * Math.max(1, best));
      }
    }
  });
});

describe('VolumeInverseGuider errors', () => {
  it('names the node and the input', async () => {
    const p = gaussianVolume(zAveragePool(2), 6, 4, 0.1);
    expect(() => volumeInverseGuider(p.guider, p.A, p.y, { tvWeight: -1 })).toThrow(/VolumeInverseGuider: tv_weight must be ≥ 0/);
    expect(() => volumeInverseGuider(p.guider, p.A, p.y, { admmRho: 0 })).toThrow(/VolumeInverseGuider: admm_rho must be > 0/);
    expect(() => volumeInverseGuider(p.guider, p.A, p.y, { cgSteps: 0 })).toThrow(/VolumeInverseGuider: cg_steps must be a positive integer/);
    const g = volumeInverseGuider(p.guider, p.A, p.y);
    await expect(g.denoise(Tensor.zeros([8, 4], 'float64'), 0.5)).rejects.toThrow(/VolumeInverseGuider: observation Tensor<float64>\[3x4\] does not match what zavgpool\(2\) gives for a volume \[8, 4\]: \[4, 4\]/);
  });
});

describe('workflows/volume-inverse-gmm.json through the executor', () => {
  const workflow = JSON.parse(readFileSync(new URL('../../../workflows/volume-inverse-gmm.json', import.meta.url), 'utf8'));

  async function reconstruct(overrides: Record<string, unknown>, signal?: AbortSignal) {
    const wf = structuredClone(workflow);
    Object.assign(wf.nodes.guider.inputs, overrides);
    const executor = new Executor(createRegistry());
    const events: EngineEvent[] = [];
    executor.events.subscribe((e) => events.push(e));
    const result = await executor.run(wf, { outputs: ['sample', 'truth'], signal, services: isolatedServices() });
    return { result, events };
  }
  const errorOf = (result: Awaited<ReturnType<Executor['run']>>) => {
    const [x, truth] = [result.outputs.sample, result.outputs.truth];
    if (x.status !== 'succeeded' || truth.status !== 'succeeded') throw new Error(JSON.stringify(result.outputs));
    return rmse((x.values.samples as Tensor).data, (truth.values.volume as Tensor).data);
  };

  it('the coupled reconstruction beats the uncoupled one; progress every step; the run is seeded', async () => {
    const coupled = await reconstruct({});
    expect(errorOf((await reconstruct({})).result)).toBe(errorOf(coupled.result));
    for (const jacobian of ['skip', 'fd']) {
      const sweep = new Map<number, number>();
      // fd costs 2 model calls per CG step inside every ADMM iteration: a short sweep keeps the test fast.
      const weights = jacobian === 'skip' ? [0, 0.3, 1, 3, 10] : [0, 1];
      for (const tv of weights) sweep.set(tv, errorOf((await reconstruct({ jacobian, tv_weight: tv })).result));
      report[`workflow RMSE, ${jacobian}, tv_weight ${weights.join(' / ')}`] = [...sweep.values()].map((e) => e.toFixed(3)).join(' / ');
      expect(sweep.get(1)!).toBeLessThan(0.9 * sweep.get(0)!);
    }
    const steps = workflow.nodes.schedule.inputs.steps as number;
    const progress = coupled.events.filter((e): e is Extract<EngineEvent, { type: 'node.progress' }> => e.type === 'node.progress' && e.nodeId === 'sample');
    expect(progress.map((e) => e.value)).toEqual(Array.from({ length: steps + 1 }, (_, i) => i));
  });

  it('stops within one step when cancelled', async () => {
    const controller = new AbortController();
    const wf = structuredClone(workflow);
    wf.nodes.schedule.inputs.steps = 400;
    const executor = new Executor(createRegistry());
    let seen = 0;
    executor.events.subscribe((e) => {
      if (e.type === 'node.progress' && e.nodeId === 'sample' && ++seen === 3) controller.abort();
    });
    const result = await executor.run(wf, { signal: controller.signal, services: isolatedServices() });
    expect(result.status).toBe('cancelled');
    expect(seen).toBeLessThanOrEqual(4);
  });

  it('a latent whose batch is not the operator\'s depth fails with a message naming the node and what to change', async () => {
    const wf = structuredClone(workflow);
    wf.nodes.volume.inputs.batch = 12;
    const result = await new Executor(createRegistry()).run(wf, { outputs: ['sample'], services: isolatedServices() });
    const out = result.outputs.sample;
    expect(out.status).toBe('failed');
    expect(JSON.stringify(out)).toMatch(/VolumeOperator \(zblur\(3\)\): built for a volume of 16 slices, got a state of shape \[12, 2\] \(the volume is the batch: use a latent of batch 16\)/);
  });
});

afterAll(() => console.log('VolumeInverseGuider measurements:', report));
