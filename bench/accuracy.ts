/**
 * Error sweep: every deterministic solver on the D = 16 analytic mixture, float64, a batch of start
 * noises, against the exact probability-flow ODE solution from its own grid's first time to its last.
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import { GaussianMixture, makeGmmDenoiser } from '../packages/nodes/src/models/gmm.ts';
import type { Denoiser, NoiseSchedule } from '../packages/nodes/src/contracts/sampling.ts';
import { exactProbabilityFlow } from '../packages/nodes/src/sampling/exact-ode.ts';
import { buildGrid } from '../packages/nodes/src/schedules/schedule-node.ts';
import { makeSolver } from '../packages/nodes/src/solvers/catalog.ts';
import { type BenchConfig, NFE_BUDGETS, SWEEP_CONFIGS, stepsForBudget } from './configs.ts';

export const ODE_TOL = { rtol: 1e-12, atol: 1e-12 };

export interface SweepPoint {
  budget: number;
  steps: number;
  nfe: number;
  /** Mean over the batch of the per-sample L2 distance to the exact ODE solution. */
  error: number;
  /** k-diffusion only: the same against the "exact ODE to sigma_min, then D(x, sigma_min)" limit. */
  errorVsLimit?: number;
}

export interface SweepResult {
  config: BenchConfig;
  points: SweepPoint[];
  failure?: string;
}

export interface AccuracyResult {
  sweeps: SweepResult[];
  ddim100: { logSNR: SweepPoint; timeUniform: SweepPoint };
  /** Mean L2 distance between the karras limit (sigma_min then denoise) and the exact sigma = 0 solution. */
  karrasFloor: number;
  exactSolves: number;
  seconds: { exact: number; solvers: number };
}

export function meanL2(a: Tensor, b: Tensor): number {
  const batch = a.batch, per = a.size / batch;
  let total = 0;
  for (let i = 0; i < batch; i++) {
    let s = 0;
    for (let j = i * per; j < (i + 1) * per; j++) s += (a.data[j] - b.data[j]) ** 2;
    total += Math.sqrt(s);
  }
  return total / batch;
}

function scaled(x: Tensor, a: number): Tensor {
  return Tensor.from(x.shape, x.data.map((v) => a * v), x.dtype);
}

