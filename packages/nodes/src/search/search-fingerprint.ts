/**
 * What a searched schedule was computed from, as a key for the file cache. A GUIDER or SOLVER socket
 * carries functions, not their settings, so each is identified by what it does:
 * - the guider by its answers at three times on two fixed seeded states (3 model calls), with the
 *   schedule's coefficients there;
 * - the solver by its result on the start grid with a fixed synthetic model (no model calls), which
 *   every option that changes its steps changes, on states of the latent's item shape (a solver may only
 *   take that shape: DPM-Solver-v3 with per-element statistics). Run twice with different step noise,
 *   it also tells a stochastic solver.
 */
import { createHash } from 'node:crypto';
import { canonicalJson, Tensor } from '@diffgraph/engine';
import type { Denoiser, Guider, NoiseSchedule, Solver, TimeGrid } from '../contracts/sampling.ts';
import { seededNoise } from '../noise/seeded-noise.ts';
import type { ScheduleSearchSettings } from './schedule-search.ts';

/** Bump when the search itself changes what it returns for the same inputs. */
export const SEARCH_VERSION = 1;

const sha256 = (h: ReturnType<typeof createHash>) => h.digest('hex');

function hashTensors(hash: ReturnType<typeof createHash>, tensors: readonly Tensor[]): void {
  for (const t of tensors) {
    hash.update(t.shape.join(',') + t.dtype);
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
}

/** Three probe times across the schedule: its start, the log-SNR middle, and its end. */
function probeTimes(schedule: NoiseSchedule): number[] {
  const middle = schedule.tOfLambda((schedule.lambda(schedule.tMax * (1 - 1e-6)) + schedule.lambda(schedule.tMin)) / 2);
  return [schedule.tMax * (1 - 1e-6), middle, schedule.tMin];
}

export async function guiderFingerprint(guider: Guider, itemShape: readonly number[], dtype: Tensor['dtype']): Promise<string> {
  const x = seededNoise(20_240_601, 'philox').sample(Tensor.zeros([2, ...itemShape], dtype), 0);
  const hash = createHash('sha256');
  const schedule = guider.schedule;
  for (const t of probeTimes(schedule)) {
    hash.update(`${schedule.kind} ${t} ${schedule.alpha(t)} ${schedule.sigma(t)}`);
    hashTensors(hash, [await guider.denoise(x, t)]);
  }
  return sha256(hash);
}

/** A smooth non-linear stand-in model, so solvers of different orders or variants give different results. */
const standIn: Denoiser = async (x, t) => Tensor.from(x.shape, x.data.map((v, i) => Math.tanh(v * (1 + t)) * 0.8 + 0.05 * (i % 3)), x.dtype);

/** The solver's identity, or an error when it draws noise (the search fits deterministic solvers). */
export async function solverFingerprint(solver: Solver, grid: TimeGrid, schedule: NoiseSchedule, itemShape: readonly number[]): Promise<string> {
  const times = grid.times;
  const x = seededNoise(7, 'philox').sample(Tensor.zeros([2, ...itemShape], 'float64'), 0);
  const run = (seed: number) => solver.solve({
    denoiser: standIn, schedule, x, times, spacing: grid.spacing,
    noise: (like, step) => seededNoise(seed, 'philox').sample(like, step + 1),
  });
  const [a, b] = [await run(1), await run(2)];
  if (a.data.some((v, i) => v !== b.data[i])) {
    throw new Error(`SearchSchedule: input "solver" ("${solver.kind}") draws noise while it samples; the search fits a deterministic solver to the ODE (use eta = 0 or an ODE solver)`);
  }
  const hash = createHash('sha256');
  hash.update(solver.kind);
  hashTensors(hash, [a]);
  return sha256(hash);
}

export interface SearchKeyParts {
  guider: string;
  solver: string;
  start: TimeGrid;
  latent: Tensor;
  settings: ScheduleSearchSettings;
}

/** The file-cache key: everything the result depends on. The latent's values count only where Sample adds them (img2img). */
export function searchKey(p: SearchKeyParts, latentMatters: boolean): string {
  const latent = createHash('sha256');
  if (latentMatters) hashTensors(latent, [p.latent]);
  return createHash('sha256').update(canonicalJson({
    version: SEARCH_VERSION,
    guider: p.guider,
    solver: p.solver,
    start: { times: p.start.times, spacing: p.start.spacing, start: p.start.start ?? null },
    latent: { shape: p.latent.shape.slice(1), dtype: p.latent.dtype, values: latentMatters ? sha256(latent) : null },
    settings: p.settings,
  })).digest('hex');
}
