/**
 * DPM-Solver-v3 (solvers/dpm-solver-v3.ts) and its statistics (solvers/ems-*.ts) on analytic models.
 */
import { describe, expect, it } from 'vitest';
import { maxAbsDiff, Tensor } from '@diffgraph/engine';
import { GaussianMixture, makeGmmDenoiser } from '../src/models/gmm.ts';
import { randomNormal } from '../src/noise/philox.ts';
import { exactProbabilityFlow } from '../src/sampling/exact-ode.ts';
import { dpmSolverTimeGrid } from '../src/schedules/grids.ts';
import { dpmSolver } from '../src/solvers/dpm-solver.ts';
import { ddim } from '../src/solvers/ddim.ts';
import { coefficientMap, dpmSolverV3 } from '../src/solvers/dpm-solver-v3.ts';
import { chi, neutralStatistics } from '../src/solvers/ems-integrals.ts';
import { estimateModelStatistics } from '../src/solvers/ems-estimate.ts';
import { DiscreteVPSchedule } from '../src/schedules/noise-schedules.ts';
import { uniPc } from '../src/solvers/unipc.ts';
import { loadRefModel } from './refs.ts';
import { benchModel } from '../../../bench/model.ts';
import { meanL2 } from '../../../bench/accuracy.ts';

const ref = loadRefModel('gmm2');
const schedule = ref.schedules.sd_discrete;
const denoiser = makeGmmDenoiser(ref.gmm, schedule);

describe('DPM-Solver-v3 with neutral statistics', () => {
  it.each([5, 10, 23])('order 1 equals DPM-Solver++(1) and DDIM to rounding (%i logSNR steps)', async (steps) => {
    const times = dpmSolverTimeGrid(schedule, 'logSNR', steps);
    const args = { denoiser, schedule, x: ref.xT, times };
    const v3 = await dpmSolverV3(args, { order: 1 });
    const pp = await dpmSolver(args, { order: 1 });
    const dd = await ddim(args);
    const scale = Math.max(...Array.from(pp.data, Math.abs));
    expect(maxAbsDiff(v3, pp)).toBeLessThanOrEqual(1e-12 * scale);
    expect(maxAbsDiff(v3, dd)).toBeLessThanOrEqual(1e-12 * scale);
    expect(maxAbsDiff(v3, pp)).toBeGreaterThanOrEqual(0);
  });
});

describe('chi_m(z) = ∫_0^1 u^m e^(zu) du', () => {
  it.each([-40, -3, -0.6, -0.4, -1e-3, 0, 1e-6, 0.3, 0.49, 0.51, 2, 10])('matches a fine quadrature at z = %d', (z) => {
    for (let m = 0; m <= 3; m++) {
      const n = 20000;
      let sum = 0;
      for (let i = 0; i < n; i++) {
        const u = (i + 0.5) / n;
        sum += u ** m * Math.exp(z * u);
      }
      const quadrature = sum / n;
      expect(Math.abs(chi(m, z) - quadrature)).toBeLessThanOrEqual(1e-6 * Math.abs(quadrature));
    }
  });
});

