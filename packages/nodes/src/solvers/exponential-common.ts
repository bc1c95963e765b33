/**
 * What the exponential-integrator solvers (DPM-Solver(++), UniPC, DEIS, DDIM) share, as
 * kdiffusion-common.ts does for the k-diffusion family: the model value in log-SNR form, the order and
 * grid checks, cancellation between steps, and the multistep warm-up orders.
 */
import { combine, type Tensor } from '@diffgraph/engine';
import type { Denoiser, NoiseSchedule, SolverHooks } from '../contracts/sampling.ts';

/** One model evaluation as the update formulas use it. */
export interface ModelValue {
  t: number;
  lambda: number;
  /** The model value the solver is built on: x0 (data prediction) or eps (noise prediction). */
  m: Tensor;
  /** The x0 prediction (for hooks). */
  x0: Tensor;
}

/**
 * The model in log-SNR form: each call returns its time, lambda, and m = x0 (data prediction) or the
 * eps implied by it. `adjustX0` transforms every x0 prediction first (DPM-Solver++'s thresholding).
 */
export function modelValues(
  denoiser: Denoiser,
  schedule: NoiseSchedule,
  dataPrediction: boolean,
  adjustX0?: (x0: Tensor) => Tensor,
): (x: Tensor, t: number) => Promise<ModelValue> {
  return async (x, t) => {
    const predicted = await denoiser(x, t);
    const x0 = adjustX0 ? adjustX0(predicted) : predicted;
    return { t, lambda: schedule.lambda(t), m: dataPrediction ? x0 : epsFromX0(schedule, x, x0, t), x0 };
  };
}

/** Orders 1–3 on a grid of at least one interval, or an error naming the solver. */
export function checkOrderAndGrid(solver: string, order: number, steps: number): void {
  if (![1, 2, 3].includes(order)) throw new Error(`${solver}: order must be 1, 2 or 3, got ${order}`);
  if (steps < 1) throw new Error(`${solver}: needs at least two times`);
}

/** Throws the abort reason when the run was cancelled (checked between steps). */
export function throwIfAborted(hooks: SolverHooks | undefined): void {
  const signal = hooks?.signal;
  if (signal?.aborted) throw signal.reason;
}

/** eps = (x − alpha·x0)/sigma: the noise prediction implied by a data prediction at time t. */
export function epsFromX0(schedule: NoiseSchedule, x: Tensor, x0: Tensor, t: number): Tensor {
  const alpha = schedule.alpha(t);
  const sigma = schedule.sigma(t);
  return combine([1 / sigma, -alpha / sigma], [x, x0]);
}

/**
 * Per-step orders of a multistep solver over `steps` intervals: warm-up 1, 2, … while the history is
 * short, then `order`; with lowerOrderFinal the final steps drop to min(order, steps + 1 − i), but only
 * when steps < 10 (the official DPM-Solver code's rule; its docstring says 15).
 */
export function multistepOrders(steps: number, order: number, lowerOrderFinal = true): number[] {
  return Array.from({ length: steps }, (_, j) => {
    const i = j + 1;
    if (i < order) return i;
    return lowerOrderFinal && steps < 10 ? Math.min(order, steps + 1 - i) : order;
  });
}

/**
 * The orders a multistep solver runs: its own plan, or the grid's per-step `requested` orders
 * (SolveArgs.orders), each capped by the history available (step i, 0-based, has i + 1 model values),
 * so the warm-up still applies. Requested orders must be one integer in 1–3 per interval.
 */
export function stepOrders(solver: string, plan: readonly number[], requested: readonly number[] | undefined): number[] {
  if (requested === undefined) return [...plan];
  if (requested.length !== plan.length) {
    throw new Error(`${solver}: the grid carries ${requested.length} per-step orders for its ${plan.length} steps`);
  }
  return requested.map((k, i) => {
    if (!(k === 1 || k === 2 || k === 3)) throw new Error(`${solver}: per-step order ${i} must be 1, 2 or 3, got ${k}`);
    return Math.min(k, i + 1);
  });
}
