/**
 * The k-diffusion samplers against the official k-diffusion outputs on the analytic mixture
 * (data/refs/README.md §7): every stored output to 1e-8·max(1, |x|) per entry with the exact NFE, run through
 * our VP contract (grid of SD-schedule times, state x = alpha·u), again directly on a VE schedule, and
 * through the nodes as a user wires them (Schedule karras/exponential → Solver → Sample, sigma start).
 * Then convergence against the exact solutions (refs/exact), and the stochastic samplers.
 */
import { describe, expect, it } from 'vitest';
import { Tensor, batchNorms, combine, maxAbsDiff } from '@diffgraph/engine';
import type { Denoiser, NoiseSchedule, SolveArgs } from '../src/contracts/sampling.ts';
import { GaussianMixture, makeGmmDenoiser } from '../src/models/gmm.ts';
import { VESchedule } from '../src/schedules/noise-schedules.ts';
import { makeNoiseSource } from '../src/noise/philox.ts';
import {
  exponentialSigmas,
  karrasSigmas,
  kdiffusionTimes,
  sigmaRange,
  sigmasToTimes,
  timesToSigmas,
} from '../src/schedules/sigma-grids.ts';
import { kdiffusionSamplers, lmsCoefficient, type KDiffusionSamplerName } from '../src/solvers/kdiffusion-samplers.ts';
import { listRefOutputs, loadRefExact, loadRefModel, loadRefOutput, refIndex, refsDir, rowsToTensor } from './refs.ts';
import { runRefThroughNodes } from './refs-workflow.ts';

const TOL = 1e-8;
const ref = loadRefModel('gmm2');
const sd = ref.schedules.sd_discrete;

interface KConfig {
  sampler: string;
  sigma_schedule: 'karras' | 'exponential';
  rho?: number;
  steps: number;
  sigma_min: number;
  sigma_max: number;
  extra: string;
}

/** The stored sampler name and its `extra` settings ("s_churn=0", "order=4", "eta=0") as our options. */
function samplerOf(c: KConfig): { name: KDiffusionSamplerName; options: Record<string, number> } {
  const options: Record<string, number> = {};
  for (const kv of c.extra.split(',').filter(Boolean)) {
    const [key, value] = kv.split('=');
    options[key.trim().replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase())] = Number(value);
  }
  return { name: c.sampler.replace(/_eta0$/, '') as KDiffusionSamplerName, options };
}

function sigmasOf(c: KConfig, steps = c.steps): number[] {
  return c.sigma_schedule === 'karras'
    ? karrasSigmas(steps, c.sigma_min, c.sigma_max, c.rho)
    : exponentialSigmas(steps, c.sigma_min, c.sigma_max);
}

/** A sampler by name, with options typed loosely (they come from config strings or test tables). */
function sampler(name: KDiffusionSamplerName): (args: SolveArgs, options?: object) => Promise<Tensor> {
  return kdiffusionSamplers[name] as (args: SolveArgs, options?: object) => Promise<Tensor>;
}

function counting(denoiser: Denoiser): { denoiser: Denoiser; calls: () => number } {
  let n = 0;
  return {
    denoiser: (x, t) => {
      n++;
      return denoiser(x, t);
    },
    calls: () => n,
  };
}

/** k-diffusion's start u = x_T·sigma_max at t_0, as a VP state x = alpha(t_0)·u. */
function vpStart(schedule: NoiseSchedule, times: readonly number[], sigmaMax: number, dtype: 'float32' | 'float64' = 'float64', xT = ref.xT): Tensor {
  const x = combine([schedule.alpha(times[0]) * sigmaMax], [xT]);
  return Tensor.from(x.shape, x.data, dtype);
}

/** Largest |a − b|/max(1, |b|) over all entries. */
function relErr(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]) / Math.max(1, Math.abs(b.data[i])));
  return m;
}

function meanL2(a: Tensor, b: Tensor): number {
  const norms = batchNorms(combine([1, -1], [a, b]));
  return norms.reduce((s, v) => s + v, 0) / norms.length;
}