describe('statistics of Gaussian data N(0, tau²·I)', () => {
  const tau = 0.7;
  const D = 3;
  const gaussian = new GaussianMixture({ weights: [1], means: [new Array(D).fill(0)], stds: [tau] });
  const gaussianDenoiser = makeGmmDenoiser(gaussian, schedule);
  const estimate = (steps: number) =>
    estimateModelStatistics(gaussianDenoiser, schedule, { sampleShape: [D], dtype: 'float64', samples: 8, steps, probes: 1, difference: 'central', seed: 3 });

  it('the estimator recovers l = sigma²/(alpha²·tau² + sigma²) and s = b = 0', async () => {
    const { statistics: st, cost } = await estimate(24);
    expect(cost.modelCalls).toBe(25);
    expect(cost.sampleEvaluations).toBe(25 * 8 * 3);
    for (let j = 0; j <= st.steps; j++) {
      const lambda = st.lambdaStart + (j * (st.lambdaEnd - st.lambdaStart)) / st.steps;
      const t = schedule.tOfLambda(lambda);
      const a = schedule.alpha(t), sg = schedule.sigma(t);
      const exact = (sg * sg) / (a * a * tau * tau + sg * sg);
      for (let d = 0; d < D; d++) {
        expect(Math.abs(st.l[j * D + d] - exact)).toBeLessThanOrEqual(1e-8);
        expect(Math.abs(st.s[j * D + d])).toBeLessThanOrEqual(1e-6);
        expect(Math.abs(st.b[j * D + d])).toBeLessThanOrEqual(1e-6);
      }
    }
  });

  it('one v3 step matches the exact map up to quadrature error (second order in the grid)', async () => {
    const x = randomNormal([4, D], 11, 'float64');
    const t0 = schedule.tMax, t1 = schedule.tMin;
    const exact = exactProbabilityFlow(gaussian, schedule, x, t0, t1, { rtol: 1e-12, atol: 1e-12 });
    const errors: number[] = [];
    for (const steps of [12, 24]) {
      const { statistics } = await estimate(steps);
      const one = await dpmSolverV3({ denoiser: gaussianDenoiser, schedule, x, times: [t0, t1] }, { statistics, order: 1 });
      errors.push(maxAbsDiff(one, exact));
    }
    const ddimError = maxAbsDiff(await ddim({ denoiser: gaussianDenoiser, schedule, x, times: [t0, t1] }), exact);
    console.log(`Gaussian data, one step t = 1 → 1/1000: v3 error ${errors.map((e) => e.toExponential(2)).join(' → ')} (M = 12 → 24), DDIM ${ddimError.toExponential(2)}`);
    expect(errors[1]).toBeLessThan(1e-3);
    expect(errors[0] / errors[1]).toBeGreaterThan(3.5);
    expect(errors[0] / errors[1]).toBeLessThan(4.5);
    expect(ddimError).toBeGreaterThan(100 * errors[1]);
  });
});

describe('v3 with estimated statistics on the D = 16 bench mixture (SD scaled_linear schedule)', () => {
  // The bench's model (bench/model.ts). Statistics from 128 trajectories of start-noise keys 1e6 …;
  // the error is measured on 64 held-out noises (keys 2024 …, the bench's), against the exact ODE solution.
  const gmm16 = new GaussianMixture(benchModel());
  const sd = DiscreteVPSchedule.fromBetas('scaled_linear');
  const model16 = makeGmmDenoiser(gmm16, sd);
  const heldOut = randomNormal([64, 16], 2024, 'float64');

  it('at 10 NFE on the logSNR grid, order 3 with corrector beats UniPC-bh2 order 2 (the best official setting)', async () => {
    const { statistics, cost } = await estimateModelStatistics(model16, sd, { sampleShape: [16], dtype: 'float64', samples: 128, steps: 100, probes: 1, difference: 'central', seed: 1_000_000 });
    const exact = exactProbabilityFlow(gmm16, sd, heldOut, sd.tMax, sd.tMin, { rtol: 1e-10, atol: 1e-10 });
    const args = { denoiser: model16, schedule: sd, x: heldOut, times: dpmSolverTimeGrid(sd, 'logSNR', 10) };
    const v3 = meanL2(await dpmSolverV3(args, { statistics, order: 3 }), exact);
    const v3Neutral = meanL2(await dpmSolverV3(args, { order: 3 }), exact);
    const unipc = meanL2(await uniPc(args, { order: 2, variant: 'bh2' }), exact);
    console.log(`D = 16 mixture, 10 NFE, logSNR: v3 (estimated, ${cost.modelCalls} calls) ${v3.toExponential(3)}, v3 (neutral) ${v3Neutral.toExponential(3)}, UniPC-bh2-2 ${unipc.toExponential(3)}`);
    // Measured: 0.0252 vs 0.0332 (24 % lower), far from the 3x goal; see docs/sampling.md.
    expect(v3).toBeLessThan(0.85 * unipc);
    expect(v3).toBeLessThan(0.6 * v3Neutral);
    expect(v3).toBeGreaterThan(0.02);
  });
});

