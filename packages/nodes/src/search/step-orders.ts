/**
 * What a search over per-step orders needs from an opaque SOLVER: whether it takes a grid's orders at
 * all, and its own plan on a grid (the start of the search). Both are read from solves with a free
 * stand-in denoiser: a solver that takes per-step orders reports each step's order to hooks.onStep.
 */
import { combine, type Tensor } from '@diffgraph/engine';
import type { Denoiser, NoiseSchedule, Solver } from '../contracts/sampling.ts';

/** The orders a step may take in the search, whatever order the SOLVER itself is set to. */
export const ORDER_CHOICES: readonly number[] = [1, 2, 3];

const standIn: Denoiser = async (state) => combine([0.5], [state]);

/** The order of each step of one solve, or undefined where the solver did not say. */
async function reportedOrders(solver: Solver, schedule: NoiseSchedule, x: Tensor, times: readonly number[], orders?: readonly number[]): Promise<(number | undefined)[]> {
  const reported = new Array<number | undefined>(times.length - 1).fill(undefined);
  await solver.solve({
    denoiser: standIn, schedule, x, times, spacing: 'searched', orders, noise: (like) => like.zerosLike(),
    hooks: { onStep: ({ step, order }) => (reported[step] = order) },
  });
  return reported;
}

/**
 * The solver's own orders on `times`, after checking that it runs a grid's orders as given (all 1);
 * an Error saying why not otherwise (a catalog solver that refuses per-step orders says so itself).
 */
export async function solverPlan(solver: Solver, schedule: NoiseSchedule, x: Tensor, times: readonly number[]): Promise<number[]> {
  const followed = await reportedOrders(solver, schedule, x, times, new Array<number>(times.length - 1).fill(1));
  if (followed.some((k) => k === undefined)) throw new Error('it does not report the order of its steps');
  if (followed.some((k) => k !== 1)) throw new Error('it does not follow the orders a grid carries');
  const plan = await reportedOrders(solver, schedule, x, times);
  if (plan.some((k) => k === undefined)) throw new Error('it does not report the order of its steps');
  return plan as number[];
}