/** Run a named sampler on the SD schedule (VP contract) from k-diffusion's start. */
async function runSd(c: KConfig, steps = c.steps, m = ref): Promise<{ x: Tensor; nfe: number }> {
  const { name, options } = samplerOf(c);
  const times = sigmasToTimes(sd, sigmasOf(c, steps));
  const model = counting(makeGmmDenoiser(m.gmm, sd));
  const x = await sampler(name)({ denoiser: model.denoiser, schedule: sd, x: vpStart(sd, times, c.sigma_max, 'float64', m.xT), times }, options);
  return { x, nfe: model.calls() };
}

// Every model in the refs folder: the public gmm2, and any held-back set placed beside it.
const refIds = listRefOutputs((e) => e.config.library === 'k-diffusion' && e.file !== null).map((e) => e.id);
const refModels = new Map([[ref.json.name, ref]]);
const refModelOf = (name: string) => {
  if (!refModels.has(name)) refModels.set(name, loadRefModel(name));
  return refModels.get(name)!;
};

describe('k-diffusion sigma grids', () => {
  it('the SD schedule spans k-diffusion sigma_min and sigma_max', () => {
    const { sigmaMin, sigmaMax } = sigmaRange(sd);
    expect(Math.abs(sigmaMin / ref.sigmaMin - 1)).toBeLessThan(1e-13);
    expect(Math.abs(sigmaMax / ref.sigmaMax - 1)).toBeLessThan(1e-13);
  });

  it('karras and exponential grids reproduce every stored sigma list, and survive the trip through time', () => {
    expect(listRefOutputs((e) => e.config.library === 'k-diffusion' && e.dir === refsDir).length).toBe(36);
    for (const id of refIds) {
      const out = loadRefOutput(id);
      const sigmas = sigmasOf(out.config as unknown as KConfig);
      expect(sigmas.length).toBe(out.config.steps + 1);
      expect(sigmas[sigmas.length - 1]).toBe(0);
      sigmas.forEach((s, i) => expect(Math.abs(s - out.sigmas![i])).toBeLessThanOrEqual(1e-11 * s));
      const times = sigmasToTimes(sd, sigmas);
      expect(times[times.length - 1]).toBe(0);
      expect(Math.abs(times[0] - 1)).toBeLessThan(1e-14);
      timesToSigmas(sd, times).forEach((s, i) => expect(Math.abs(s - sigmas[i])).toBeLessThanOrEqual(1e-14 * sigmas[i]));
    }
  });

  it('kdiffusionTimes defaults to the schedule range', () => {
    const times = kdiffusionTimes(sd, 'karras', 10);
    expect(times.length).toBe(11);
    expect(Math.abs(times[0] - sd.tMax)).toBeLessThan(1e-14);
    expect(Math.abs(times[9] - sd.tMin)).toBeLessThan(1e-14);
    expect(times[10]).toBe(0);
  });

  it('LMS coefficients integrate the Lagrange basis exactly', () => {
    const sigmas = karrasSigmas(8, 0.03, 14.6);
    for (const i of [3, 5, 7]) {
      const coeffs = [0, 1, 2, 3].map((j) => lmsCoefficient(sigmas, i, j, 4));
      // sum_j c_j·f(sigma_{i−j}) = ∫ f over [sigma_i, sigma_{i+1}] for any cubic f.
      const f = (s: number) => 1.5 - 0.7 * s + 0.2 * s * s - 0.03 * s ** 3;
      const F = (s: number) => 1.5 * s - 0.35 * s * s + (0.2 / 3) * s ** 3 - 0.0075 * s ** 4;
      const quad = coeffs.reduce((acc, c, j) => acc + c * f(sigmas[i - j]), 0);
      const exact = F(sigmas[i + 1]) - F(sigmas[i]);
      expect(Math.abs(quad - exact)).toBeLessThan(1e-13 * Math.max(1, Math.abs(exact)));
    }
  });
});

