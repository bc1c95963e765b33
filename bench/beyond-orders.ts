/**
 * Per-step orders in the schedule search: UniPC-bh2 (order 2) on the benchmark's D = 16 mixture (SD
 * scaled_linear schedule, float64), a grid searched for the times only against one searched for the
 * times and each step's order (SearchSchedule's search_orders), both with beyond-search.ts's settings,
 * for three search seeds (each its own training noises and random choices; the first is beyond-search.ts's).
 * Errors are measured afterwards on the benchmark's own 128 noises against the exact ODE solution, which
 * no search saw.
 *
 *   tsx --conditions=@diffgraph/source bench/beyond-orders.ts     prints the table
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import type { Solver } from '../packages/nodes/src/contracts/sampling.ts';
import { buildGrid } from '../packages/nodes/src/schedules/schedule-node.ts';
import { searchSchedule } from '../packages/nodes/src/search/schedule-search.ts';
import { makeSolver } from '../packages/nodes/src/solvers/catalog.ts';
import { SEARCH_SETTINGS, searchBench } from './beyond-search.ts';
import { DEFAULT_SETTINGS } from './configs.ts';
import { cpuModel } from './machine.ts';

const NFES = [5, 6, 8, 10];
/** Search seeds: beyond-search.ts's, then two more far from it (each search draws 256 + 128 noise keys from its seed). */
const SEEDS = [0, 1, 2].map((k) => SEARCH_SETTINGS.seed + 10_000 * k);

const started = performance.now();
const { gmm, schedule, guider, measure } = searchBench();
const solver: Solver = { kind: 'unipc', solve: makeSolver('unipc', { ...DEFAULT_SETTINGS, order: 2, variant: 'bh2' }) };
const lines = [
  '| NFE | logSNR | searched: times | searched: times + orders | orders found (first seed; solver\'s plan 1 2 … 2 1) | train error, times / + orders |',
  '|---:|---:|---|---|---|---|',
];
const errors = (ms: { error: number }[]) => ms.map((m) => m.error.toPrecision(3)).join(', ');
for (const nfe of NFES) {
  const start = buildGrid(schedule, { spacing: 'logSNR', steps: nfe, denoise: 1, rho: 7 });
  const timesOnly = [], withOrders = [], train: string[] = [];
  let ordersFound = '';
  for (const seed of SEEDS) {
    const request = { ...SEARCH_SETTINGS, seed, budget: nfe, guider, solver, start, latent: Tensor.zeros([1, gmm.D], 'float64') };
    const a = await searchSchedule(request);
    const b = await searchSchedule({ ...request, searchOrders: true });
    timesOnly.push(await measure(solver, a.grid.times, a.grid.spacing));
    withOrders.push(await measure(solver, b.grid.times, b.grid.spacing, b.grid.orders));
    train.push(`${a.report.error.train.searched.toPrecision(3)} / ${b.report.error.train.searched.toPrecision(3)}`);
    ordersFound ||= b.report.orders?.join(' ') ?? '';
  }
  const line = `| ${nfe} | ${errors([await measure(solver, start.times, 'logSNR')])} | ${errors(timesOnly)} | ${errors(withOrders)} | ${ordersFound} | ${train.join('; ')} |`;
  console.error(line);
  lines.push(line);
}
console.log(lines.join('\n'));
console.log(`\nMean L2 error to the exact ODE solution on the benchmark's 128 noises, one value per search seed; ${((performance.now() - started) / 1000).toFixed(0)} s on ${cpuModel()}.`);
