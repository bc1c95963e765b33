/**
 * DPM-Solver-v3 (Zheng et al. 2023): the multistep predictor–corrector over empirical model statistics
 * (contracts/model-statistics.ts), following the official `dpm_solver_v3.py` (derivatives by the exact fit; the predictor's pseudo option too).
 *
 * With u = x/alpha, du/dlambda = −l·u − f where f = (sigma·eps − l·x)/alpha, and g = e^(−S)·f − B is
 * nearly constant when df/dlambda ≈ s·f + b. A step from s to t expands g around lambda_s:
 *   x_t = alpha_t·[ e^(L_s−L_t)·x_s/alpha_s − J0·g_s − Jb − Σ_k Jk·c_k ]
 * where g_i = e^(S_s−S_i)·f_i − e^(S_s)·(B_i − B_s) (so g_s = f_s), the c_k solve the Vandermonde system
 * g_i − g_s = Σ_k c_k·(lambda_i − lambda_s)^k over the other points of the step, and J0, Jb, Jk are the
 * integrals of solvers/ems-integrals.ts.
 *
 * Conventions (as the official code):
 * - Step i of order k uses the k latest points (warm-up 1, 2, … then `order`; with lowerOrderFinal the
 *   order is min(order, steps + 1 − i) at every step count, as UniPC's plan).
 * - The corrector (on by default) re-takes a step of order k ≥ 2 from s to t once the model has been
 *   called at the predicted x_t, using t itself and the k − 2 points before s. f_t is kept (the corrected
 *   x_t is not re-evaluated), so NFE = steps. It never runs after the last step, nor after an order-1 step.
 * - Times are NOT snapped to the statistics grid (the official code rounds each time to the nearest grid
 *   point): l, s, b are interpolated linearly in lambda, so the solver lands exactly on the grid it is
 *   given — the end time in particular — and any Schedule's SIGMAS work unchanged.
 * - With no statistics, neutral ones (l = 1, s = b = 0): f = −x0 and order 1 is DPM-Solver++(1) = DDIM.
 */
import { Tensor } from '@diffgraph/engine';
import type { ModelStatistics } from '../contracts/model-statistics.ts';
import type { SolveArgs } from '../contracts/sampling.ts';
import { neutralStatistics, prepareStatistics, type EmsPoint, type EmsStep } from './ems-integrals.ts';
import { checkOrderAndGrid, throwIfAborted } from './exponential-common.ts';
import { uniPcPlan } from './unipc.ts';

export interface DpmSolverV3Options {
  /** The model's statistics; absent: neutral (l = 1, s = b = 0). */
  statistics?: ModelStatistics;
  /** 1, 2 or 3 (default 2). */
  order?: 1 | 2 | 3;
  /** Run the corrector (default true). */
  useCorrector?: boolean;
  /** Lower the order of the final steps (default true). */
  lowerOrderFinal?: boolean;
  /** Predictor derivatives by divided differences (the official `p_pseudo`, used at ≤ 5 steps); default false. */
  pseudoPredictor?: boolean;
}

/** A point of the multistep history: its statistics values and f there (per batch item, float64). */
interface HistoryPoint {
  point: EmsPoint;
  f: Float64Array;
}

/** f = (sigma·eps − l·x)/alpha = (1 − l)·x/alpha − x0, from the model's x0 prediction. */
function fOf(x: Tensor, x0: Tensor, point: EmsPoint, alpha: number): Float64Array {
  const per = x.size / x.batch;
  const shared = point.l.length === 1;
  const f = new Float64Array(x.size);
  for (let e = 0; e < x.size; e++) f[e] = ((1 - point.l[shared ? 0 : e % per]) * x.data[e]) / alpha - x0.data[e];
  return f;
}

/**
 * The map from g_i − g_s (other points i) to the expansion coefficients c_k, for nodes r_i = lambda_i − lambda_s.
 * Exact: the inverse of the Vandermonde matrix R[i][k] = r_i^(k+1). Pseudo (the official `pseudo`
 * option): Newton's divided differences read as the coefficients — c_1 = (g_1 − g_s)/r_1, the first
 * divided difference alone, without the exact fit's correction by the second.
 */
export function coefficientMap(r: readonly number[], pseudo: boolean): number[][] {
  if (r.length === 1) return [[1 / r[0]]];
  const [r1, r2] = r;
  // Row 2 is the same either way; pseudo keeps only the first divided difference in row 1.
  if (pseudo) return [[1 / r1, 0], [1 / (r1 * (r1 - r2)), -1 / (r2 * (r1 - r2))]];
  const det = r1 * r2 * (r2 - r1);
  return [[(r2 * r2) / det, (-r1 * r1) / det], [-r2 / det, r1 / det]];
}

