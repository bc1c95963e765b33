/**
 * How much SearchSchedule's restarts steady the searched grid: UniPC-bh2 o2 at a budget of K calls,
 * searched with the benchmark's settings from four seeds (each seed moves the training noises and the
 * evolution's choices), with 1 restart and with R; the error is measured on the benchmark's 128 noises
 * against the exact ODE solution, which no search saw.
 *
 *   tsx --conditions=@diffgraph/source bench/search-restarts.ts [K = 10] [R = 4]
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import type { Solver } from '../packages/nodes/src/contracts/sampling.ts';
import { buildGrid } from '../packages/nodes/src/schedules/schedule-node.ts';
import { searchSchedule } from '../packages/nodes/src/search/schedule-search.ts';
import { makeSolver } from '../packages/nodes/src/solvers/catalog.ts';
import { DEFAULT_SETTINGS } from './configs.ts';
import { SEARCH_SETTINGS, searchBench } from './beyond-search.ts';

const { gmm, schedule, guider, measure } = searchBench();
const solver: Solver = { kind: 'unipc', solve: makeSolver('unipc', { ...DEFAULT_SETTINGS, order: 2 }) };
const nfe = Number(process.argv[2] ?? 10);
const many = Number(process.argv[3] ?? 4);
for (const restarts of [1, many]) for (const seedOffset of [0, 1, 2, 3]) {
  const start = buildGrid(schedule, { spacing: 'logSNR', steps: nfe, denoise: 1, rho: 7 });
  const { grid, report } = await searchSchedule({ ...SEARCH_SETTINGS, seed: SEARCH_SETTINGS.seed + seedOffset * 100_000, restarts, budget: nfe, guider, solver, start, latent: Tensor.zeros([1, gmm.D], 'float64') });
  const { error } = await measure(solver, grid.times, grid.spacing);
  console.log(`nfe ${nfe} restarts ${restarts} seed+${seedOffset}: bench ${error.toFixed(5)} train ${report.error.train.searched.toFixed(5)} heldout ${report.error.heldOut.searched.toFixed(5)} runs ${report.restartErrors.map((e) => e.toFixed(5)).join(',')} ${report.cost.seconds.toFixed(1)}s`);
}
