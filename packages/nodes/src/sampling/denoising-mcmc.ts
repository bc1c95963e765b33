/**
 * Denoising MCMC (Kim & Ye 2022, the Langevin–Gibbs variant of their demo): a Markov chain over
 * (x, sigma) whose states are noisy samples with an estimated noise level, each turned into a data
 * sample by an ODE solve from its own level — far below the schedule's start, so the solve is short.
 *
 * In VE variables (u = x/alpha, sigma = e^(−lambda)), with D(u, sigma) the model's x0 prediction:
 *   Langevin:  u ← u + (eta/2)·sigma²·score + sigma·sqrt(eta)·z = u + (eta/2)·(D(u, sigma) − u) + sigma·sqrt(eta)·z
 *   Gibbs:     sigma ← a level for u (noise-level.ts: the exact posterior draw, or the residual estimate)
 * The step is eta·sigma² (the annealed-Langevin convention), where the demo uses an absolute step;
 * relative to sigma² it keeps every level's update stable with one setting.
 *
 * One node run: B chains (the latent's batch). Each starts from a plain sample (the solver on the
 * whole grid) plus `initSigma` of noise, takes `burnIn` iterations, then yields `rounds` batches: each
 * round runs `skp` iterations, keeps each chain's lowest-level state seen (the round's start included),
 * and solves the ODE from it on the grid's times below that level. Output item r·B + b is chain b's
 * sample of round r. The chain persists across rounds, so its start-up cost is shared by them all.
 *
 * Per-sample levels: a model call takes one time for its whole batch, so every Langevin step, residual
 * probe and ODE tail groups the rows that share a level into one call (levels are a fixed grid, so
 * there are at most `levels` groups). Cost is counted per sample: a call on m rows adds m evaluations.
 */
import { Tensor, throttledYield } from '@diffgraph/engine';
import type { Guider, NoiseGenerator, Solver, TimeGrid } from '../contracts/sampling.ts';
import { startState } from '../contracts/start-state.ts';
import { segmentOrders } from '../schedules/grids.ts';
import type { GaussianMixture } from '../models/gmm.ts';
import { normalCdf } from '../noise/normal-cdf.ts';
import { exactMixtureLevel, residualEnergyLevel, type ChainLevels, type LevelDenoiser, type NoiseLevelEstimator } from './noise-level.ts';

