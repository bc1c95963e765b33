/**
 * Every stored DPM-Solver, DPM-Solver++ and UniPC reference run (data/refs/README.md §5–6), run the way a
 * user wires it — GaussianMixtureModel → Schedule (spacing = skip_type, steps) and Solver (kind, order,
 * method, variant, prediction) → Sample — through the Executor: the final samples to 1e-8·max(1, |x|)
 * per entry, the model calls (count, and time of each) exactly, and the per-step orders as logged.
 */
import { describe, expect, it } from 'vitest';
import { singlestepPlanOnGrid } from '../src/solvers/dpm-solver.ts';
import { multistepOrders } from '../src/solvers/exponential-common.ts';
import { uniPcPlan } from '../src/solvers/unipc.ts';
import type { NoiseSchedule } from '../src/contracts/sampling.ts';
import { listRefOutputs, loadRefExact, loadRefModel, loadRefOutput, refIndex, refsDir, rowsToTensor, type RefModel, type RefOutput, type RefScheduleName } from './refs.ts';
import { runRefThroughNodes } from './refs-workflow.ts';

const TOL = 1e-8;
const isSolverRef = (config: Record<string, unknown>) => config.library === 'dpm-solver' || config.library === 'unipc';

const entries = listRefOutputs((e) => isSolverRef(e.config));
const models = new Map<string, RefModel>();
function refModel(name: string): RefModel {
  if (!models.has(name)) models.set(name, loadRefModel(name));
  return models.get(name)!;
}

/**
 * When the official run called the model: multistep and UniPC at every grid time but the last;
 * singlestep at each outer step's start and its inner points (from the logged r1, r2).
 */
function officialCallTimes(out: RefOutput, schedule: NoiseSchedule): number[] {
  if (out.config.method !== 'singlestep') return out.timesteps!.slice(0, -1);
  return out.steps_log.flatMap((step) => {
    const s = step.t_from as number;
    const lambdaS = schedule.lambda(s);
    const h = schedule.lambda(step.t_to as number) - lambdaS;
    const inner = [step.r1, step.r2].slice(0, (step.order as number) - 1) as number[];
    return [s, ...inner.map((r) => schedule.tOfLambda(lambdaS + r * h))];
  });
}

/** The per-step orders the node's solver plans on the Schedule node's grid. */
function plannedOrders(out: RefOutput, schedule: NoiseSchedule, times: readonly number[], spacing: string): number[] {
  const c = out.config as unknown as { library: string; method?: string; order: number; steps: number };
  if (c.library === 'unipc') return uniPcPlan(c.steps, c.order).map((p) => p.order);
  if (c.method === 'singlestep') return singlestepPlanOnGrid(schedule, times, spacing, c.order as 1 | 2 | 3).orders;
  return multistepOrders(c.steps, c.order);
}

describe('DPM-Solver / DPM-Solver++ / UniPC references through the Schedule, Solver and Sample nodes', () => {
  it('covers every dpm-solver and unipc output of the vendored set', () => {
    // The public gmm2 set: 216 DPM-Solver(++) files (108 singlestep) and 144 UniPC files. Sets added with
    // DIFFGRAPH_REFS run as well, whatever their size.
    const vendored = entries.filter((e) => e.dir === refsDir);
    expect(vendored.length).toBe(360);
    expect(vendored.filter((e) => e.config.library === 'unipc').length).toBe(144);
    expect(vendored.filter((e) => e.config.method === 'singlestep').length).toBe(108);
  });

  let worst = { err: 0, id: '' };
  it.each(entries.map((e) => [e.id, e] as const))('%s', async (_id, entry) => {
    const out = loadRefOutput(entry);
    const schedule = refModel(out.model).schedules[out.config.schedule as RefScheduleName];
    const { x, grid, calls } = await runRefThroughNodes(entry);

    // `steps` is the model-call budget, spent when and as often as the official code spends it.
    expect(calls.length).toBe(out.config.steps);
    expect(calls.length).toBe(out.nfe);
    const official = officialCallTimes(out, schedule);
    expect(calls.length).toBe(official.length);
    calls.forEach((t, i) => expect(Math.abs(t - official[i])).toBeLessThanOrEqual(1e-9 * Math.max(1, t)));
    expect(plannedOrders(out, schedule, grid.times, grid.spacing)).toEqual(out.steps_log.map((s) => s.order));

    expect(x.dtype).toBe('float64');
    const ref = out.x0.flat();
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(x.data[i] - ref[i]) / Math.max(1, Math.abs(ref[i])));
    if (err > worst.err) worst = { err, id: out.id };
    expect(err).toBeLessThanOrEqual(TOL);
  });

  it('reports the largest relative error', () => {
    console.log(`solvers-refs: ${entries.length} outputs through the nodes, max relative error ${worst.err.toExponential(2)} (${worst.id})`);
    expect(worst.err).toBeLessThanOrEqual(TOL);
  });
});

/**
 * The 40- and 80-step runs of the same grid are in index.json only (no output file): reproduce their
 * NFE and error against the exact solution (mean and max L2, stored to 8 significant digits), through
 * the nodes as well.
 */
describe('DPM-Solver / DPM-Solver++ / UniPC 40- and 80-step convergence runs (index.json) through the nodes', () => {
  const runs = refIndex().filter((e) => e.file === null && isSolverRef(e.config));
  it('has them', () => expect(runs.filter((e) => e.dir === refsDir).length).toBe(240));
  it.each(runs.map((e) => [e.id, e] as const))('%s', async (_id, entry) => {
    const exact = rowsToTensor(loadRefExact(entry.model, entry.config.schedule as RefScheduleName).x);
    const { x, calls } = await runRefThroughNodes(entry);
    expect(calls.length).toBe(entry.nfe);
    expect(calls.length).toBe(entry.config.steps);
    const per = x.size / x.batch;
    let mean = 0;
    let max = 0;
    for (let b = 0; b < x.batch; b++) {
      let sq = 0;
      for (let j = b * per; j < (b + 1) * per; j++) sq += (x.data[j] - exact.data[j]) ** 2;
      mean += Math.sqrt(sq) / x.batch;
      max = Math.max(max, Math.sqrt(sq));
    }
    expect(Math.abs(mean - entry.mean_l2)).toBeLessThanOrEqual(1e-6 * entry.mean_l2 + 1e-11);
    expect(Math.abs(max - entry.max_l2)).toBeLessThanOrEqual(1e-6 * entry.max_l2 + 1e-11);
  });
});
