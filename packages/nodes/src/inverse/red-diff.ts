/**
 * RED-diff (Mardani et al.; arXiv 2305.04391; RED `algos/reddiff.py`) as a SOLVER: variational
 * inference of the clean image μ, optimised with Adam while t sweeps the grid from T to 0. It is a
 * solver, not a guider, because μ is optimiser state carried across the whole sweep (a guider must
 * answer each (x, t) on its own).
 *
 * Per grid time t (one model call; noise from the sampler's noise source, step i → stream i + 1):
 *   ε ~ N(0, I);  x_t = a·μ + s·ε;  ε̂ = (x_t − a·x̂0(x_t))/s
 *   g = −(v/n_y)·Aᵀ(y − Aμ) + (λ_t/n_x)·(ε̂ − ε),   λ_t = λ·w(s/a)  (SNR weighting, 'linear': w(u) = u)
 *   μ ← Adam(μ, g)
 * n_x, n_y are the values per item (RED's per-item means). μ starts at A⁺y (Aᵀy without a cheap
 * pseudo-inverse) and is the result. Times with a = 0 or s = 0 carry no regulariser and are skipped.
 * Why it is consistent: for a Gaussian prior N(m, τ²I), E[ε̂ − ε] = a·s·(μ − m)/(a²τ² + s²), so the
 * regulariser pulls μ toward the prior and the data term toward A μ = y.
 */
import { Tensor } from '@diffgraph/engine';
import type { SolveArgs, SolverFn } from '../contracts/sampling.ts';
import type { LinearOperator } from '../operators/operator.ts';
import { fitObservation } from '../operators/operator.ts';
import { residual } from './batch-ops.ts';

export const RED_WEIGHTINGS = ['linear', 'sqrt', 'square', 'log', 'clip', 'const'] as const;
export type RedWeighting = (typeof RED_WEIGHTINGS)[number];

export interface RedDiffOptions {
  operator: LinearOperator;
  observation: Tensor;
  /** Regulariser weight λ (RED default 0.25). */
  lambda?: number;
  /** Adam learning rate (RED config 0.1). */
  lr?: number;
  /** Data-term weight v (RED default 1). */
  dataWeight?: number;
  weighting?: RedWeighting;
  betas?: readonly [number, number];
}

export function snrWeight(kind: RedWeighting, u: number): number {
  switch (kind) {
    case 'linear': return u;
    case 'sqrt': return Math.sqrt(u);
    case 'square': return u * u;
    case 'log': return Math.log1p(u);
    case 'clip': return Math.min(1, u);
    case 'const': return 1;
  }
}

export async function redDiff(args: SolveArgs, o: RedDiffOptions): Promise<Tensor> {
  const { denoiser, schedule, times, hooks, noise } = args;
  const lambda = o.lambda ?? 0.25, lr = o.lr ?? 0.1, v = o.dataWeight ?? 1, weighting = o.weighting ?? 'linear';
  const [beta1, beta2] = o.betas ?? [0.9, 0.99];
  if (!noise) throw new Error('RED-diff: needs a noise source (link a RandomNoise to Sample)');
  const A = o.operator;
  const shape = args.x.shape;
  const measured = A.outputShape(shape);
  const y = fitObservation(o.observation, measured, `RED-diff (${A.name})`);
  const yTensor = new Tensor(measured, args.x.dtype === 'float64' ? y : Float32Array.from(y));
  const mu = A.pinv ? A.pinv(yTensor, shape) : A.adjoint(yTensor, shape);
  const nx = mu.size / mu.batch, ny = y.length / mu.batch;
  const m1 = new Float64Array(mu.size), m2 = new Float64Array(mu.size);
  let k = 0;
  const steps = times.length - 1;
  for (let i = 0; i < steps; i++) {
    if (hooks?.signal?.aborted) throw hooks.signal.reason;
    const t = times[i];
    const a = schedule.alpha(t), s = schedule.sigma(t);
    if (!(a > 0 && s > 0)) continue;
    const eps = noise(mu, i);
    const xt = mu.zerosLike();
    for (let j = 0; j < xt.size; j++) xt.data[j] = a * mu.data[j] + s * eps.data[j];
    const x0 = await denoiser(xt, t);
    const dataGrad = A.adjoint(residual(y, A.forward(mu)), shape);
    const lt = lambda * snrWeight(weighting, s / a);
    k++;
    const c1 = 1 - beta1 ** k, c2 = 1 - beta2 ** k;
    for (let j = 0; j < mu.size; j++) {
      const epsHat = (xt.data[j] - a * x0.data[j]) / s;
      const g = -(v / ny) * dataGrad.data[j] + (lt / nx) * (epsHat - eps.data[j]);
      m1[j] = beta1 * m1[j] + (1 - beta1) * g;
      m2[j] = beta2 * m2[j] + (1 - beta2) * g * g;
      mu.data[j] -= (lr * (m1[j] / c1)) / (Math.sqrt(m2[j] / c2) + 1e-8);
    }
    hooks?.onStep?.({ step: i, steps, t, x: xt, denoised: mu });
  }
  return mu;
}

export function redDiffSolver(options: RedDiffOptions): SolverFn {
  return (args) => redDiff(args, options);
}