describe('k-diffusion samplers reproduce the official outputs', () => {
  const worst = { vp: 0, ve: 0 };

  it.each(refIds)('%s', async (id) => {
    const out = loadRefOutput(id);
    const m = refModelOf(out.model);
    const c = out.config as unknown as KConfig;
    const expected = rowsToTensor(out.x0);

    // Through the VP contract: SD-schedule times, state x = alpha(t)·u.
    const vp = await runSd(c, c.steps, m);
    expect(vp.nfe).toBe(out.nfe);
    expect(vp.x.dtype).toBe('float64');
    const errVp = relErr(vp.x, expected);
    expect(errVp).toBeLessThanOrEqual(TOL);

    // Directly on a VE schedule (alpha = 1, t = sigma) with the VE denoiser: no conversions at all.
    const ve = new VESchedule({ sigmaMin: c.sigma_min, sigmaMax: c.sigma_max });
    const times = sigmasToTimes(ve, sigmasOf(c));
    const model = counting(async (u, t) => m.gmm.denoiseVE(u, t));
    const { name, options } = samplerOf(c);
    const xVe = await sampler(name)({ denoiser: model.denoiser, schedule: ve, x: combine([c.sigma_max], [m.xT]), times }, options);
    expect(model.calls()).toBe(out.nfe);
    const errVe = relErr(xVe, expected);
    expect(errVe).toBeLessThanOrEqual(TOL);

    worst.vp = Math.max(worst.vp, errVp);
    worst.ve = Math.max(worst.ve, errVe);
  });

  it('report', () => {
    console.log(`k-diffusion refs: ${refIds.length} outputs, max rel error VP ${worst.vp.toExponential(2)}, VE ${worst.ve.toExponential(2)}`);
  });

  it('runs in float32 when the state is float32', async () => {
    const out = loadRefOutput('gmm2__sd_kdiffusion_karras__sample_dpmpp_2m__steps10');
    const c = out.config as unknown as KConfig;
    const times = sigmasToTimes(sd, sigmasOf(c));
    const x = await kdiffusionSamplers.sample_dpmpp_2m({ denoiser: makeGmmDenoiser(ref.gmm, sd), schedule: sd, x: vpStart(sd, times, c.sigma_max, 'float32'), times });
    expect(x.dtype).toBe('float32');
    expect(relErr(x, rowsToTensor(out.x0))).toBeLessThan(1e-4);
  });
});

describe('k-diffusion references through the Schedule, Solver and Sample nodes', () => {
  // Schedule (spacing = karras | exponential, steps, rho) → Solver (kind, eta 0) → Sample with x_T as
  // TensorNoise, an empty latent and start_scale 'sigma' (k-diffusion's x_T·sigma_max start).
  const entries = listRefOutputs((e) => e.config.library === 'k-diffusion');
  it.each(entries.map((e) => [e.id, e] as const))('%s', async (_id, entry) => {
    const out = loadRefOutput(entry);
    const { x, grid, calls } = await runRefThroughNodes(entry);
    expect(calls.length).toBe(out.nfe);
    expect(grid.times.length).toBe(out.sigmas!.length);
    expect(relErr(x, rowsToTensor(out.x0))).toBeLessThanOrEqual(TOL);
  });
});

