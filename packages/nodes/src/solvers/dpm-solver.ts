/**
 * DPM-Solver (Lu et al. 2022, noise prediction) and DPM-Solver++ (Lu et al. 2022b, data prediction),
 * orders 1–3, singlestep and multistep, following the conventions of the official
 * `dpm_solver_pytorch.py` (solver_type "dpmsolver", not "taylor"). The conventions are
 * spelled out in the vendored reference set's README (packages/nodes/test/data/refs/README.md §5).
 *
 * Notation for a step from s to t (t < s): h = lambda_t − lambda_s > 0; alpha, sigma are the VP
 * coefficients of `args.schedule`; alpha_t/alpha_s = exp(logAlpha_t − logAlpha_s) as in the official code.
 * The model value m is eps for 'dpmsolver' and x0 for 'dpmsolver++'. The denoiser answers x0; eps is
 * derived from it as (x − alpha·x0)/sigma.
 *
 * All arithmetic runs in the dtype of `args.x` (every linear combination lists x first, and `combine`
 * allocates in the dtype of its first term).
 */
import { Tensor, combine } from '@diffgraph/engine';
import type { NoiseSchedule, SolveArgs, SolverHooks } from '../contracts/sampling.ts';
import { dpmSolverTimeGrid, type ContinuousSpacing } from '../schedules/grids.ts';
import { checkOrderAndGrid, modelValues, multistepOrders, stepOrders, throwIfAborted, type ModelValue } from './exponential-common.ts';

export type DpmSolverAlgorithm = 'dpmsolver' | 'dpmsolver++';
export type DpmSolverMethod = 'singlestep' | 'multistep';
/** DPM-Solver's grid rules (`skip_type`); singlestep needs it to place the points inside a step. */
export type SkipType = ContinuousSpacing;

export interface DynamicThresholding {
  /** Quantile of |x0| per batch item (official `dynamic_thresholding_ratio`, default 0.995). */
  ratio?: number;
  /** Lower bound for the clip value s (official `thresholding_max_val`, default 1). */
  maxValue?: number;
}

export interface DpmSolverOptions {
  /** 'dpmsolver++' (default, data prediction) or 'dpmsolver' (noise prediction). */
  algorithm?: DpmSolverAlgorithm;
  /** 1, 2 or 3 (default 2). */
  order?: 1 | 2 | 3;
  /** 'multistep' (default) or 'singlestep'. */
  method?: DpmSolverMethod;
  /**
   * Multistep only (default true). As in the official code, the final steps are lowered only when the
   * grid has fewer than 10 steps (its docstring says 15; the code says 10).
   */
  lowerOrderFinal?: boolean;
  /**
   * Singlestep only: the order of each outer step, one per interval of `times`. Default: `order` for
   * every step (a fixed-order composition on the given grid). For the official 'singlestep' method
   * (DPM-Solver-fast, `steps` = model calls) use `dpmSolverFast`, which plans the orders and outer grid.
   */
  orders?: readonly number[];
  /**
   * Singlestep only: the rule that built `times` (default 'logSNR'). The intermediate points of an outer
   * step of order k are that rule's k-interval grid between the step's ends, as in the official code;
   * logSNR gives r1 = 1/2 (order 2) and r1, r2 = 1/3, 2/3 (order 3).
   */
  skipType?: SkipType;
  /** DPM-Solver++ only: the official dynamic thresholding of every x0 prediction (clip to ±s, divide by s). */
  thresholding?: DynamicThresholding;
}

// ---------------------------------------------------------------------------------------------------
// Dynamic thresholding (DPM-Solver++).

/**
 * The official dynamic thresholding: per batch item, s = max(quantile(|x0|, ratio), maxValue), then
 * x0 ← clamp(x0, −s, s)/s. torch.quantile interpolates linearly between order statistics.
 */
