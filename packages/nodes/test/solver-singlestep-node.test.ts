/**
 * The Solver node's singlestep method is the official DPM-Solver-fast: the Schedule node's `steps` is the
 * model-call budget on every spacing (also truncated img2img grids and grids that end at sigma = 0).
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { gaussianMixtureModel, sample } from '../src/index.ts';
import { Schedule, SPACINGS } from '../src/schedules/schedule-node.ts';
import { SolverNode } from '../src/solvers/solver-node.ts';
import { GaussianMixture } from '../src/models/gmm.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { zeroNoise } from '../src/noise/noise-nodes.ts';
import { singlestepOrders, singlestepPlanOnGrid } from '../src/solvers/dpm-solver.ts';
import type { Solver, TimeGrid } from '../src/contracts/sampling.ts';

const gmm = new GaussianMixture({ weights: [0.6, 0.4], means: [[-1, 0.5], [1.2, -0.3]], stds: [0.3, 0.2] });
const model = gaussianMixtureModel(gmm, makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' }), 'float64');
const SOLVER_DEFAULTS = Object.fromEntries(Object.entries(SolverNode.inputs).map(([k, v]) => [k, (v as { default?: unknown }).default]));
const SCHEDULE_DEFAULTS = { denoise: 1, rho: 7 };

/** The node run functions as the executor calls them (defaults filled in). */
async function nodesRun(spacing: string, steps: number, denoise: number, order: number) {
  const grid = (await Schedule.run({ ...SCHEDULE_DEFAULTS, model, spacing, steps, denoise }, undefined as never)).sigmas as TimeGrid;
  const solver = (await SolverNode.run({ ...SOLVER_DEFAULTS, kind: 'dpmsolver++', method: 'singlestep', order }, undefined as never)).solver as Solver;
  const calls: number[] = [];
  const progress: [number, number][] = [];
  const { samples } = await sample({
    guider: { schedule: model.schedule, denoise: (x, t) => (calls.push(t), model.predictX0(x, t)) },
    solver,
    grid,
    latent: Tensor.from([2, 2], [0.3, -0.2, 1.1, 0.4], 'float64'),
    noise: zeroNoise,
    addNoise: false,
    startScale: 'unit',
    onStep: (step, total) => progress.push([step, total]),
  });
  return { grid, calls, progress, samples };
}

describe('Solver method singlestep through the Schedule and Solver nodes', () => {
  const spacings = SPACINGS.filter((s) => s !== 'custom');
  it.each(spacings)('%s: steps = model calls for every order, budget and denoise', async (spacing) => {
    for (const order of [1, 2, 3]) {
      // diffusers' uniform and leading spacings have no 1-step grid (their only timestep is the final time).
      for (const steps of [1, 2, 3, 4, 5, 6, 7, 10, 20].slice(spacing === 'uniform' || spacing === 'leading' ? 1 : 0)) {
        for (const denoise of [1, 0.6]) {
          const { grid, calls, progress, samples } = await nodesRun(spacing, steps, denoise, order);
          // diffusers' uniform and leading grids drop a zero-length final step when they already end on 1/N.
          const intervals = grid.times.length - 1;
          expect(calls.length, `${spacing} order ${order} steps ${steps} denoise ${denoise}`).toBe(intervals);
          // ComfyUI's ddim_uniform takes every (1000 // steps)-th timestep from 1, which can be more than
          // asked (7 steps: 8 timesteps); img2img keeps the last steps as every grid does.
          const comfyDdimSteps = denoise === 1 && spacing === 'comfy_ddim_uniform' ? Math.ceil(999 / Math.floor(1000 / steps)) : steps;
          if (spacing !== 'uniform' && spacing !== 'leading') expect(intervals).toBe(comfyDdimSteps);
          // Progress counts model calls, ending at the budget.
          expect(progress.at(-1)).toEqual([intervals - 1, intervals]);
          expect(progress.every(([s], i) => i === 0 || s > progress[i - 1][0])).toBe(true);
          expect(samples.data.every(Number.isFinite)).toBe(true);
        }
      }
    }
  });

  it('plans the official orders: 20 calls at order 2 are ten second-order steps, at order 3 six third-order steps and a second-order one', async () => {
    const two = await nodesRun('logSNR', 20, 1, 2);
    expect(singlestepPlanOnGrid(model.schedule, two.grid.times, 'logSNR', 2).orders).toEqual(new Array(10).fill(2));
    expect(two.calls.length).toBe(20);
    const three = await nodesRun('time_uniform', 20, 1, 3);
    expect(singlestepPlanOnGrid(model.schedule, three.grid.times, 'time_uniform', 3).orders).toEqual([3, 3, 3, 3, 3, 3, 2]);
    expect(singlestepOrders(10, 3)).toEqual([3, 3, 3, 1]);
  });

  it('on a grid that ends at sigma = 0 the last interval is a first-order step and the rest follows the plan', () => {
    const times = [1, 0.8, 0.6, 0.4, 0.2, 0.05, 0];
    const plan = singlestepPlanOnGrid(model.schedule, times, 'karras', 2);
    expect(plan.orders).toEqual([2, 2, 1, 1]);
    expect(plan.times).toEqual([1, 0.6, 0.2, 0.05, 0]);
  });
});
