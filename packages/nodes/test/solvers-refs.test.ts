/**
 * Every stored DPM-Solver, DPM-Solver++ and UniPC reference output (data/refs/README.md §5–6) reproduced
 * from x_T with the stored conventions: the final samples to 1e-8·max(1, |x|) per entry, and the
 * number of model calls exactly.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import type { Denoiser, NoiseSchedule } from '../src/sampling/contracts.ts';
import { makeGmmDenoiser } from '../src/models/gmm.ts';
import { dpmSolverTimeGrid } from '../src/schedules/grids.ts';
import { dpmSolver, multistepOrders, singlestepPlan, singlestepRatios, type SkipType } from '../src/solvers/dpm-solver.ts';
import { uniPc, uniPcPlan } from '../src/solvers/unipc.ts';
import { listRefOutputs, loadRefExact, loadRefModel, loadRefOutput, refIndex, rowsToTensor, type RefModel, type RefScheduleName } from './refs.ts';

const TOL = 1e-8;

interface Case {
  grid: number[];
  /** What the solver will do at each step, in the fields of the stored steps_log. */
  log: Record<string, unknown>[];
  run: (denoiser: Denoiser, schedule: NoiseSchedule, x: Tensor, times: number[]) => Promise<Tensor>;
}

/** The stored config fields this test reads (data/refs/README.md §5–6). */
interface SolverConfig {
  library: 'dpm-solver' | 'unipc';
  schedule: RefScheduleName;
  algorithm_type: string;
  method: 'singlestep' | 'multistep';
  variant?: string;
  order: number;
  skip_type: string;
  steps: number;
  t_start: number;
  t_end: number;
}

function caseFor(config: Record<string, unknown>, schedule: NoiseSchedule): Case {
  const c = config as unknown as SolverConfig;
  const skip = c.skip_type as SkipType;
  const order = c.order as 1 | 2 | 3;
  if (c.library === 'dpm-solver') {
    const algorithm = c.algorithm_type as 'dpmsolver' | 'dpmsolver++';
    if (c.method === 'singlestep') {
      const plan = singlestepPlan(schedule, skip, c.steps, order, c.t_start, c.t_end);
      const log = plan.orders.map((k, i) => {
        const r = k > 1 ? singlestepRatios(schedule, skip, plan.times[i], plan.times[i + 1], k) : [];
        return { order: k, r1: r[0] ?? null, r2: r[1] ?? null };
      });
      return {
        grid: plan.times,
        log,
        run: (denoiser, sch, x, times) =>
          dpmSolver({ denoiser, schedule: sch, x, times }, { algorithm, method: 'singlestep', order, orders: plan.orders, skipType: skip }),
      };
    }
    return {
      grid: dpmSolverTimeGrid(schedule, skip, c.steps, c.t_start, c.t_end),
      log: multistepOrders(c.steps, order).map((k) => ({ order: k })),
      run: (denoiser, sch, x, times) => dpmSolver({ denoiser, schedule: sch, x, times }, { algorithm, method: 'multistep', order }),
    };
  }
  const variant = c.variant as 'bh1' | 'bh2';
  const prediction = c.algorithm_type === 'data_prediction' ? 'data' : 'noise';
  return {
    grid: dpmSolverTimeGrid(schedule, skip, c.steps, c.t_start, c.t_end),
    log: uniPcPlan(c.steps, order).map((p) => ({ order: p.order, use_corrector: p.useCorrector })),
    run: (denoiser, sch, x, times) => uniPc({ denoiser, schedule: sch, x, times }, { variant, prediction, order }),
  };
}

const outputs = listRefOutputs((e) => e.config.library === 'dpm-solver' || e.config.library === 'unipc').map((e) =>
  loadRefOutput(e),
);
const models = new Map<string, RefModel>();
function refModel(name: string): RefModel {
  if (!models.has(name)) models.set(name, loadRefModel(name));
  return models.get(name)!;
}

