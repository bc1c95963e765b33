import { defineNode } from '@diffgraph/engine';
import { START_SCALES, startsFromNoise } from '../contracts/start-state.ts';
import type { NoiseSchedule, TimeGrid } from '../contracts/sampling.ts';
import { cacheFolder, readCacheEntry, writeCacheEntry } from '../io/cache-files.ts';
import { validateTimeGrid } from '../schedules/grids.ts';
import { searchSchedule, type ScheduleSearchReport, type ScheduleSearchSettings } from './schedule-search.ts';
import { guiderFingerprint, searchKey, solverFingerprint } from './search-fingerprint.ts';

const CACHE_KIND = 'schedule-search';

interface CachedSearch {
  times: number[];
  spacing: string;
  start?: TimeGrid['start'];
  orders?: number[];
  report: ScheduleSearchReport;
}

/** Per-step orders as a searched grid carries them: one of 1–3 per interval. */
function validOrders(orders: unknown, intervals: number): boolean {
  return Array.isArray(orders) && orders.length === intervals && orders.every((k) => k === 1 || k === 2 || k === 3);
}

/**
 * A cache entry as written, with a grid valid on this schedule and orders exactly when they were
 * searched; anything else (a damaged file) is a miss.
 */
function cachedSearch(value: unknown, schedule: NoiseSchedule, searchOrders: boolean): CachedSearch | undefined {
  const v = value as Partial<CachedSearch> | undefined;
  if (typeof v !== 'object' || v === null || !Array.isArray(v.times) || typeof v.spacing !== 'string') return undefined;
  const heldOut = v.report?.error?.heldOut;
  if (typeof heldOut?.start !== 'number' || typeof heldOut.searched !== 'number') return undefined;
  if (searchOrders ? !validOrders(v.orders, v.times.length - 1) : v.orders !== undefined) return undefined;
  try {
    return { ...v, times: validateTimeGrid(v.times, schedule) } as CachedSearch;
  } catch {
    return undefined;
  }
}

