/**
 * ComfyUI's KSampler schedulers `normal`, `sgm_uniform`, `simple` and `ddim_uniform` (comfy/samplers.py),
 * as grids of our continuous times, so an imported ComfyUI workflow takes the steps ComfyUI takes.
 *
 * ComfyUI works on a table of N VE sigmas, one per training timestep n (sigma_n at our knot time
 * t = (n + 1)/N), and reads a fractional timestep by interpolating log sigma linearly between its
 * neighbours (ModelSamplingDiscrete.sigma). Each scheduler picks `steps` sigmas from that table and
 * appends 0, so it always has `steps` intervals ending at sigma = 0 — unlike diffusers' `linspace`
 * spacing, whose last timestep is the final time itself and so has one step fewer.
 *
 * For a discrete schedule the table is the schedule's own, so the sigmas are ComfyUI's exactly (in
 * float64). A continuous schedule (flow, linear VP) picks the same timesteps on N = 1000 knots of its time.
 */
import type { NoiseSchedule } from '../contracts/sampling.ts';
import { linspace, veSigmaOf } from './noise-schedules.ts';
import { sigmasToTimes } from './sigma-grids.ts';

export const COMFY_GRIDS = ['comfy_normal', 'comfy_sgm_uniform', 'comfy_simple', 'comfy_ddim_uniform'] as const;
export type ComfyGrid = (typeof COMFY_GRIDS)[number];

const DEFAULT_TABLE_SIZE = 1000;

function tableSize(schedule: NoiseSchedule): number {
  return (schedule as { numTrainTimesteps?: number }).numTrainTimesteps ?? DEFAULT_TABLE_SIZE;
}

/** ComfyUI's sigma table for this schedule: sigma_ve at t = (n + 1)/N for n = 0 … N − 1. */
function sigmaTable(schedule: NoiseSchedule): number[] {
  const n = tableSize(schedule);
  return Array.from({ length: n }, (_, i) => veSigmaOf(schedule, (i + 1) / n));
}

/** ModelSamplingDiscrete.sigma: log sigma interpolated linearly between the neighbouring timesteps. */
function sigmaAtTimestep(table: readonly number[], timestep: number): number {
  const t = Math.min(Math.max(timestep, 0), table.length - 1);
  const [low, high] = [Math.floor(t), Math.ceil(t)];
  const w = t - low;
  return Math.exp((1 - w) * Math.log(table[low]) + w * Math.log(table[high]));
}

const isAboutZero = (sigma: number) => Math.abs(sigma) <= 1e-5;

/**
 * The scheduler's picks as (possibly fractional) timesteps in [0, N − 1], from the top, and whether
 * sigma 0 follows them (it does unless the table itself reaches 0).
 */
function comfyTimesteps(grid: ComfyGrid, steps: number, size: number, reachesZero: (timestep: number) => boolean): { timesteps: number[]; appendZero: boolean } {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`${grid}: steps must be a positive integer, got ${steps}`);
  const last = size - 1;
  switch (grid) {
    case 'comfy_normal':
      // normal_scheduler: from timestep(sigma_max) = N − 1 to timestep(sigma_min) = 0.
      return reachesZero(0) ? { timesteps: linspace(last, 0, steps + 1), appendZero: false } : { timesteps: linspace(last, 0, steps), appendZero: true };
    case 'comfy_sgm_uniform':
      return { timesteps: linspace(last, 0, steps + 1).slice(0, -1), appendZero: true };
    case 'comfy_simple': {
      const stride = size / steps;
      return { timesteps: Array.from({ length: steps }, (_, x) => last - Math.floor(x * stride)), appendZero: true };
    }
    case 'comfy_ddim_uniform': {
      const zeroAtOne = reachesZero(1);
      const stride = Math.max(Math.floor(size / (zeroAtOne ? steps + 1 : steps)), 1);
      const picked: number[] = [];
      for (let x = 1; x < size; x += stride) picked.push(x);
      return { timesteps: picked.reverse(), appendZero: !zeroAtOne };
    }
  }
}

/** The scheduler's VE sigmas on a discrete schedule's own table (ComfyUI's exactly), ending with 0. */
export function comfySigmas(schedule: NoiseSchedule, grid: ComfyGrid, steps: number): number[] {
  const table = sigmaTable(schedule);
  const { timesteps, appendZero } = comfyTimesteps(grid, steps, table.length, (n) => isAboutZero(table[n]));
  const sigmas = timesteps.map((ts) => sigmaAtTimestep(table, ts));
  return appendZero ? [...sigmas, 0] : sigmas;
}

/**
 * The scheduler's grid as our times, ending at t = 0. A discrete schedule goes through ComfyUI's sigma
 * table; a continuous one (flow, linear VP) reads timestep n as t = (n + 1)/N, linear between knots, which
 * is ComfyUI's flow rule (sigma = timestep/N) and a continuous VP schedule's own time.
 */
export function comfyTimes(schedule: NoiseSchedule, grid: ComfyGrid, steps: number): number[] {
  if (schedule.kind === 'discrete') return sigmasToTimes(schedule, comfySigmas(schedule, grid, steps));
  const size = tableSize(schedule);
  const timeOf = (ts: number) => (schedule.tMax * (ts + 1)) / size;
  const { timesteps, appendZero } = comfyTimesteps(grid, steps, size, (n) => isAboutZero(veSigmaOf(schedule, timeOf(n))));
  const times = timesteps.map(timeOf);
  return appendZero ? [...times, 0] : times;
}