describe('DPM-Solver / DPM-Solver++ / UniPC against the official reference outputs', () => {
  it('covers every dpm-solver and unipc output', () => {
    // Public set: gmm2 only (216 DPM-Solver(++) and 144 UniPC files); the held-back gmm16 doubles both.
    const perModel = outputs.length / new Set(outputs.map((o) => o.model)).size;
    expect(perModel).toBe(360);
    expect(outputs.filter((o) => o.config.library === 'unipc').length * 5).toBe(outputs.length * 2);
  });

  let worst = { err: 0, id: '' };
  it.each(outputs.map((o) => [o.id, o] as const))('%s', async (_id, out) => {
    const model = refModel(out.model);
    const schedule = model.schedules[out.config.schedule as RefScheduleName];
    const denoiser = makeGmmDenoiser(model.gmm, schedule);
    const { grid, log, run } = caseFor(out.config, schedule);
    // Per-step orders (and singlestep r1, r2 / UniPC corrector use) as logged by the official run.
    expect(log.length).toBe(out.steps_log.length);
    log.forEach((entry, i) => {
      for (const [key, value] of Object.entries(entry)) {
        const ref = out.steps_log[i][key];
        if (typeof value === 'number' && key !== 'order') expect(Math.abs(value - (ref as number))).toBeLessThan(1e-10);
        else expect(value).toBe(ref);
      }
    });
    // The outer grid is the stored one (stored to 12 significant digits).
    const stored = out.timesteps!;
    expect(grid.length).toBe(stored.length);
    grid.forEach((t, i) => expect(Math.abs(t - stored[i])).toBeLessThanOrEqual(1e-11 * Math.max(1, t)));

    let nfe = 0;
    const counted: Denoiser = (x, t) => {
      nfe++;
      return denoiser(x, t);
    };
    const x0 = await run(counted, schedule, model.xT, grid);
    expect(nfe).toBe(out.nfe);
    expect(x0.dtype).toBe('float64');
    const ref = out.x0.flat();
    let err = 0;
    for (let i = 0; i < ref.length; i++) err = Math.max(err, Math.abs(x0.data[i] - ref[i]) / Math.max(1, Math.abs(ref[i])));
    if (err > worst.err) worst = { err, id: out.id };
    expect(err).toBeLessThanOrEqual(TOL);
  });

  it('reports the largest relative error', () => {
    console.log(`solvers-refs: ${outputs.length} outputs, max relative error ${worst.err.toExponential(2)} (${worst.id})`);
    expect(worst.err).toBeLessThanOrEqual(TOL);
  });
});

/**
 * The 40- and 80-step runs of the same grid are in index.json only (no output file): reproduce their
 * NFE and error against the exact solution (mean and max L2, stored to 8 significant digits).
 */
describe('DPM-Solver / DPM-Solver++ / UniPC 40- and 80-step convergence runs (index.json)', () => {
  const runs = refIndex().filter(
    (e) => e.file === null && (e.config.library === 'dpm-solver' || e.config.library === 'unipc'),
  );
  it('has them', () => expect(runs.length).toBe(240 * new Set(runs.map((e) => e.model)).size));
  it.each(runs.map((e) => [e.id, e] as const))('%s', async (_id, entry) => {
    const model = refModel(entry.model);
    const scheduleName = entry.config.schedule as RefScheduleName;
    const schedule = model.schedules[scheduleName];
    const exact = rowsToTensor(loadRefExact(entry.model, scheduleName).x);
    const { grid, run } = caseFor(entry.config, schedule);
    let nfe = 0;
    const denoiser = makeGmmDenoiser(model.gmm, schedule);
    const x0 = await run((x, t) => (nfe++, denoiser(x, t)), schedule, model.xT, grid);
    expect(nfe).toBe(entry.nfe);
    const per = x0.size / x0.batch;
    let mean = 0;
    let max = 0;
    for (let b = 0; b < x0.batch; b++) {
      let sq = 0;
      for (let j = b * per; j < (b + 1) * per; j++) sq += (x0.data[j] - exact.data[j]) ** 2;
      mean += Math.sqrt(sq) / x0.batch;
      max = Math.max(max, Math.sqrt(sq));
    }
    expect(Math.abs(mean - entry.mean_l2)).toBeLessThanOrEqual(1e-6 * entry.mean_l2 + 1e-11);
    expect(Math.abs(max - entry.max_l2)).toBeLessThanOrEqual(1e-6 * entry.max_l2 + 1e-11);
  });
});