export const SearchSchedule = defineNode({
  type: 'SearchSchedule',
  category: 'sampling/schedulers',
  description: 'Searches the time steps for a solver and a budget of model calls: the grid whose solve comes closest to a many-step reference on fixed noises (evolutionary search as AutoDiffusion, then a compass-search refinement; best of several restarts if asked), starting from and keeping the ends of the given grid. Outputs the searched SIGMAS (usable by any solver when only the times are searched) and a report: the search cost and the error on the training noises and on held-out noises, against the start grid. With search_orders it also searches each step\'s order (1–3) for a solver that takes per-step orders (UniPC, multistep DPM-Solver(++)); the grid then carries them, and other solvers refuse it. Results are cached by what they depend on, also on disk when the host has a cache folder.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER', tooltip: 'The denoiser Sample will call' },
    solver: { type: 'SOLVER', tooltip: 'Any deterministic solver; the search fits the grid to it' },
    sigmas: { type: 'SIGMAS', tooltip: 'The start grid: its ends are kept, its shape is the first candidate and the baseline of the report' },
    latent: { type: 'LATENT', tooltip: 'What Sample starts from (an EmptyLatent): its item shape and dtype, and for img2img grids its values' },
    budget: { type: 'INT', default: 10, min: 1, max: 1000, role: 'steps', summary: true, tooltip: 'Model calls one solve may spend (K); the grid gets as many steps as the solver can take for it' },
    noises: { type: 'INT', default: 64, min: 1, max: 4096, role: 'batch', tooltip: 'Fixed training noises (B) the error is measured on' },
    held_out: { type: 'INT', default: 64, min: 1, max: 4096, role: 'batch', tooltip: 'Noises the search never sees, for the report\'s held-out error' },
    seed: { type: 'INT', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, role: 'seed', tooltip: 'Noises (Philox, item i: seed + i; the held-out ones follow the training ones) and the evolution\'s random choices' },
    population: { type: 'INT', default: 20, min: 2, max: 500 },
    generations: { type: 'INT', default: 10, min: 0, max: 1000 },
    refine_evaluations: { type: 'INT', default: 300, min: 0, max: 100_000, tooltip: 'Solves the local refinement may spend after the evolution' },
    restarts: { type: 'INT', default: 1, min: 1, max: 64, tooltip: 'Independent evolution + refinement runs with other random choices; the one with the smallest training error wins (costs that many times the search)' },
    reference_steps: { type: 'INT', default: 400, min: 10, max: 10_000, tooltip: 'Steps of the reference solve (DPM-Solver++ 3M, logSNR grid between the same ends)' },
    start_scale: { type: 'STRING', enum: START_SCALES, default: 'auto', tooltip: 'As Sample\'s: how a full denoise starts from the noise' },
    search_orders: { type: 'BOOLEAN', default: false, tooltip: 'Also search each step\'s solver order in 1–3 (whatever the solver\'s own order), starting from its own plan; the grid then carries the orders, and only solvers that take per-step orders can run it (unipc, multistep dpmsolver++/dpmsolver)' },
    use_cache: { type: 'BOOLEAN', default: true, tooltip: 'Read and write the host\'s cache folder (the server\'s <data>/cache, diffgraph run --cache)' },
  },
  outputs: {
    sigmas: { type: 'SIGMAS' },
    report: { type: 'JSON', tooltip: 'Search cost (model calls, seconds) and mean L2 error to the reference on training and held-out noises, start grid vs searched' },
  },
  async run(i, ctx) {
    const settings: ScheduleSearchSettings = {
      budget: i.budget, noises: i.noises, heldOut: i.held_out, seed: i.seed, population: i.population, generations: i.generations,
      refineEvaluations: i.refine_evaluations, restarts: i.restarts, referenceSteps: i.reference_steps, startScale: i.start_scale,
      searchOrders: i.search_orders,
    };
    const cache = i.use_cache ? cacheFolder(ctx) : undefined;
    let key: string | undefined;
    if (cache) {
      const schedule = i.guider.schedule;
      const [guider, solver] = [await guiderFingerprint(i.guider, i.latent.shape.slice(1), i.latent.dtype), await solverFingerprint(i.solver, i.sigmas, schedule, i.latent.shape.slice(1))];
      key = searchKey({ guider, solver, start: i.sigmas, latent: i.latent, settings }, !startsFromNoise(i.start_scale, i.sigmas, schedule.tMax));
      const hit = cachedSearch(readCacheEntry(cache, CACHE_KIND, key), schedule, i.search_orders);
      if (hit) {
        ctx.log(`cached search ${key.slice(0, 12)}: held-out error ${hit.report.error.heldOut.searched.toExponential(3)} (start grid ${hit.report.error.heldOut.start.toExponential(3)})`);
        const sigmas: TimeGrid = { times: hit.times, spacing: hit.spacing, ...(hit.start && { start: hit.start }), ...(hit.orders && { orders: hit.orders }) };
        return { sigmas, report: { ...hit.report, cache: { hit: true, key } } };
      }
    }
    const { grid, report } = await searchSchedule({
      ...settings, guider: i.guider, solver: i.solver, start: i.sigmas, latent: i.latent, signal: ctx.signal,
      onProgress: (done, total) => ctx.progress(done, total),
      log: (message) => ctx.log(message),
    });
    if (cache && key) {
      const entry: CachedSearch = { times: grid.times as number[], spacing: grid.spacing, start: grid.start, orders: grid.orders as number[] | undefined, report };
      try {
        ctx.log(`saved the search to ${writeCacheEntry(cache, CACHE_KIND, key, entry)}`);
      } catch (e) {
        ctx.log(`could not save the search to the cache: ${(e as Error).message}`);
      }
    }
    return { sigmas: grid, report: { ...report, cache: { hit: false, key: key ?? null } } };
  },
});
