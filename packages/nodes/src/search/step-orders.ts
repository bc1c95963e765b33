/**
 * What a search needs to know of an opaque SOLVER, read from solves with a free stand-in denoiser: the
 * model calls it makes on a grid, whether it takes a grid's orders at all, and its own plan on a grid
 * (a solver that takes per-step orders reports each step's order to hooks.onStep).
 */
import { combine, type Tensor } from '@diffgraph/engine';
import type { Denoiser, NoiseSchedule, Solver } from '../contracts/sampling.ts';

/** The spacing name of a searched grid (singlestep solvers then take its own points as outer steps). */
export const SEARCHED_SPACING = 'searched';

/** The orders a step may take in the search, whatever order the SOLVER itself is set to. */
export const ORDER_CHOICES: readonly number[] = [1, 2, 3];

/**
 * One solve with a free stand-in denoiser: the model calls it makes and the order it reports for each
 * step (undefined where it does not say). Both depend only on the grid, not on the model's answers.
 */
export async function probeSolve(solver: Solver, schedule: NoiseSchedule, x: Tensor, times: readonly number[], orders?: readonly number[]): Promise<{ calls: number; orders: (number | undefined)[] }> {
  let calls = 0;
  const standIn: Denoiser = async (state) => (calls++, combine([0.5], [state]));
  const reported = new Array<number | undefined>(times.length - 1).fill(undefined);
  await solver.solve({
    denoiser: standIn, schedule, x, times, spacing: SEARCHED_SPACING, orders, noise: (like) => like.zerosLike(),
    hooks: { onStep: ({ step, order }) => (reported[step] = order) },
  });
  return { calls, orders: reported };
}

/**
 * The solver's own orders on `times`, after checking that it runs a grid's orders as given (all 1);
 * an Error saying why not otherwise (a catalog solver that refuses per-step orders says so itself).
 */
export async function solverPlan(solver: Solver, schedule: NoiseSchedule, x: Tensor, times: readonly number[]): Promise<number[]> {
  const followed = (await probeSolve(solver, schedule, x, times, new Array<number>(times.length - 1).fill(1))).orders;
  if (followed.some((k) => k === undefined)) throw new Error('it does not report the order of its steps');
  if (followed.some((k) => k !== 1)) throw new Error('it does not follow the orders a grid carries');
  const plan = (await probeSolve(solver, schedule, x, times)).orders;
  if (plan.some((k) => k === undefined)) throw new Error('it does not report the order of its steps');
  return plan as number[];
}
