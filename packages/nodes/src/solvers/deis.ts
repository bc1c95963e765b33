/**
 * DEIS (Zhang & Chen 2023), the multistep "AB" family: an exponential integrator whose nonlinear term
 * is replaced by the Lagrange polynomial through the last k model values (Adams–Bashforth), k = 1..3.
 *
 * Exact integral forms of the probability-flow ODE in lambda (h = lambda_t − lambda_s > 0):
 *   noise:  x_t = (alpha_t/alpha_s)·x_s − alpha_t ∫ e^{−λ} eps(λ) dλ
 *              = (alpha_t/alpha_s)·x_s − sigma_t·h ∫_0^1 e^{ h(1−τ)} eps(λ_s + hτ) dτ
 *   data:   x_t = (sigma_t/sigma_s)·x_s + sigma_t ∫ e^{λ} x0(λ) dλ
 *              = (sigma_t/sigma_s)·x_s + alpha_t·h ∫_0^1 e^{−h(1−τ)} x0(λ_s + hτ) dτ
 * and the model value is replaced by sum_j ℓ_j·m_j, so the step is x_t = ratio·x_s ∓ c·sum_j w_j m_j with
 *   w_j = h ∫_0^1 e^{±h(1−τ)} ℓ_j dτ.
 *
 * `basis` chooses the variable the Lagrange basis ℓ_j is built in:
 * - 'lambda' (default; DEIS's log-rho AB): ℓ_j is a polynomial in τ = (λ − λ_s)/h with nodes
 *   τ_j = (λ_{−j} − λ_s)/h, and ∫_0^1 e^{z(1−τ)} τ^n dτ = n!·φ_{n+1}(z) is exact (φ functions below).
 * - 't' (DEIS's tAB): ℓ_j is a polynomial in t with nodes t_{−j}; the weight is integrated numerically
 *   in λ (5-point Gauss–Legendre over the step, t = tOfLambda(λ)).
 * Both have order k on a smooth grid. Model values: eps ('noise', the DEIS paper's form) or x0 ('data').
 * Warm-up uses orders 1, 2, … as history allows; lowerOrderFinal follows multistep DPM-Solver
 * (only for grids with fewer than 10 steps). NFE = steps: one call at times[0], then one per
 * non-final step.
 */
import { Tensor, combine } from '@diffgraph/engine';
import type { NoiseSchedule, SolveArgs } from '../contracts/sampling.ts';
import { checkOrderAndGrid, modelValues, multistepOrders, throwIfAborted } from './exponential-common.ts';

export interface DeisOptions {
  /** 1, 2 or 3 (default 3). */
  order?: 1 | 2 | 3;
  /** The variable of the Lagrange basis: 'lambda' (default, exact weights) or 't' (tAB, quadrature). */
  basis?: 'lambda' | 't';
  /** 'noise' (default; eps model values, as in the DEIS paper) or 'data' (x0 model values). */
  prediction?: 'noise' | 'data';
  /** Lower the final orders on grids with fewer than 10 steps (default true). */
  lowerOrderFinal?: boolean;
}

/**
 * φ_k(z) = ∫_0^1 e^{z(1−τ)} τ^{k−1}/(k−1)! dτ = sum_{m≥0} z^m/(m+k)!. The recursion
 * φ_{k+1} = (φ_k − 1/k!)/z cancels badly for small z, so use the series there.
 */
function phi(k: number, z: number): number {
  if (Math.abs(z) < 1) {
    let term = 1;
    for (let i = 1; i <= k; i++) term /= i; // 1/k!
    let sum = 0;
    for (let m = 0; m < 40 && Math.abs(term) > 1e-18 * Math.abs(sum); m++) {
      sum += term;
      term *= z / (m + k + 1);
    }
    return sum;
  }
  let p = Math.expm1(z) / z;
  let fact = 1;
  for (let j = 1; j < k; j++) {
    fact *= j;
    p = (p - 1 / fact) / z;
  }
  return p;
}

/** Monomial coefficients (ascending) of the Lagrange basis polynomial ℓ_j over `nodes`. */
function lagrangeCoefficients(nodes: readonly number[], j: number): number[] {
  let poly = [1];
  for (let l = 0; l < nodes.length; l++) {
    if (l === j) continue;
    const d = nodes[j] - nodes[l];
    const next = new Array<number>(poly.length + 1).fill(0);
    for (let n = 0; n < poly.length; n++) {
      next[n + 1] += poly[n] / d;
      next[n] -= (poly[n] * nodes[l]) / d;
    }
    poly = next;
  }
  return poly;
}