describe('DPM-Solver-v3 contracts and errors', () => {
  const times = dpmSolverTimeGrid(schedule, 'logSNR', 6);

  it('onStep after every step, abort between steps, dtype kept', async () => {
    const seen: number[] = [];
    const x32 = Tensor.from(ref.xT.shape, ref.xT.data, 'float32');
    const out = await dpmSolverV3({ denoiser, schedule, x: x32, times, hooks: { onStep: ({ step, t }) => (expect(t).toBe(times[step + 1]), seen.push(step)) } }, { order: 3 });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(out.dtype).toBe('float32');
    const controller = new AbortController();
    const run = dpmSolverV3({ denoiser, schedule, x: ref.xT, times, hooks: { signal: controller.signal, onStep: ({ step }) => step === 1 && controller.abort(new Error('stop')) } });
    await expect(run).rejects.toThrow('stop');
  });

  it('calls the model once per step', async () => {
    let calls = 0;
    await dpmSolverV3({ denoiser: (x, t) => (calls++, denoiser(x, t)), schedule, x: ref.xT, times }, { order: 3 });
    expect(calls).toBe(6);
  });

  it('says what is wrong with statistics that do not fit the grid or the sample', async () => {
    const lambdaOf = (t: number) => schedule.lambda(t);
    const narrow = neutralStatistics(lambdaOf(times[1]), lambdaOf(times[6]));
    await expect(dpmSolverV3({ denoiser, schedule, x: ref.xT, times }, { statistics: narrow })).rejects.toThrow(/not covered by the statistics: lambda = .* lies outside the statistics' log-SNR range/);
    const wide = { ...neutralStatistics(lambdaOf(times[0]), lambdaOf(times[6])), size: 3, l: new Float64Array(6).fill(1), s: new Float64Array(6), b: new Float64Array(6) };
    await expect(dpmSolverV3({ denoiser, schedule, x: ref.xT, times }, { statistics: wide })).rejects.toThrow('the statistics hold 3 values per grid point but a sample has 2');
    await expect(dpmSolverV3({ denoiser, schedule, x: ref.xT, times: [...times.slice(0, 6), 0] })).rejects.toThrow(/needs grids with sigma > 0/);
  });
});

describe('statistics estimation', () => {
  it('stops when the run is cancelled', async () => {
    const controller = new AbortController();
    const run = estimateModelStatistics(denoiser, schedule, {
      sampleShape: [2], dtype: 'float64', samples: 4, steps: 50, probes: 1, difference: 'forward', seed: 0,
      signal: controller.signal, onProgress: (done) => done === 5 && controller.abort(new Error('cancelled')),
    });
    await expect(run).rejects.toThrow('cancelled');
  });

  it('forward differences agree with central ones on a smooth model', async () => {
    const options = { sampleShape: [2], dtype: 'float64', samples: 16, steps: 20, probes: 2, seed: 5 } as const;
    const central = (await estimateModelStatistics(denoiser, schedule, { ...options, difference: 'central' })).statistics;
    const forward = await estimateModelStatistics(denoiser, schedule, { ...options, difference: 'forward' });
    expect(forward.cost.sampleEvaluations).toBe(21 * 16 * 3);
    for (let i = 0; i < central.l.length; i++) expect(Math.abs(forward.statistics.l[i] - central.l[i])).toBeLessThan(1e-3);
  });
});

describe('derivative estimates from the other points of a step', () => {
  // g(r) − g_s = a·r + c·r² sampled at r1, r2: the exact fit returns (a, c); the official pseudo
  // estimate (Newton's divided differences) returns (a + c·r1, c).
  const [a, c, r1, r2] = [0.7, -1.3, -0.4, -0.9];
  const deltas = [a * r1 + c * r1 * r1, a * r2 + c * r2 * r2];
  const apply = (map: number[][]) => map.map((row) => row[0] * deltas[0] + row[1] * deltas[1]);

  it('the exact fit recovers the Taylor coefficients', () => {
    const [c1, c2] = apply(coefficientMap([r1, r2], false));
    expect(c1).toBeCloseTo(a, 12);
    expect(c2).toBeCloseTo(c, 12);
  });

  it('pseudo: the first divided difference, and the same second coefficient', () => {
    const [c1, c2] = apply(coefficientMap([r1, r2], true));
    expect(c1).toBeCloseTo(a + c * r1, 12);
    expect(c2).toBeCloseTo(c, 12);
  });

  it('one other point: both give the slope', () => {
    expect(coefficientMap([r1], true)).toEqual(coefficientMap([r1], false));
    expect(coefficientMap([r1], false)[0][0] * (a * r1)).toBeCloseTo(a, 12);
  });
});