describe('convergence to the exact solutions', () => {
  const toZero = rowsToTensor(loadRefExact('gmm2', 'sd_kdiffusion_to_zero').x);
  const limit = rowsToTensor(loadRefExact('gmm2', 'sd_kdiffusion_sigma_min_then_denoise').x);
  // Every k-diffusion run in index.json, including the 40- and 80-step ones that have no output file.
  const index = refIndex().filter(
    (e) => e.model === 'gmm2' && e.config.library === 'k-diffusion',
  );
  const stepsList = [5, 10, 20, 40, 80];
  const samplers = [...new Set(index.map((e) => e.config.sampler as string))];
  const table: string[] = [];

  it.each(samplers.flatMap((s) => (['karras', 'exponential'] as const).map((g) => [s, g] as const)))('%s on %s', async (name, grid) => {
    const errors: { toZero: number; limit: number }[] = [];
    for (const steps of stepsList) {
      const entry = index.find((e) => e.config.sampler === name && e.config.sigma_schedule === grid && e.config.steps === steps)!;
      const c = entry.config as unknown as KConfig;
      const { x, nfe } = await runSd(c);
      expect(nfe).toBe(entry.nfe);
      const e = { toZero: meanL2(x, toZero), limit: meanL2(x, limit) };
      // index.json keeps 8 significant digits.
      expect(Math.abs(e.toZero - entry.mean_l2)).toBeLessThanOrEqual(1e-7 * entry.mean_l2 + 1e-9);
      const limitRef = (entry as unknown as { limit_mean_l2: number }).limit_mean_l2;
      expect(Math.abs(e.limit - limitRef)).toBeLessThanOrEqual(1e-7 * limitRef + 1e-9);
      errors.push(e);
    }
    // Samplers whose last step is an Euler step converge to D(x(sigma_min), sigma_min); LMS to sigma = 0.
    const target = name === 'sample_lms' ? 'toZero' : 'limit';
    const orders = errors.slice(1).map((e, i) => Math.log2(errors[i][target] / e[target]));
    table.push(`${name} ${grid} vs ${target}: errors ${errors.map((e) => e[target].toExponential(2)).join(' ')}; orders ${orders.map((o) => o.toFixed(2)).join(' ')}`);
    const [o40, o80] = orders.slice(-2);
    const expected = { sample_euler: [0.9, 1.5], sample_lms: [2.8, 5] }[name] ?? [1.7, 3];
    for (const o of [o40, o80]) {
      expect(o).toBeGreaterThanOrEqual(expected[0]);
      expect(o).toBeLessThanOrEqual(expected[1]);
    }
  });

  it('report', () => console.log(table.join('\n')));
});

describe('stochastic samplers', () => {
  const c = loadRefOutput('gmm2__sd_kdiffusion_karras__sample_euler__steps10').config as unknown as KConfig;
  const times = sigmasToTimes(sd, sigmasOf(c));
  const start = vpStart(sd, times, c.sigma_max);
  const args = (noiseSeed?: number): SolveArgs & { calls: () => number } => {
    const model = counting(makeGmmDenoiser(ref.gmm, sd));
    return { denoiser: model.denoiser, calls: model.calls, schedule: sd, x: start, times, noise: noiseSeed === undefined ? undefined : makeNoiseSource(noiseSeed) };
  };

  it('reduce to the deterministic samplers at eta = 0', async () => {
    const euler = await kdiffusionSamplers.sample_euler(args());
    expect(maxAbsDiff(await kdiffusionSamplers.sample_euler_ancestral(args(), { eta: 0 }), euler)).toBe(0);
    const twoM = await kdiffusionSamplers.sample_dpmpp_2m(args());
    expect(maxAbsDiff(await kdiffusionSamplers.sample_dpmpp_2m_sde(args(), { eta: 0 }), twoM)).toBeLessThan(1e-12);
  });

  it('the heun variant of DPM++(2M) SDE at eta = 0 is second order', async () => {
    const limit = rowsToTensor(loadRefExact('gmm2', 'sd_kdiffusion_sigma_min_then_denoise').x);
    const errors: number[] = [];
    for (const steps of [20, 40, 80]) {
      const ts = sigmasToTimes(sd, sigmasOf(c, steps));
      const x = await kdiffusionSamplers.sample_dpmpp_2m_sde(
        { denoiser: makeGmmDenoiser(ref.gmm, sd), schedule: sd, x: vpStart(sd, ts, c.sigma_max), times: ts },
        { eta: 0, solverType: 'heun' },
      );
      errors.push(meanL2(x, limit));
    }
    expect(Math.log2(errors[1] / errors[2])).toBeGreaterThan(1.7);
  });

  const stochastic: [KDiffusionSamplerName, Record<string, unknown>, number][] = [
    ['sample_euler_ancestral', { eta: 1 }, 10],
    ['sample_dpmpp_2s_ancestral', { eta: 1 }, 19],
    ['sample_dpmpp_2m_sde', { eta: 1 }, 10],
    ['sample_dpmpp_2m_sde', { eta: 0.5, solverType: 'heun' }, 10],
    ['sample_euler', { sChurn: 5 }, 10],
    ['sample_heun', { sChurn: 5 }, 19],
    ['sample_dpm_2', { sChurn: 5 }, 19],
  ];

  it.each(stochastic)('%s %o is reproducible for a fixed noise source (NFE %i)', async (name, options, nfe) => {
    const run = sampler(name);
    const a = args(7);
    const x1 = await run(a, options);
    expect(a.calls()).toBe(nfe);
    const x2 = await run(args(7), options);
    expect(maxAbsDiff(x1, x2)).toBe(0);
    expect(maxAbsDiff(x1, await run(args(8), options))).toBeGreaterThan(1e-3);
    await expect(run(args(), options)).rejects.toThrow(/noise/);
  });

  // A single Gaussian N(mu, s²I): every sampler, with or without noise, should end near it when it starts
  // from the exact marginal at sigma_max. 4096 samples give the mean to ~0.01 and the std to ~1 %; the
  // first-order samplers (Euler ancestral, churned Euler) still carry a ~3 % bias in the std at 100 steps.
  it.each(stochastic)('%s %o samples the right distribution', async (name, options) => {
    const mu = [1, -2], s = 0.5, n = 4096;
    const gauss = new GaussianMixture({ weights: [1], means: [mu], stds: [s] });
    const ts = kdiffusionTimes(sd, 'karras', 100);
    const z = makeNoiseSource(123)(Tensor.zeros([n, 2], 'float64'), -1);
    const sMax = Math.exp(-sd.lambda(ts[0]));
    const u0 = Tensor.from([n, 2], z.data.map((v, i) => mu[i % 2] + Math.hypot(s, sMax) * v), 'float64');
    const x0 = combine([sd.alpha(ts[0])], [u0]);
    const run = sampler(name);
    const x = await run({ denoiser: makeGmmDenoiser(gauss, sd), schedule: sd, x: x0, times: ts, noise: makeNoiseSource(99) }, options);
    for (let d = 0; d < 2; d++) {
      let m = 0, v = 0;
      for (let i = 0; i < n; i++) m += x.data[2 * i + d] / n;
      for (let i = 0; i < n; i++) v += (x.data[2 * i + d] - m) ** 2 / (n - 1);
      expect(Math.abs(m - mu[d])).toBeLessThan(0.04);
      expect(Math.abs(Math.sqrt(v) / s - 1)).toBeLessThan(0.05);
    }
  });
});

