/**
 * Estimates DPM-Solver-v3's empirical model statistics (contracts/model-statistics.ts) of any model from
 * forward calls only (an ONNX model has no autograd):
 *
 * - N start noises are carried along the probability-flow ODE on a uniform log-SNR grid of M + 1 points
 *   (DPM-Solver++ multistep, order 3, on that grid: one model call per point), so the states at each
 *   point are samples of the model's own marginal there.
 * - l: the mean Jacobian diagonal of N(x) = sigma·eps = x − alpha·x0(x), by Hutchinson's estimator
 *   diag J ≈ E[v ⊙ J·v] with R Rademacher probes v per sample, J·v by a central (or forward) difference
 *   of the model. The probes are the same at every grid point, so the estimate's noise varies smoothly
 *   along a trajectory instead of jumping between neighbouring points (which the finite differences of
 *   f below would amplify). The probe states ride in the same model call as the trajectory states.
 * - f = (N − l·x)/alpha at every point, and df/dlambda along each trajectory by central differences
 *   between neighbouring grid points (second-order one-sided ones at the ends).
 * - s, b: per dimension, the least-squares fit df/dlambda ≈ s·f + b over the N samples:
 *   s = cov(f', f)/(var(f) + kappa), b = mean(f') − s·mean(f). The tiny ridge kappa = 1e-8·mean((x/alpha)²)
 *   keeps s at 0 where f does not vary (e.g. Gaussian data, where f ≡ 0 and only rounding is left).
 *
 * Memory stays at three grid points of f at a time: the fit's sums are accumulated as the trajectories go.
 */
import { Tensor, type DType } from '@diffgraph/engine';
import type { ModelStatistics } from '../contracts/model-statistics.ts';
import type { Denoiser, NoiseSchedule } from '../contracts/sampling.ts';
import { randomNormal } from '../noise/philox.ts';
import { dpmSolverTimeGrid } from '../schedules/grids.ts';
import { dpmSolver } from './dpm-solver.ts';

export type JacobianDifference = 'central' | 'forward';

export interface EmsEstimateOptions {
  /** Shape of one sample. */
  sampleShape: readonly number[];
  /** The dtype states are handed to the model in. */
  dtype: DType;
  /** N: trajectories (K in the paper). */
  samples: number;
  /** M: grid intervals (M + 1 points, M >= 2). */
  steps: number;
  /** R: Rademacher probes per sample and grid point for the Jacobian diagonal. */
  probes: number;
  difference: JacobianDifference;
  /** Start noises are item keys seed … seed + N − 1 of the Philox generator (stream 0); probes stream 1. */
  seed: number;
  /** Grid ends (default the schedule's tMax and tMin). */
  tStart?: number;
  tEnd?: number;
  signal?: AbortSignal;
  /** After each grid point: points done, of M + 1. */
  onProgress?: (done: number, total: number) => void;
}

export interface EmsEstimate {
  statistics: ModelStatistics;
  cost: { modelCalls: number; sampleEvaluations: number; seconds: number };
}

/** Relative probe step: the forward difference's truncation vs the rounding of the model's dtype. */
const PROBE_STEP: Record<DType, number> = { float64: 1e-5, float32: 1e-3 };