export async function runAccuracy(gmm: GaussianMixture, schedule: NoiseSchedule, noise: Tensor, log: (s: string) => void): Promise<AccuracyResult> {
  const base = makeGmmDenoiser(gmm, schedule);
  let calls = 0;
  const counting: Denoiser = (x, t) => {
    calls++;
    return base(x, t);
  };

  let exactSeconds = 0, exactSolves = 0;
  const exactCache = new Map<string, Tensor>();
  const exact = (x: Tensor, key: string, t0: number, t1: number): Tensor => {
    const k = `${key}|${t0}|${t1}`;
    let hit = exactCache.get(k);
    if (!hit) {
      const start = performance.now();
      hit = exactProbabilityFlow(gmm, schedule, x, t0, t1, ODE_TOL);
      exactSeconds += (performance.now() - start) / 1000;
      exactSolves++;
      exactCache.set(k, hit);
    }
    return hit;
  };

  // Start states: the DPM-Solver/diffusers VP convention x = noise for the logSNR grids; k-diffusion's
  // x = sigma_ve,max·noise (in VE), i.e. alpha(t0)·sigma_ve(t0)·noise = sigma(t0)·noise in VP terms.
  const startFor = (family: BenchConfig['family'], t0: number): Tensor =>
    family === 'exponential' ? noise : scaled(noise, schedule.sigma(t0));

  // The limit every k-diffusion sampler ending in an Euler step converges to (packages/nodes/test/data/refs/README.md §7):
  // exact ODE from t0 to the time of sigma_min, then one exact denoise there.
  const karrasLimit = (times: readonly number[]): Tensor => {
    const t0 = times[0], tMinK = times[times.length - 2];
    const k = `limit|${t0}|${tMinK}`;
    let hit = exactCache.get(k);
    if (!hit) {
      const xMin = exact(startFor('kdiffusion', t0), 'kdiffusion', t0, tMinK);
      hit = gmm.x0(xMin, schedule.alpha(tMinK), schedule.sigma(tMinK));
      exactCache.set(k, hit);
    }
    return hit;
  };

  let solverSeconds = 0;
  const runOne = async (c: BenchConfig, budget: number, steps: number, spacing: 'logSNR' | 'karras' | 'time_uniform'): Promise<SweepPoint> => {
    const { times } = buildGrid(schedule, { spacing, steps, denoise: 1, rho: 7 });
    const x = startFor(c.family, times[0]);
    const solve = makeSolver(c.kind, c.settings);
    calls = 0;
    const start = performance.now();
    const out = await solve({ denoiser: counting, schedule, x, times, spacing });
    solverSeconds += (performance.now() - start) / 1000;
    const nfe = calls;
    const ref = exact(x, c.family, times[0], times[times.length - 1]);
    const point: SweepPoint = { budget, steps, nfe, error: meanL2(out, ref) };
    if (c.family === 'kdiffusion' && times[times.length - 1] === 0) point.errorVsLimit = meanL2(out, karrasLimit(times));
    if (!Number.isFinite(point.error)) throw new Error(`non-finite error at ${steps} steps`);
    return point;
  };

  const sweeps: SweepResult[] = [];
  for (const c of SWEEP_CONFIGS) {
    const result: SweepResult = { config: c, points: [] };
    try {
      for (const budget of NFE_BUDGETS) {
        result.points.push(await runOne(c, budget, stepsForBudget(c, budget), c.family === 'exponential' ? 'logSNR' : 'karras'));
      }
      log(`  ${c.label.padEnd(34)} ${result.points.map((p) => `${p.nfe}:${p.error.toExponential(2)}`).join('  ')}`);
    } catch (e) {
      result.failure = e instanceof Error ? e.message : String(e);
      log(`  ${c.label.padEnd(34)} FAILED: ${result.failure}`);
    }
    sweeps.push(result);
  }

  const ddimConfig = SWEEP_CONFIGS.find((c) => c.kind === 'ddim')!;
  const ddim100 = {
    logSNR: await runOne(ddimConfig, 100, 100, 'logSNR'),
    timeUniform: await runOne(ddimConfig, 100, 100, 'time_uniform'),
  };

  const karrasTimes = buildGrid(schedule, { spacing: 'karras', steps: 10, denoise: 1, rho: 7 }).times;
  const karrasFloor = meanL2(karrasLimit(karrasTimes), exact(startFor('kdiffusion', karrasTimes[0]), 'kdiffusion', karrasTimes[0], 0));

  return { sweeps, ddim100, karrasFloor, exactSolves, seconds: { exact: exactSeconds, solvers: solverSeconds } };
}

/**
 * The NFE at which a solver's error first reaches `target`, interpolated linearly in (log NFE, log error)
 * between the two sweep points that bracket the first crossing. null when no sweep point reaches it.
 */
export function nfeToReach(points: readonly SweepPoint[], target: number): { nfe: number; atFirstPoint: boolean } | null {
  const sorted = [...points].sort((a, b) => a.nfe - b.nfe);
  for (let i = 0; i < sorted.length; i++) {
    if (sorted[i].error > target) continue;
    if (i === 0) return { nfe: sorted[0].nfe, atFirstPoint: true };
    const [a, b] = [sorted[i - 1], sorted[i]];
    const f = (Math.log(target) - Math.log(a.error)) / (Math.log(b.error) - Math.log(a.error));
    return { nfe: Math.exp(Math.log(a.nfe) + f * (Math.log(b.nfe) - Math.log(a.nfe))), atFirstPoint: false };
  }
  return null;
}