describe('hooks', () => {
  const c = loadRefOutput('gmm2__sd_kdiffusion_exponential__sample_heun__steps10').config as unknown as KConfig;
  const times = sigmasToTimes(sd, sigmasOf(c));
  const start = vpStart(sd, times, c.sigma_max);
  const denoiser = makeGmmDenoiser(ref.gmm, sd);

  it('onStep reports every step with the state in the model space', async () => {
    const seen: { step: number; steps: number; t: number; x: Tensor }[] = [];
    const x = await kdiffusionSamplers.sample_euler({ denoiser, schedule: sd, x: start, times, hooks: { onStep: (info) => seen.push(info) } });
    expect(seen.map((s) => s.step)).toEqual([...Array(10).keys()]);
    expect(seen.every((s, i) => s.steps === 10 && s.t === times[i + 1])).toBe(true);
    expect(maxAbsDiff(seen[9].x, x)).toBe(0);
    // Euler has no memory, so restarting from a reported VP state on the rest of the grid changes nothing.
    const rest = await kdiffusionSamplers.sample_euler({ denoiser, schedule: sd, x: seen[3].x, times: times.slice(4) });
    expect(relErr(rest, x)).toBeLessThan(1e-12);
  });

  it('stops between steps when the signal fires', async () => {
    const controller = new AbortController();
    const model = counting(denoiser);
    const reason = new Error('cancelled');
    const run = kdiffusionSamplers.sample_heun({
      denoiser: model.denoiser,
      schedule: sd,
      x: start,
      times,
      hooks: { signal: controller.signal, onStep: ({ step }) => step === 2 && controller.abort(reason) },
    });
    await expect(run).rejects.toBe(reason);
    expect(model.calls()).toBe(6);
  });
});
