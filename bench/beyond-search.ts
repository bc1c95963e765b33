/**
 * Searched schedules against the official grids: error vs NFE on the benchmark's D = 16 mixture (SD
 * scaled_linear schedule, float64), UniPC-bh2 and DPM-Solver++ 2M, each on its official logSNR and
 * time-uniform grids and on a grid SearchSchedule found for that budget.
 *
 * The search fits on its own training noises (Philox keys from SEARCH_SEED on, far from the benchmark's)
 * against its DPM-Solver++ 3M reference; every error below is measured afterwards on the benchmark's
 * own 128 noises against the exact ODE solution (accuracy.ts), which the search never saw.
 *
 *   tsx --conditions=@diffgraph/source bench/beyond-search.ts     prints the table
 */
import { pathToFileURL } from 'node:url';
import { batchNorms, combine, Tensor } from '../packages/engine/src/tensor.ts';
import type { Solver } from '../packages/nodes/src/contracts/sampling.ts';
import { basicGuider } from '../packages/nodes/src/guiders/basic-guider.ts';
import { GaussianMixture } from '../packages/nodes/src/models/gmm.ts';
import { gaussianMixtureModel } from '../packages/nodes/src/models/gmm-node.ts';
import { randomNormal } from '../packages/nodes/src/noise/philox.ts';
import { exactProbabilityFlow } from '../packages/nodes/src/sampling/exact-ode.ts';
import { DiscreteVPSchedule } from '../packages/nodes/src/schedules/noise-schedules.ts';
import { buildGrid } from '../packages/nodes/src/schedules/schedule-node.ts';
import { searchSchedule, type ScheduleSearchSettings } from '../packages/nodes/src/search/schedule-search.ts';
import { makeSolver, type SolverKind } from '../packages/nodes/src/solvers/catalog.ts';
import { meanL2, ODE_TOL } from './accuracy.ts';
import { DEFAULT_SETTINGS } from './configs.ts';
import { benchModel } from './model.ts';

export const SEARCH_NFES = [4, 5, 6, 8, 10, 15, 20];
/** The benchmark's start noises (run.ts): the held-out set here. */
const HELD_OUT = { batch: 128, seed: 2024 };
const SEARCH_SEED = 1_000_000;

export const SEARCH_SETTINGS: Omit<ScheduleSearchSettings, 'budget'> = {
  noises: 256,
  heldOut: 128,
  seed: SEARCH_SEED,
  population: 20,
  generations: 10,
  refineEvaluations: 600,
  restarts: 4,
  referenceSteps: 400,
  startScale: 'auto',
};

export interface SearchRow {
  method: string;
  nfe: number;
  /** Mean per-sample L2 distance to the exact ODE solution on the 128 benchmark noises. */
  error: number;
  /** The median of the same distances (a few samples near a mode boundary can dominate the mean). */
  medianError: number;
  /** Model calls the search spent (each on a batch of its training or held-out noises), reference included; 0 for official grids. */
  searchCalls: number;
  searchSeconds: number;
  /** The search's own measure on its held-out noises, against its reference (searched rows only). */
  searchHeldOut?: { start: number; searched: number };
  times?: number[];
}

const SOLVERS: { label: string; kind: SolverKind; order: 2 }[] = [
  { label: 'UniPC bh2 o2', kind: 'unipc', order: 2 },
  { label: 'DPM-Solver++ 2M', kind: 'dpmsolver++', order: 2 },
];

/**
 * The benchmark's mixture, guider and held-out noises, and `measure`: the mean and median L2 distance of
 * a solve from t = 1 to 1/1000 (with a grid's per-step orders, if given) to the exact ODE solution.
 */
export function searchBench() {
  const gmm = new GaussianMixture(benchModel());
  const schedule = DiscreteVPSchedule.fromBetas('scaled_linear');
  const guider = basicGuider(gaussianMixtureModel(gmm, schedule, 'float64'));
  const x = randomNormal([HELD_OUT.batch, gmm.D], HELD_OUT.seed, 'float64');
  // Every grid here runs from t = 1 to 1/1000, so one exact solve serves all of them.
  const exact = exactProbabilityFlow(gmm, schedule, x, schedule.tMax, schedule.tMin, ODE_TOL);
  const measure = async (solver: Solver, times: readonly number[], spacing: string, orders?: readonly number[]) => {
    const out = await solver.solve({ denoiser: guider.denoise, schedule, x, times, spacing, orders });
    const distances = Array.from(batchNorms(combine([1, -1], [out, exact]))).sort((a, b) => a - b);
    return { error: meanL2(out, exact), medianError: distances[Math.floor(distances.length / 2)] };
  };
  return { gmm, schedule, guider, measure };
}

export async function runBeyondSearch(log: (line: string) => void = () => {}, nfes: readonly number[] = SEARCH_NFES): Promise<SearchRow[]> {
  const { gmm, schedule, guider, measure } = searchBench();

  const rows: SearchRow[] = [];
  for (const s of SOLVERS) {
    const solver: Solver = { kind: s.kind, solve: makeSolver(s.kind, { ...DEFAULT_SETTINGS, order: s.order }) };
    for (const nfe of nfes) {
      for (const spacing of ['logSNR', 'time_uniform'] as const) {
        const { times } = buildGrid(schedule, { spacing, steps: nfe, denoise: 1, rho: 7 });
        rows.push({ method: `${s.label}, ${spacing}`, nfe, ...(await measure(solver, times, spacing)), searchCalls: 0, searchSeconds: 0 });
      }
      const start = buildGrid(schedule, { spacing: 'logSNR', steps: nfe, denoise: 1, rho: 7 });
      const { grid, report } = await searchSchedule({ ...SEARCH_SETTINGS, budget: nfe, guider, solver, start, latent: Tensor.zeros([1, gmm.D], 'float64') });
      rows.push({
        method: `${s.label}, searched`, nfe: report.nfe, ...(await measure(solver, grid.times, grid.spacing)),
        searchCalls: report.cost.modelCalls.total, searchSeconds: report.cost.seconds, searchHeldOut: report.error.heldOut, times: grid.times.map((t) => +t.toPrecision(6)),
      });
      log(formatRow(rows[rows.length - 1]));
    }
  }
  const ddim = { kind: 'ddim' as const, solve: makeSolver('ddim', DEFAULT_SETTINGS) };
  const ddim80 = buildGrid(schedule, { spacing: 'logSNR', steps: 80, denoise: 1, rho: 7 });
  rows.push({ method: 'DDIM, logSNR (quality reference)', nfe: 80, ...(await measure(ddim, ddim80.times, 'logSNR')), searchCalls: 0, searchSeconds: 0 });
  return rows;
}

function formatRow(r: SearchRow): string {
  const cost = r.searchCalls > 0 ? `${r.searchCalls} calls, ${r.searchSeconds.toFixed(1)} s` : '';
  return `| ${r.method} | ${r.nfe} | ${r.error.toFixed(4)} | ${r.medianError.toFixed(4)} | ${cost} |`;
}

export function searchTable(rows: readonly SearchRow[]): string {
  return ['| method | NFE | mean L2 error | median | search cost |', '|---|---:|---:|---:|---|', ...[...rows].sort((a, b) => a.nfe - b.nfe || a.method.localeCompare(b.method)).map(formatRow)].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const started = performance.now();
  const rows = await runBeyondSearch((line) => console.error(line));
  console.log(searchTable(rows));
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s; errors on the benchmark's 128 noises against the exact ODE solution)`);
}