function lagrangeValue(nodes: readonly number[], j: number, v: number): number {
  let p = 1;
  for (let l = 0; l < nodes.length; l++) if (l !== j) p *= (v - nodes[l]) / (nodes[j] - nodes[l]);
  return p;
}

// 5-point Gauss–Legendre on [0, 1] (exact for degree 9).
const GL_X = (() => {
  const a = Math.sqrt(5 - 2 * Math.sqrt(10 / 7)) / 3;
  const b = Math.sqrt(5 + 2 * Math.sqrt(10 / 7)) / 3;
  return [-b, -a, 0, a, b].map((v) => (v + 1) / 2);
})();
const GL_W = (() => {
  const wa = (322 + 13 * Math.sqrt(70)) / 900;
  const wb = (322 - 13 * Math.sqrt(70)) / 900;
  return [wb, wa, 128 / 225, wa, wb].map((w) => w / 2);
})();

/**
 * w_j = h ∫_0^1 e^{z(1−τ)} ℓ_j dτ with z = h (noise) or −h (data), for history points
 * (t_j, lambda_j), j = 0 the newest (the step's start s).
 */
function deisWeights(
  ns: NoiseSchedule,
  basis: 'lambda' | 't',
  hist: readonly { t: number; lambda: number }[],
  h: number,
  z: number,
): number[] {
  const k = hist.length;
  if (basis === 'lambda') {
    const nodes = hist.map((p) => (p.lambda - hist[0].lambda) / h);
    const phis = Array.from({ length: k }, (_, n) => phi(n + 1, z)); // n!·φ_{n+1} below
    return nodes.map((_, j) => {
      const coef = lagrangeCoefficients(nodes, j);
      let s = 0;
      let fact = 1;
      for (let n = 0; n < k; n++) {
        if (n > 0) fact *= n;
        s += coef[n] * fact * phis[n];
      }
      return h * s;
    });
  }
  // tAB: ℓ_j(t) with t = t(λ_s + hτ), integrated by Gauss–Legendre in τ.
  const nodes = hist.map((p) => p.t);
  const lamS = hist[0].lambda;
  const w = new Array<number>(k).fill(0);
  for (let q = 0; q < GL_X.length; q++) {
    const tau = GL_X[q];
    const tq = ns.tOfLambda(lamS + h * tau);
    const ker = GL_W[q] * Math.exp(z * (1 - tau));
    for (let j = 0; j < k; j++) w[j] += ker * lagrangeValue(nodes, j, tq);
  }
  return w.map((v) => h * v);
}

/** DEIS-AB from x at times[0] down to times[times.length − 1]. */
export async function deis(args: SolveArgs, options: DeisOptions = {}): Promise<Tensor> {
  const { denoiser, schedule: ns, times, hooks } = args;
  const order = options.order ?? 3;
  const basis = options.basis ?? 'lambda';
  const dataPred = options.prediction === 'data';
  const steps = times.length - 1;
  checkOrderAndGrid('deis', order, steps);
  const model = modelValues(denoiser, ns, dataPred);
  const orders = multistepOrders(steps, order, options.lowerOrderFinal ?? true);
  let x = args.x;
  const prev = [await model(x, times[0])]; // newest last
  for (let i = 1; i <= steps; i++) {
    throwIfAborted(hooks);
    const k = orders[i - 1];
    const t = times[i];
    const hist = prev.slice(-k).reverse(); // hist[0] = newest, at s
    const s = hist[0];
    if (ns.sigma(t) === 0) {
      // h = ∞ on a grid that ends at sigma = 0: the exact limit of every order is the x0 prediction.
      x = combine([ns.alpha(t)], [s.x0]);
      hooks?.onStep?.({ step: i - 1, steps, t, x, denoised: s.x0 });
      continue;
    }
    const h = ns.lambda(t) - s.lambda;
    const w = deisWeights(ns, basis, hist, h, dataPred ? -h : h);
    // noise: x_t = (alpha_t/alpha_s)·x − sigma_t·sum w_j eps_j; data: x_t = (sigma_t/sigma_s)·x + alpha_t·sum w_j x0_j
    const ratio = dataPred ? ns.sigma(t) / ns.sigma(s.t) : Math.exp(ns.logAlpha(t) - ns.logAlpha(s.t));
    const c = dataPred ? ns.alpha(t) : -ns.sigma(t);
    x = combine([ratio, ...w.map((wj) => c * wj)], [x, ...hist.map((p) => p.m)]);
    if (i < steps) {
      prev.push(await model(x, t));
      if (prev.length > order) prev.shift();
    }
    hooks?.onStep?.({ step: i - 1, steps, t, x, denoised: s.x0 });
  }
  return x;
}