export async function estimateModelStatistics(denoiser: Denoiser, schedule: NoiseSchedule, o: EmsEstimateOptions): Promise<EmsEstimate> {
  const started = performance.now();
  const { samples: N, steps: M, probes: R } = o;
  if (!(Number.isInteger(N) && N >= 2)) throw new Error(`statistics: samples must be an integer >= 2, got ${N}`);
  if (!(Number.isInteger(M) && M >= 2)) throw new Error(`statistics: steps must be an integer >= 2, got ${M}`);
  if (!(Number.isInteger(R) && R >= 1)) throw new Error(`statistics: probes must be an integer >= 1, got ${R}`);
  const D = o.sampleShape.reduce((a, b) => a * b, 1);
  const times = dpmSolverTimeGrid(schedule, 'logSNR', M, o.tStart ?? schedule.tMax, o.tEnd ?? schedule.tMin);
  const lambdas = times.map((t) => schedule.lambda(t));
  const H = (lambdas[M] - lambdas[0]) / M;
  const sides = o.difference === 'central' ? 2 : 1;

  // Start at the marginal's scale for unit-variance data: sqrt(alpha² + sigma²) (1 on VP schedules).
  const a0 = schedule.alpha(times[0]), s0 = schedule.sigma(times[0]);
  const start = randomNormal([N, ...o.sampleShape], o.seed, o.dtype, 0);
  const startScale = Math.sqrt(a0 * a0 + s0 * s0);
  for (let i = 0; i < start.size; i++) start.data[i] *= startScale;
  const probeSigns = randomNormal([N * R, D], o.seed, 'float64', 1).data.map((v) => (v >= 0 ? 1 : -1));

  const l = new Float64Array((M + 1) * D);
  const s = new Float64Array((M + 1) * D);
  const b = new Float64Array((M + 1) * D);
  let calls = 0, evaluations = 0;
  // f at the last three grid points (index j mod 3), and the ridge scale of each.
  const fs: Float64Array[] = [new Float64Array(N * D), new Float64Array(N * D), new Float64Array(N * D)];
  const kappas = new Float64Array(M + 1);

  /** Fits s_j, b_j once f' at point j is known. */
  const fit = (j: number, derivative: Float64Array) => {
    const f = fs[j % 3];
    for (let d = 0; d < D; d++) {
      let mf = 0, md = 0;
      for (let n = 0; n < N; n++) {
        mf += f[n * D + d];
        md += derivative[n * D + d];
      }
      mf /= N;
      md /= N;
      let cov = 0, varF = 0;
      for (let n = 0; n < N; n++) {
        const df = f[n * D + d] - mf;
        cov += df * (derivative[n * D + d] - md);
        varF += df * df;
      }
      const slope = cov / N / (varF / N + kappas[j]);
      s[j * D + d] = slope;
      b[j * D + d] = md - slope * mf;
    }
  };
  const derivativeAt = (j: number): Float64Array => {
    const out = new Float64Array(N * D);
    const [w, p] = j === 0 ? [[-3, 4, -1], [0, 1, 2]] : j === M ? [[3, -4, 1], [M, M - 1, M - 2]] : [[-1, 0, 1], [j - 1, j, j + 1]];
    const fa = fs[p[0] % 3], fb = fs[p[1] % 3], fc = fs[p[2] % 3];
    for (let e = 0; e < N * D; e++) out[e] = (w[0] * fa[e] + w[1] * fb[e] + w[2] * fc[e]) / (2 * H);
    return out;
  };

  let point = 0;
  /** Called at each grid point's trajectory states: one model call for them and all their probes. */
  const visit = async (x: Tensor, t: number): Promise<Tensor> => {
    if (o.signal?.aborted) throw o.signal.reason;
    const j = point++;
    if (j > M || Math.abs(t - times[j]) > 1e-12 * Math.max(1, Math.abs(t))) throw new Error(`statistics: internal error, model called at t = ${t}, expected grid point ${j}`);
    const alpha = schedule.alpha(t);
    let meanSquare = 0;
    for (let e = 0; e < x.size; e++) meanSquare += x.data[e] * x.data[e];
    meanSquare /= x.size;
    const delta = PROBE_STEP[o.dtype] * Math.sqrt(meanSquare);
    const batch = Tensor.zeros([N * (1 + sides * R), ...o.sampleShape], o.dtype);
    batch.data.set(x.data, 0);
    for (let side = 0; side < sides; side++) {
      const sign = side === 0 ? 1 : -1;
      for (let r = 0; r < R; r++) {
        for (let n = 0; n < N; n++) {
          const row = (1 + side * R + r) * N + n;
          for (let d = 0; d < D; d++) batch.data[row * D + d] = x.data[n * D + d] + sign * delta * probeSigns[(n * R + r) * D + d];
        }
      }
    }
    const all = await denoiser(batch, t);
    calls++;
    evaluations += batch.batch;
    // v ⊙ J_N v with N = x − alpha·x0 and v ⊙ v = 1: 1 − alpha·v ⊙ (x0(x + δv) − x0(x ∓ …))/(difference).
    const lj = l.subarray(j * D, (j + 1) * D);
    for (let r = 0; r < R; r++) {
      for (let n = 0; n < N; n++) {
        const plus = (1 + r) * N + n;
        const minus = sides === 2 ? (1 + R + r) * N + n : n;
        for (let d = 0; d < D; d++) {
          const diff = (all.data[plus * D + d] - all.data[minus * D + d]) / (sides * delta);
          lj[d] += 1 - alpha * probeSigns[(n * R + r) * D + d] * diff;
        }
      }
    }
    for (let d = 0; d < D; d++) lj[d] /= N * R;
    const f = fs[j % 3];
    let uSquare = 0;
    for (let e = 0; e < N * D; e++) {
      f[e] = ((1 - lj[e % D]) * x.data[e]) / alpha - all.data[e];
      uSquare += (x.data[e] / alpha) ** 2;
    }
    kappas[j] = (1e-8 * uSquare) / (N * D);
    if (j === 2) fit(0, derivativeAt(0));
    if (j >= 2) fit(j - 1, derivativeAt(j - 1));
    if (j === M) fit(M, derivativeAt(M));
    o.onProgress?.(j + 1, M + 1);
    return Tensor.from(x.shape, all.data.subarray(0, x.size), x.dtype);
  };

  const end = await dpmSolver({ denoiser: visit, schedule, x: start, times }, { order: 3, method: 'multistep', lowerOrderFinal: false });
  await visit(end, times[M]);
  const seconds = (performance.now() - started) / 1000;
  return {
    statistics: {
      lambdaStart: lambdas[0], lambdaEnd: lambdas[M], steps: M, size: D, l, s, b,
      info: { samples: N, probes: R, difference: o.difference, seed: o.seed, tStart: times[0], tEnd: times[M], modelCalls: calls, sampleEvaluations: evaluations, seconds },
    },
    cost: { modelCalls: calls, sampleEvaluations: evaluations, seconds },
  };
}