/** One v3 update from points[0] (= s, at state xs) to t with the given coefficients. */
function v3Update(xs: Tensor, alphaRatio: number, alphaT: number, coef: EmsStep, points: readonly HistoryPoint[], pseudo = false): Tensor {
  const s = points[0];
  const per = xs.size / xs.batch;
  const shared = coef.decay.length === 1;
  const others = points.slice(1);
  const inv = others.length > 0 ? coefficientMap(others.map((p) => p.point.lambda - s.point.lambda), pseudo) : [];
  const out = xs.zerosLike();
  const c = new Float64Array(others.length);
  for (let e = 0; e < xs.size; e++) {
    const d = shared ? 0 : e % per;
    let sum = coef.J0[d] * s.f[e] + coef.Jb[d];
    if (others.length > 0) {
      // g_i − g_s for each other point, then c = R⁻¹·(g − g_s).
      const Ss = s.point.S[d], Bs = s.point.B[d];
      c.fill(0);
      for (let i = 0; i < others.length; i++) {
        const p = others[i].point;
        const g = Math.exp(Ss - p.S[d]) * others[i].f[e] - Math.exp(Ss) * (p.B[d] - Bs);
        for (let k = 0; k < others.length; k++) c[k] += inv[k][i] * (g - s.f[e]);
      }
      for (let k = 0; k < others.length; k++) sum += coef.J[k][d] * c[k];
    }
    out.data[e] = alphaRatio * coef.decay[d] * xs.data[e] - alphaT * sum;
  }
  return out;
}

/** DPM-Solver-v3 from x at times[0] down to times[times.length − 1]; NFE = times.length − 1. */
export async function dpmSolverV3(args: SolveArgs, options: DpmSolverV3Options = {}): Promise<Tensor> {
  const { denoiser, schedule: ns, times, hooks } = args;
  const order = options.order ?? 2;
  const steps = times.length - 1;
  checkOrderAndGrid('dpmSolverV3', order, steps);
  const lambdas = times.map((t) => ns.lambda(t));
  lambdas.forEach((l, i) => {
    if (!Number.isFinite(l)) throw new Error(`dpmSolverV3: time ${times[i]} has log-SNR ${l}; DPM-Solver-v3 needs grids with sigma > 0 and alpha > 0 at every time (e.g. logSNR to tMin)`);
    if (i > 0 && !(l > lambdas[i - 1])) throw new Error(`dpmSolverV3: times must decrease strictly (log-SNR increasing); times[${i}] = ${times[i]}`);
  });
  const stats = prepareStatistics(options.statistics ?? neutralStatistics(lambdas[0], lambdas[steps]));
  const per = args.x.size / args.x.batch;
  if (stats.D !== 1 && stats.D !== per) throw new Error(`dpmSolverV3: the statistics hold ${stats.D} values per grid point but a sample has ${per}; estimate them for this model and latent shape`);
  let points: EmsPoint[];
  try {
    points = lambdas.map((l) => stats.at(l));
  } catch (e) {
    throw new Error(`dpmSolverV3: the time grid ${times[0]} → ${times[steps]} is not covered by the statistics: ${(e as Error).message}`);
  }
  const plan = uniPcPlan(steps, order, options.lowerOrderFinal ?? true, options.useCorrector ?? true);

  let x = args.x;
  let x0 = await denoiser(x, times[0]);
  const history: HistoryPoint[] = [{ point: points[0], f: fOf(x, x0, points[0], ns.alpha(times[0])) }];
  for (let i = 1; i <= steps; i++) {
    throwIfAborted(hooks);
    const { order: k, useCorrector } = plan[i - 1];
    const s = times[i - 1], t = times[i];
    const coef = stats.step(points[i - 1], points[i], k - 1);
    const alphaRatio = Math.exp(ns.logAlpha(t) - ns.logAlpha(s));
    const alphaT = ns.alpha(t);
    // The k latest points, s first, then older ones.
    const latest = history.slice(-k).reverse();
    const denoised = x0;
    const xs = x;
    x = v3Update(xs, alphaRatio, alphaT, coef, latest, options.pseudoPredictor ?? false);
    if (i < steps) {
      x0 = await denoiser(x, t);
      const next: HistoryPoint = { point: points[i], f: fOf(x, x0, points[i], alphaT) };
      // Corrector: the same step with t in place of the oldest point (official: points s, t, older…).
      if (useCorrector && k > 1) x = v3Update(xs, alphaRatio, alphaT, coef, [latest[0], next, ...latest.slice(1, k - 1)]);
      history.push(next);
      if (history.length > order) history.shift();
    }
    hooks?.onStep?.({ step: i - 1, steps, t, x, denoised });
  }
  return x;
}