export function dynamicThreshold(x0: Tensor, opts: DynamicThresholding): Tensor {
  const ratio = opts.ratio ?? 0.995;
  const maxValue = opts.maxValue ?? 1;
  const out = x0.clone();
  const b = x0.batch;
  const per = x0.size / b;
  for (let i = 0; i < b; i++) {
    const row = out.data.subarray(i * per, (i + 1) * per);
    const sorted = Float64Array.from(row, Math.abs).sort();
    const pos = ratio * (per - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, per - 1);
    const q = sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
    const s = Math.max(q, maxValue);
    for (let j = 0; j < per; j++) row[j] = Math.min(Math.max(row[j], -s), s) / s;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Grids for the official 'singlestep' method (DPM-Solver-fast).

/**
 * Per-step orders of the official 'singlestep' method for a budget of `steps` model calls (NFE).
 * order 3: K = steps//3 + 1 outer steps, ending [.., 3, 2, 1], [.., 3, 1] or [.., 3, 2] by steps mod 3.
 */
export function singlestepOrders(steps: number, order: 1 | 2 | 3): number[] {
  const rep = (n: number, v: number) => new Array<number>(n).fill(v);
  if (order === 1) return rep(steps, 1);
  if (order === 2) return steps % 2 === 0 ? rep(steps / 2, 2) : [...rep((steps - 1) / 2, 2), 1];
  const K = Math.floor(steps / 3) + 1;
  if (steps % 3 === 0) return [...rep(K - 2, 3), 2, 1];
  if (steps % 3 === 1) return [...rep(K - 1, 3), 1];
  return [...rep(K - 1, 3), 2];
}

/**
 * The official 'singlestep' plan for a budget of `steps` model calls on a DPM-Solver grid from tStart to
 * tEnd (`get_orders_and_timesteps_for_singlestep_solver`): see `singlestepPlanOnGrid`.
 */
export function singlestepPlan(
  schedule: NoiseSchedule,
  skipType: SkipType,
  steps: number,
  order: 1 | 2 | 3,
  tStart: number = schedule.tMax,
  tEnd: number = schedule.tMin,
): SinglestepPlan {
  return singlestepPlanOnGrid(schedule, dpmSolverTimeGrid(schedule, skipType, steps, tStart, tEnd), skipType, order);
}

export interface SinglestepPlan {
  /** The outer grid: one interval per outer step. */
  times: number[];
  /** The order (= model calls) of each outer step; they sum to the budget. */
  orders: number[];
  /** The rule that places the inner points of an outer step. */
  skipType: SkipType;
}

const SKIP_TYPES: ReadonlySet<string> = new Set<SkipType>(['logSNR', 'time_uniform', 'time_quadratic']);

/**
 * The official 'singlestep' method (DPM-Solver-fast) on a grid whose M = times.length − 1 intervals are
 * the budget of model calls, as a Schedule node builds it for `steps` = M:
 * - orders: `singlestepOrders(M, order)`, e.g. [3, 3, 3, 1] for M = 10, order 3;
 * - outer grid: for logSNR a fresh grid with one equal-lambda interval per outer step between the grid's
 *   ends; for every other spacing the grid's own points at the cumulative sums of the orders (the
 *   official rule for time_uniform and time_quadratic, applied as is to the other spacings);
 * - inner points: the spacing's rule between an outer step's ends (logSNR's equal lambda fractions for
 *   spacings DPM-Solver does not define).
 * A grid that ends at sigma = 0 keeps its last interval as a first-order step (its exact limit is the x0
 * prediction) and plans the M − 1 intervals before it, so the budget is still M calls. Truncated grids
 * (denoise < 1) keep their structure, so the plan is the official one from the grid's first time.
 */
export function singlestepPlanOnGrid(
  schedule: NoiseSchedule,
  times: readonly number[],
  spacing: string | undefined,
  order: 1 | 2 | 3,
): SinglestepPlan {
  const skipType = (spacing !== undefined && SKIP_TYPES.has(spacing) ? spacing : 'logSNR') as SkipType;
  const last = times.length - 1;
  if (last < 1) throw new Error('dpmSolver: needs at least two times');
  const toZero = schedule.sigma(times[last]) === 0;
  const budget = toZero ? last - 1 : last;
  const orders = budget > 0 ? singlestepOrders(budget, order) : [];
  let outer: number[];
  if (spacing === 'logSNR' && !toZero) {
    outer = dpmSolverTimeGrid(schedule, 'logSNR', orders.length, times[0], times[last]);
  } else {
    outer = [times[0]];
    let at = 0;
    for (const o of orders) outer.push(times[(at += o)]);
  }
  if (toZero) {
    outer.push(times[last]);
    orders.push(1);
  }
  return { times: outer, orders, skipType };
}

/**
 * Official singlestep DPM-Solver(++) over a grid of `steps` intervals: exactly `steps` model calls in
 * the outer steps of `singlestepPlanOnGrid`. Progress (hooks.onStep) is reported in grid intervals, i.e.
 * model calls made so far, out of `steps`.
 */
export function dpmSolverFast(args: SolveArgs, options: Omit<DpmSolverOptions, 'method' | 'orders' | 'skipType'> = {}): Promise<Tensor> {
  const order = options.order ?? 2;
  if (![1, 2, 3].includes(order)) throw new Error(`dpmSolver: order must be 1, 2 or 3, got ${order}`);
  const plan = singlestepPlanOnGrid(args.schedule, args.times, args.spacing, order);
  const steps = args.times.length - 1;
  const callsAfter: number[] = [];
  plan.orders.reduce((sum, k) => (callsAfter.push(sum + k), sum + k), 0);
  const onStep = args.hooks?.onStep;
  const hooks: SolverHooks | undefined = args.hooks && {
    ...args.hooks,
    onStep: onStep && ((info) => onStep({ ...info, step: callsAfter[info.step] - 1, steps })),
  };
  return dpmSolver({ ...args, times: plan.times, hooks }, { ...options, method: 'singlestep', orders: plan.orders, skipType: plan.skipType });
}

/**
 * r_j = (lambda_j − lambda_s)/h for the inner points of one outer step, as the official code builds them:
 * the skip rule's k-interval grid from s to t, taken to lambda. (logSNR gives j/k up to round-off.)
 */
export function singlestepRatios(ns: NoiseSchedule, skipType: SkipType, s: number, t: number, k: number): number[] {
  const lam = dpmSolverTimeGrid(ns, skipType, k, s, t).map((v) => ns.lambda(v));
  const h = lam[k] - lam[0];
  return lam.slice(1, k).map((l) => (l - lam[0]) / h);
}

// ---------------------------------------------------------------------------------------------------

/** Coefficients of one step: x_t = ratio·x − c·(phi combination of model values). */
function stepCoefs(ns: NoiseSchedule, plusPlus: boolean, s: number, t: number) {
  const h = ns.lambda(t) - ns.lambda(s);
  return plusPlus
    ? { h, ratio: ns.sigma(t) / ns.sigma(s), c: ns.alpha(t), hh: -h }
    : { h, ratio: Math.exp(ns.logAlpha(t) - ns.logAlpha(s)), c: ns.sigma(t), hh: h };
}

/**
 * One multistep update of order k from s (the newest history time) to t, using the k most recent
 * model values m0 (at s), m1, m2 (older). p1 = e^{−h} − 1 for ++ and e^{h} − 1 for the noise form.
 */
function multistepUpdate(
  ns: NoiseSchedule,
  plusPlus: boolean,
  x: Tensor,
  prev: readonly ModelValue[],
  t: number,
  k: number,
): Tensor {
  const m0 = prev[prev.length - 1];
  const { h, ratio, c } = stepCoefs(ns, plusPlus, m0.t, t);
  const p1 = Math.expm1(plusPlus ? -h : h);
  if (k === 1) return combine([ratio, -c * p1], [x, m0.m]);
  const m1 = prev[prev.length - 2];
  const r0 = (m0.lambda - m1.lambda) / h;
  if (k === 2) {
    // D = (m0 − m1)/r0; x_t = ratio·x − c·p1·m0 − ½·c·p1·D  (both forms).
    const d = -0.5 * c * p1 / r0; // coefficient of (m0 − m1)
    return combine([ratio, -c * p1 + d, -d], [x, m0.m, m1.m]);
  }
  const m2 = prev[prev.length - 3];
  const r1 = (m1.lambda - m2.lambda) / h;
  // D1_0 = (m0−m1)/r0, D1_1 = (m1−m2)/r1, D1 = D1_0 + r0/(r0+r1)·(D1_0 − D1_1), D2 = (D1_0 − D1_1)/(r0+r1).
  // Expand them as combinations of m0, m1, m2 so the update is a single pass over the buffers.
  const a0 = 1 / r0, a1 = 1 / r1; // D1_0 = a0(m0−m1), D1_1 = a1(m1−m2)
  const w = r0 / (r0 + r1);
  const D1 = [a0 * (1 + w), -a0 * (1 + w) - w * a1, w * a1]; // coefficients on m0, m1, m2
  const D2 = [a0 / (r0 + r1), (-a0 - a1) / (r0 + r1), a1 / (r0 + r1)];
  let p2: number, p3: number, sD1: number, sD2: number;
  if (plusPlus) {
    // x_t = ratio·x − alpha_t·p1·m0 + alpha_t·p2·D1 − alpha_t·p3·D2, p2 = p1/h + 1, p3 = p2/h − 1/2.
    p2 = p1 / h + 1;
    p3 = p2 / h - 0.5;
    sD1 = c * p2;
    sD2 = -c * p3;
  } else {
    // x_t = ratio·x − sigma_t·p1·m0 − sigma_t·p2·D1 − sigma_t·p3·D2, p2 = p1/h − 1, p3 = p2/h − 1/2.
    p2 = p1 / h - 1;
    p3 = p2 / h - 0.5;
    sD1 = -c * p2;
    sD2 = -c * p3;
  }
  return combine(
    [ratio, -c * p1 + sD1 * D1[0] + sD2 * D2[0], sD1 * D1[1] + sD2 * D2[1], sD1 * D1[2] + sD2 * D2[2]],
    [x, m0.m, m1.m, m2.m],
  );
}

/**
 * One singlestep update of order k (1–3) from s to t with inner ratios r (r1, r2). The model is called
 * k times, all inside this step; nothing is reused across outer steps.
 */
async function singlestepUpdate(
  model: (x: Tensor, t: number) => Promise<ModelValue>,
  ns: NoiseSchedule,
  plusPlus: boolean,
  x: Tensor,
  s: number,
  t: number,
  k: number,
  r: readonly number[],
): Promise<{ x: Tensor; first: ModelValue }> {
  const ms = await model(x, s);
  const lamS = ns.lambda(s);
  const h = ns.lambda(t) - lamS;
  const sign = plusPlus ? -1 : 1; // exponent sign: e^{−h} for ++, e^{+h} for noise
  // The order-1 (DDIM) move from s to any u with ratio r·h: x_u = ratio_u·x − c_u·(e^{±r h} − 1)·m_s.
  const at = (u: number) => stepCoefs(ns, plusPlus, s, u);
  const T = at(t);
  const p1 = Math.expm1(sign * h);
  if (k === 1) {
    // To sigma = 0 the step is the x0 prediction itself (the general form is 0·∞ in the noise form).
    return { x: ns.sigma(t) === 0 ? combine([ns.alpha(t)], [ms.x0]) : combine([T.ratio, -T.c * p1], [x, ms.m]), first: ms };
  }
  const s1 = ns.tOfLambda(lamS + r[0] * h);
  const S1 = at(s1);
  const x1 = combine([S1.ratio, -S1.c * Math.expm1(sign * r[0] * h)], [x, ms.m]);
  const m1 = await model(x1, s1);
  if (k === 2) {
    // x_t = ratio·x − c·p1·m_s − (1/(2 r1))·c·p1·(m_s1 − m_s)
    const d = -T.c * p1 / (2 * r[0]);
    return { x: combine([T.ratio, -T.c * p1 - d, d], [x, ms.m, m1.m]), first: ms };
  }
  const [r1, r2] = r;
  const s2 = ns.tOfLambda(lamS + r2 * h);
  const S2 = at(s2);
  const p12 = Math.expm1(sign * r2 * h);
  // phi22 = (e^{±r2 h} − 1)/(r2 h) ± 1 ; ++: +(r2/r1)·alpha·phi22·(m1 − m_s), noise: −(r2/r1)·sigma·phi22·(…)
  const phi22 = plusPlus ? p12 / (r2 * h) + 1 : p12 / (r2 * h) - 1;
  const e2 = (plusPlus ? 1 : -1) * (r2 / r1) * S2.c * phi22;
  const x2 = combine([S2.ratio, -S2.c * p12 - e2, e2], [x, ms.m, m1.m]);
  const m2 = await model(x2, s2);
  const phi2 = plusPlus ? p1 / h + 1 : p1 / h - 1;
  const e = (plusPlus ? 1 : -1) * T.c * phi2 / r2;
  return { x: combine([T.ratio, -T.c * p1 - e, e], [x, ms.m, m2.m]), first: ms };
}

/**
 * DPM-Solver / DPM-Solver++ from x at times[0] down to times[times.length − 1]. Multistep takes the
 * grid's per-step orders (args.orders) in place of its own plan, capped by the history available.
 */
export async function dpmSolver(args: SolveArgs, options: DpmSolverOptions = {}): Promise<Tensor> {
  const { denoiser, schedule: ns, times, hooks } = args;
  const plusPlus = (options.algorithm ?? 'dpmsolver++') === 'dpmsolver++';
  const order = options.order ?? 2;
  const method = options.method ?? 'multistep';
  const steps = times.length - 1;
  checkOrderAndGrid('dpmSolver', order, steps);
  const thresholding = plusPlus ? options.thresholding : undefined;
  const model = modelValues(denoiser, ns, plusPlus, thresholding && ((x0) => dynamicThreshold(x0, thresholding)));
  let x = args.x;

  if (method === 'singlestep') {
    if (args.orders) throw new Error('dpmSolver: singlestep takes its orders from its own options, not from the grid (per-step grid orders are multistep only)');
    const orders = options.orders ?? new Array<number>(steps).fill(order);
    if (orders.length !== steps) throw new Error(`dpmSolver: ${orders.length} orders for ${steps} outer steps`);
    const skipType = options.skipType ?? 'logSNR';
    for (let i = 0; i < steps; i++) {
      throwIfAborted(hooks);
      const [s, t] = [times[i], times[i + 1]];
      const k = ns.sigma(t) === 0 ? 1 : orders[i];
      const r = k > 1 ? singlestepRatios(ns, skipType, s, t, k) : [];
      const res = await singlestepUpdate(model, ns, plusPlus, x, s, t, k, r);
      x = res.x;
      hooks?.onStep?.({ step: i, steps, t, x, denoised: res.first.x0 });
    }
    return x;
  }

  // Multistep: one model call at times[0], then one after every step but the last (NFE = steps).
  const orders = stepOrders('dpmSolver', multistepOrders(steps, order, options.lowerOrderFinal ?? true), args.orders);
  // Model values kept for the steps to come: the highest order any step uses.
  const history = Math.max(order, ...orders);
  const prev: ModelValue[] = [await model(x, times[0])];
  for (let i = 1; i <= steps; i++) {
    throwIfAborted(hooks);
    const t = times[i];
    // A step to sigma = 0 (k-diffusion-style grids) has h = ∞: higher orders extrapolate in lambda to
    // infinity, so the last step there is first order, which lands exactly on the x0 prediction.
    const k = ns.sigma(t) === 0 ? 1 : orders[i - 1];
    const used = prev[prev.length - 1];
    x = k === 1 && ns.sigma(t) === 0 ? combine([ns.alpha(t)], [used.x0]) : multistepUpdate(ns, plusPlus, x, prev, t, k);
    if (i < steps) {
      prev.push(await model(x, t));
      if (prev.length > history) prev.shift();
    }
    hooks?.onStep?.({ step: i - 1, steps, t, x, denoised: used.x0, order: k });
  }
  return x;
}
