/**
 * Per-step solver orders (TimeGrid.orders → SolveArgs.orders): multistep DPM-Solver(++) and UniPC run
 * them in place of their own plan (capped by the history), Sample passes a grid's orders on, and every
 * other solver refuses a grid that carries them.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { basicGuider, buildGrid, gaussianMixtureModel, GaussianMixture, makeSolver } from '../src/index.ts';
import type { SolveArgs, TimeGrid } from '../src/contracts/sampling.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { segmentOrders } from '../src/schedules/grids.ts';
import { seededNoise } from '../src/noise/seeded-noise.ts';
import { sample } from '../src/sampling/sample-node.ts';
import { multistepOrders } from '../src/solvers/exponential-common.ts';
import { uniPcPlan } from '../src/solvers/unipc.ts';
import type { SolverKind, SolverSettings } from '../src/solvers/catalog.ts';
import { benchModel } from '../../../bench/model.ts';
import { denoisingMcmc } from '../src/sampling/denoising-mcmc.ts';
import { chainLevels } from '../src/sampling/noise-level.ts';
import { steeredSample } from '../src/steering/fk-sample.ts';
import { solveSegment } from '../src/editing/common.ts';
import type { Reward } from '../src/contracts/potential.ts';

const sd = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
const SETTINGS: SolverSettings = { order: 2, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 };
const model = gaussianMixtureModel(new GaussianMixture(benchModel()), sd, 'float64');
const guider = basicGuider(model);
const x = seededNoise(123, 'philox').sample(Tensor.zeros([8, 16], 'float64'), 0);
const times = buildGrid(sd, { spacing: 'logSNR', steps: 7, denoise: 1, rho: 7 }).times;
const solve = (kind: SolverKind, over: Partial<SolverSettings>, orders?: readonly number[], args: Partial<SolveArgs> = {}) =>
  makeSolver(kind, { ...SETTINGS, ...over })({ denoiser: guider.denoise, schedule: sd, x, times, spacing: 'logSNR', orders, ...args });

describe('per-step orders of a grid', () => {
  it.each([
    ['unipc', 2, (steps: number, order: number) => uniPcPlan(steps, order).map((p) => p.order)],
    ['unipc', 3, (steps: number, order: number) => uniPcPlan(steps, order).map((p) => p.order)],
    ['dpmsolver++', 2, multistepOrders],
    ['dpmsolver++', 3, multistepOrders],
    ['dpmsolver', 3, multistepOrders],
  ] as const)('%s of order %i: orders equal to its own plan give bit-identical results', async (kind, order, plan) => {
    const own = plan(times.length - 1, order);
    expect(own.some((k) => k !== own[0])).toBe(true);
    const [without, withPlan] = [await solve(kind, { order }), await solve(kind, { order }, own)];
    expect(Array.from(withPlan.data)).toEqual(Array.from(without.data));
  });

  it.each(['unipc', 'dpmsolver++', 'dpmsolver'] as const)('%s: orders all 1 give the order-1 solver\'s result, and other orders another one', async (kind) => {
    const ones = new Array<number>(times.length - 1).fill(1);
    const orderOne = await solve(kind, { order: 1 });
    expect(Array.from((await solve(kind, { order: 3 }, ones)).data)).toEqual(Array.from(orderOne.data));
    const mixed = await solve(kind, { order: 1 }, [1, 2, 3, 3, 2, 2, 1]);
    expect(Array.from(mixed.data)).not.toEqual(Array.from(orderOne.data));
  });

  it('DPM-Solver++ with orders all 1 is DDIM (eta = 0)', async () => {
    const ones = new Array<number>(times.length - 1).fill(1);
    const [ddim, dpm] = [await solve('ddim', {}), await solve('dpmsolver++', { order: 2 }, ones)];
    dpm.data.forEach((v, i) => expect(v).toBeCloseTo(ddim.data[i], 10));
  });

  it('caps each order by the history a step has (warm-up), and keeps as much history as the highest order needs', async () => {
    for (const kind of ['unipc', 'dpmsolver++'] as const) {
      const capped = await solve(kind, { order: 1 }, [3, 3, 3, 3, 3, 3, 3]);
      const warmUp = await solve(kind, { order: 1 }, [1, 2, 3, 3, 3, 3, 3]);
      expect(Array.from(capped.data)).toEqual(Array.from(warmUp.data));
      // Order 3 on a solver configured for order 1 is the order-3 solver's run without lowered final steps.
      const third = await solve(kind, { order: 3, lowerOrderFinal: false });
      expect(Array.from(warmUp.data)).toEqual(Array.from(third.data));
    }
  });

  it('Sample passes the grid\'s orders to the solver', async () => {
    const orders = [1, 2, 3, 1, 3, 2, 1];
    const grid: TimeGrid = { times, spacing: 'searched', orders };
    const solver = { kind: 'unipc', solve: makeSolver('unipc', SETTINGS) };
    const noise = seededNoise(5, 'philox');
    const latent = Tensor.zeros([4, 16], 'float64');
    const { samples } = await sample({ guider, solver, grid, latent, noise, addNoise: true, startScale: 'auto' });
    const direct = await solver.solve({ denoiser: guider.denoise, schedule: sd, x: noise.sample(latent, 0), times, spacing: 'searched', orders });
    expect(Array.from(samples.data)).toEqual(Array.from(direct.data));
    const { samples: planned } = await sample({ guider, solver, grid: { times, spacing: 'searched' }, latent, noise, addNoise: true, startScale: 'auto' });
    expect(Array.from(planned.data)).not.toEqual(Array.from(samples.data));
  });

  it('refuses orders of the wrong length or outside 1–3, and solvers that do not take per-step orders refuse a grid with them', async () => {
    await expect(solve('unipc', {}, [1, 2, 2])).rejects.toThrow(/uniPc: the grid carries 3 per-step orders for its 7 steps/);
    await expect(solve('dpmsolver++', {}, [1, 2, 4, 2, 2, 2, 1])).rejects.toThrow(/dpmSolver: per-step order 2 must be 1, 2 or 3, got 4/);
    const ones = new Array<number>(times.length - 1).fill(1);
    for (const kind of ['euler', 'deis', 'ddim', 'heun'] as const) {
      await expect(solve(kind, {}, ones)).rejects.toThrow(new RegExp(`solver "${kind}" does not take per-step orders, but the grid carries them`));
    }
    await expect(solve('dpmsolver++', { method: 'singlestep' }, ones)).rejects.toThrow(/solver "dpmsolver\+\+" \(singlestep\) does not take per-step orders/);
    const grid: TimeGrid = { times, spacing: 'searched', orders: ones };
    await expect(sample({ guider, solver: { kind: 'euler', solve: makeSolver('euler', SETTINGS) }, grid, latent: Tensor.zeros([1, 16], 'float64'), noise: seededNoise(1, 'philox'), addNoise: true, startScale: 'auto' }))
      .rejects.toThrow(/solver "euler" does not take per-step orders/);
  });
});

describe('samplers that run a grid in pieces pass each piece its own orders', () => {
  const orders = [1, 2, 3, 1, 3, 2, 1];
  const grid: TimeGrid = { times, spacing: 'searched', orders };
  /** UniPC that records the intervals and orders of every solve it is given. */
  function recordingSolver() {
    const seen: { intervals: number; orders?: readonly number[] }[] = [];
    const inner = makeSolver('unipc', SETTINGS);
    return { seen, solver: { kind: 'unipc', solve: (args: SolveArgs) => (seen.push({ intervals: args.times.length - 1, orders: args.orders }), inner(args)) } };
  }

  it('DenoisingMCMC: the full grid, then the orders of the grid\'s last intervals for each tail', async () => {
    const { seen, solver } = recordingSolver();
    await denoisingMcmc({
      guider, solver, grid, latent: Tensor.zeros([3, 16], 'float64'), noise: seededNoise(5, 'philox'), levels: chainLevels(sd, 0.03, 5, 20),
      estimator: 'exact', mixture: new GaussianMixture(benchModel()), eta: 0.5, skp: 1, burnIn: 1, rounds: 1, initSigma: 0.5,
    });
    expect(seen[0]).toEqual({ intervals: 7, orders });
    expect(seen.length).toBeGreaterThan(1);
    for (const s of seen.slice(1)) expect(s.orders).toEqual(orders.slice(orders.length - s.intervals));
  });

  it('FK steering: one step per solve, with that step\'s order', async () => {
    const { seen, solver } = recordingSolver();
    const reward: Reward = { name: 'zero', evaluate: async (x0) => new Float64Array(x0.batch) };
    await steeredSample({
      guider, solver, grid, latent: Tensor.zeros([2, 16], 'float64'), noise: seededNoise(5, 'philox'), addNoise: true, startScale: 'unit',
      potential: { reward, method: 'fk', kind: 'diff', lambda: 1, particles: 2, resampleStart: 0, resampleEvery: 1, resampleEnd: -1, essThreshold: 1, selection: 'weighted', seed: 3 },
    });
    expect(seen.map((s) => s.orders)).toEqual(orders.map((k) => [k]));
  });

  it('a segment of a grid (CyclicOneWay) runs its intervals\' orders', async () => {
    const { seen, solver } = recordingSolver();
    const x0 = seededNoise(5, 'philox').sample(Tensor.zeros([2, 16], 'float64'), 0);
    await solveSegment({ solver, guider, x: x0, times: times.slice(2, 6), spacing: grid.spacing, orders: segmentOrders(grid, 2, 5), noise: seededNoise(5, 'philox'), stream: 1 });
    expect(seen).toEqual([{ intervals: 3, orders: [3, 1, 3] }]);
  });
});