export interface DenoisingMcmcRequest {
  guider: Guider;
  solver: Solver;
  /** The ODE grid: the initial sample runs on all of it, each output on its times below the chain's level. */
  grid: TimeGrid;
  /** B chains. */
  latent: Tensor;
  noise: NoiseGenerator;
  levels: ChainLevels;
  /** 'exact' needs `mixture`: the analytic mixture's posterior over the levels. */
  estimator: 'exact' | 'residual';
  mixture?: GaussianMixture;
  /** Langevin step as a fraction of sigma². */
  eta: number;
  /** Langevin–Gibbs iterations per round. */
  skp: number;
  burnIn: number;
  rounds: number;
  /** VE noise added to the initial sample before the chain starts. */
  initSigma: number;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface DenoisingMcmcResult {
  /** [rounds·B, …] in the model's space at the grid's last time. */
  samples: Tensor;
  /** The VE level each output was solved from, [rounds·B]. */
  startSigmas: Tensor;
  /** Model evaluations per output sample: every call's rows, over rounds·B. */
  evaluationsPerSample: number;
  /** Batched model calls in all. */
  calls: number;
}

const rowsOf = (x: Tensor, rows: readonly number[]): Tensor => {
  const per = x.size / x.batch;
  const out = Tensor.zeros([rows.length, ...x.shape.slice(1)], x.dtype);
  rows.forEach((r, i) => out.data.set(x.data.subarray(r * per, (r + 1) * per), i * per));
  return out;
};

const setRows = (x: Tensor, rows: readonly number[], values: Tensor, scale = 1): void => {
  const per = x.size / x.batch;
  rows.forEach((r, i) => {
    for (let k = 0; k < per; k++) x.data[r * per + k] = scale * values.data[i * per + k];
  });
};

/** Row indices by level (negative levels left out), in increasing level order. */
function groupsByLevel(level: Int32Array): [number, number[]][] {
  const groups = new Map<number, number[]>();
  level.forEach((j, b) => {
    if (j >= 0) (groups.get(j) ?? groups.set(j, []).get(j)!).push(b);
  });
  return [...groups.entries()].sort((a, b) => a[0] - b[0]);
}

export async function denoisingMcmc(r: DenoisingMcmcRequest): Promise<DenoisingMcmcResult> {
  const { guider, solver, grid, levels, noise } = r;
  const schedule = guider.schedule;
  const chains = r.latent.batch;
  const per = r.latent.size / chains;
  if (!(r.eta > 0 && r.eta <= 2)) throw new RangeError(`eta must be in (0, 2], got ${r.eta}`);
  const lastTime = grid.times[grid.times.length - 1];
  if (!(levels.times[0] > lastTime)) throw new RangeError(`the lowest chain level (sigma ${levels.sigmas[0]}) must lie above the grid's last time ${lastTime}`);

  let evaluations = 0;
  let calls = 0;
  const letEventsIn = throttledYield();
  const denoise = async (x: Tensor, t: number) => {
    await letEventsIn();
    r.signal?.throwIfAborted();
    evaluations += x.batch;
    calls++;
    return guider.denoise(x, t);
  };
  let nextStream = 1;
  const takeStreams = (count: number) => ((nextStream += count), nextStream - count);
  const normals = (like: Tensor) => noise.sample(like, takeStreams(1));
  const uniformTemplate = Tensor.zeros([chains, 1], 'float64');
  const uniforms = () => Float64Array.from(normals(uniformTemplate).data, normalCdf);

  const denoiseAt: LevelDenoiser = async (u, level) => {
    const out = u.clone();
    for (const [j, rows] of groupsByLevel(level)) {
      const t = levels.times[j];
      const alpha = schedule.alpha(t);
      const x = rowsOf(u, rows);
      for (let i = 0; i < x.size; i++) x.data[i] *= alpha;
      setRows(out, rows, await denoise(x, t));
    }
    return out;
  };
  const estimate: NoiseLevelEstimator = r.estimator === 'exact'
    ? exactMixtureLevel(requireMixture(r.mixture), levels)
    : residualEnergyLevel(denoiseAt, levels);

  /** A solve on some rows, with stochastic solvers' noise drawn for the whole batch and cut to those rows. */
  const solveRows = (x: Tensor, rows: readonly number[], times: readonly number[]) => {
    const base = takeStreams(times.length);
    return solver.solve({
      denoiser: denoise, schedule, x, times, spacing: grid.spacing, lcm: grid.lcm,
      // A sub-grid [t, later grid times] runs the orders of the grid's last intervals.
      orders: segmentOrders(grid, grid.times.length - times.length, grid.times.length - 1),
      noise: (_like, step) => rowsOf(noise.sample(r.latent, base + step), rows),
      hooks: { signal: r.signal },
    });
  };

  const total = 1 + r.burnIn + r.rounds * (r.skp + 1);
  let done = 0;
  const tick = () => r.onProgress?.(++done, total);

  // Start: a plain sample, plus initSigma of noise, in VE terms.
  const all = Array.from({ length: chains }, (_, b) => b);
  const start = startState({ guider, solver, grid, latent: r.latent, noise, addNoise: true, startScale: 'auto' });
  const initial = await solveRows(start, all, grid.times);
  const alphaEnd = schedule.alpha(lastTime);
  const z0 = normals(r.latent);
  let u = r.latent.zerosLike();
  for (let i = 0; i < u.size; i++) u.data[i] = initial.data[i] / alphaEnd + r.initSigma * z0.data[i];
  let level = await estimate(u, uniforms());
  tick();

  const iterate = async () => {
    const denoised = await denoiseAt(u, level);
    const z = normals(r.latent);
    const next = u.zerosLike();
    for (let b = 0; b < chains; b++) {
      const kick = levels.sigmas[level[b]] * Math.sqrt(r.eta);
      for (let i = b * per; i < (b + 1) * per; i++) next.data[i] = u.data[i] + 0.5 * r.eta * (denoised.data[i] - u.data[i]) + kick * z.data[i];
    }
    u = next;
    level = await estimate(u, uniforms());
    tick();
  };

  for (let i = 0; i < r.burnIn; i++) await iterate();
  const samples = Tensor.zeros([r.rounds * chains, ...r.latent.shape.slice(1)], r.latent.dtype);
  const startSigmas = Tensor.zeros([r.rounds * chains], 'float64');
  for (let round = 0; round < r.rounds; round++) {
    const best = u.clone();
    const bestLevel = level.slice();
    for (let i = 0; i < r.skp; i++) {
      await iterate();
      for (let b = 0; b < chains; b++) {
        if (level[b] >= bestLevel[b]) continue;
        bestLevel[b] = level[b];
        best.data.set(u.data.subarray(b * per, (b + 1) * per), b * per);
      }
    }
    const out = Tensor.zeros(r.latent.shape, r.latent.dtype);
    for (const [j, rows] of groupsByLevel(bestLevel)) {
      const t = levels.times[j];
      const x = rowsOf(best, rows);
      const alpha = schedule.alpha(t);
      for (let i = 0; i < x.size; i++) x.data[i] *= alpha;
      setRows(out, rows, await solveRows(x, rows, [t, ...grid.times.filter((s) => s < t * (1 - 1e-12))]));
    }
    samples.data.set(out.data, round * chains * per);
    bestLevel.forEach((j, b) => (startSigmas.data[round * chains + b] = levels.sigmas[j]));
    tick();
  }
  return { samples, startSigmas, evaluationsPerSample: evaluations / (r.rounds * chains), calls };
}

function requireMixture(mixture: GaussianMixture | undefined): GaussianMixture {
  if (!mixture) throw new Error('the exact noise-level estimator needs the analytic mixture (a GaussianMixtureModel)');
  return mixture;
}
