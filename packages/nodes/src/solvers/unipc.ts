/**
 * UniPC (Zhao et al. 2023): the multistep UniP predictor with the UniC corrector, B(h) variants bh1
 * and bh2, following the official `uni_pc.py` (multistep). See the reference set's
 * README (packages/nodes/test/data/refs/README.md §6).
 *
 * Conventions (the easy ones to get wrong):
 * - Order of step i (1-based, `steps` intervals): warm-up k = i while i < order, then
 *   k = min(order, steps + 1 − i) with lowerOrderFinal (at every step count — unlike DPM-Solver's
 *   `steps < 10` rule), so the last step is always order 1.
 * - The corrector runs on every step except the last. Its model call is made **at the predictor
 *   output** x~_i; that value is both the corrector's m_t and the history value at t_i. The corrected
 *   x_i is never re-evaluated, so NFE = steps.
 * - With the corrector off (the last step, or `useCorrector: false`), a non-final step evaluates the
 *   model at its own result instead.
 * - A grid's per-step orders (SolveArgs.orders) replace the plan's orders, capped by the history (the
 *   corrector of a step has the same order as its predictor); where the corrector runs stays as planned.
 */
import { Tensor, combine } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { checkOrderAndGrid, modelValues, stepOrders, throwIfAborted, type ModelValue } from './exponential-common.ts';

export interface UniPcOptions {
  /** 'bh2' (default) or 'bh1': B(h) = e^{hh} − 1 or B(h) = hh. */
  variant?: 'bh1' | 'bh2';
  /** 'data' (default, x0 model values; built on DPM-Solver++) or 'noise' (eps model values). */
  prediction?: 'data' | 'noise';
  /** 1, 2 or 3 (default 2). */
  order?: 1 | 2 | 3;
  /** Lower the order of the final steps (default true), as the official `lower_order_final`. */
  lowerOrderFinal?: boolean;
  /** Run the UniC corrector (default true; it never runs after the last step). */
  useCorrector?: boolean;
}

/** Solves A·y = b for a small dense system (Gaussian elimination with partial pivoting). */
function solveSmall(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let j = c; j <= n; j++) M[r][j] -= f * M[c][j];
    }
  }
  const y = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let j = r + 1; j < n; j++) s -= M[r][j] * y[j];
    y[r] = s / M[r][r];
  }
  return y;
}

/**
 * Per-step plan of multistep UniPC over `steps` intervals: warm-up orders 1, 2, … while the history is
 * short, then min(order, steps + 1 − i) with lowerOrderFinal (at every step count); the corrector runs
 * on every step but the last.
 */
export function uniPcPlan(
  steps: number,
  order: number,
  lowerOrderFinal = true,
  useCorrector = true,
): { order: number; useCorrector: boolean }[] {
  return Array.from({ length: steps }, (_, j) => {
    const i = j + 1;
    const k = i < order ? i : lowerOrderFinal ? Math.min(order, steps + 1 - i) : order;
    return { order: k, useCorrector: useCorrector && i < steps };
  });
}

/** UniPC from x at times[0] down to times[times.length − 1]; NFE = times.length − 1. */
export async function uniPc(args: SolveArgs, options: UniPcOptions = {}): Promise<Tensor> {
  const { denoiser, schedule: ns, times, hooks } = args;
  const dataPred = (options.prediction ?? 'data') === 'data';
  const bh2 = (options.variant ?? 'bh2') === 'bh2';
  const order = options.order ?? 2;
  const steps = times.length - 1;
  checkOrderAndGrid('uniPc', order, steps);
  const plan = uniPcPlan(steps, order, options.lowerOrderFinal ?? true, options.useCorrector ?? true);
  const orders = stepOrders('uniPc', plan.map((p) => p.order), args.orders);
  // Model values kept for the steps to come: the highest order any step uses.
  const history = Math.max(order, ...orders);
  const model = modelValues(denoiser, ns, dataPred);

  let x = args.x;
  const prev: ModelValue[] = [await model(x, times[0])];
  for (let i = 1; i <= steps; i++) {
    throwIfAborted(hooks);
    const { useCorrector } = plan[i - 1];
    const k = orders[i - 1];
    const t = times[i];

    // --- one UniPC-B(h) step of order k from s to t ---
    const m0 = prev[prev.length - 1];
    const h = ns.lambda(t) - m0.lambda;
    const hh = dataPred ? -h : h;
    const hPhi1 = Math.expm1(hh);
    const B = bh2 ? hPhi1 : hh;
    // r_j < 0 for the older values; D_j = (m_{−j} − m0)/r_j, kept as (coefficient, tensor) pairs.
    const rks: number[] = [];
    const olds: Tensor[] = [];
    for (let j = 1; j < k; j++) {
      const mj = prev[prev.length - 1 - j];
      rks.push((mj.lambda - m0.lambda) / h);
      olds.push(mj.m);
    }
    rks.push(1);
    // b_j = g_j·j!/B with g_1 = h·phi_1(hh)/hh − 1 = (e^{hh}−1)/hh − 1, g_{j+1} = g_j/hh − 1/(j+1)!
    // and R_{j,·} = r^{j−1}: the order conditions of the B(h) family.
    const R: number[][] = [];
    const b: number[] = [];
    let g = hPhi1 / hh - 1;
    let fact = 1;
    for (let j = 1; j <= k; j++) {
      R.push(rks.map((r) => r ** (j - 1)));
      b.push((g * fact) / B);
      fact *= j + 1;
      g = g / hh - 1 / fact;
    }
    // Base (order-1) move and the scale of the corrections: c = alpha_t (data) or sigma_t (noise).
    const ratio = dataPred ? ns.sigma(t) / ns.sigma(m0.t) : Math.exp(ns.logAlpha(t) - ns.logAlpha(m0.t));
    const c = dataPred ? ns.alpha(t) : ns.sigma(t);
    // x_out = ratio·x − c·hPhi1·m0 − c·B·(sum_j rho_j·D_j [+ rho_k·(m_t − m0)])
    const withCorrections = (rho: readonly number[], mt?: Tensor): Tensor => {
      const coeffs = [ratio, -c * hPhi1];
      const terms = [x, m0.m];
      for (let j = 0; j < k - 1; j++) {
        // rho_j·D_j = rho_j/r_j·(m_{−j} − m0)
        const w = (-c * B * rho[j]) / rks[j];
        coeffs.push(w);
        terms.push(olds[j]);
        coeffs[1] -= w;
      }
      if (mt) {
        const w = -c * B * rho[k - 1];
        coeffs.push(w);
        terms.push(mt);
        coeffs[1] -= w;
      }
      return combine(coeffs, terms);
    };
    // Predictor: order 2 uses the fixed rho_p = [1/2]; order 3 solves the leading (k−1)×(k−1) block.
    const rhoP = k === 1 ? [] : k === 2 ? [0.5] : solveSmall(R.slice(0, k - 1).map((row) => row.slice(0, k - 1)), b.slice(0, k - 1));
    const xPred = withCorrections(rhoP);
    let next: ModelValue | undefined;
    if (useCorrector) {
      next = await model(xPred, t);
      const rhoC = k === 1 ? [0.5] : solveSmall(R, b);
      x = withCorrections(rhoC, next.m);
    } else {
      x = xPred;
    }
    if (i < steps) {
      prev.push(next ?? (await model(x, t)));
      if (prev.length > history) prev.shift();
    }
    hooks?.onStep?.({ step: i - 1, steps, t, x, denoised: m0.x0, order: k });
  }
  return x;
}
