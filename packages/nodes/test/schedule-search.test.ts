/**
 * SearchSchedule: the searched grid beats the grid it started from where the answer is known (Gaussian
 * data, whose probability-flow map is a scaling; the D = 16 benchmark mixture, on held-out noises), its
 * results are cached in the engine and on disk, it runs through a workflow, and bad inputs get errors
 * that name the node and the input.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { batchNorms, combine, defineNode, Executor, Tensor, type EngineEvent, type Workflow } from '@diffgraph/engine';
import { basicGuider, buildGrid, createRegistry, gaussianMixtureModel, GaussianMixture, makeSolver, searchSchedule, type ScheduleSearchReport, type ScheduleSearchSettings } from '../src/index.ts';
import type { Guider, NoiseSchedule, Solver } from '../src/contracts/sampling.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { seededNoise } from '../src/noise/seeded-noise.ts';
import { exactProbabilityFlow } from '../src/sampling/exact-ode.ts';
import { estimateModelStatistics } from '../src/solvers/ems-estimate.ts';
import { frameOf, thetaOf, timesOf } from '../src/search/step-parameterization.ts';
import type { SolverKind, SolverSettings } from '../src/solvers/catalog.ts';
import { multistepOrders } from '../src/solvers/exponential-common.ts';
import { uniPcPlan } from '../src/solvers/unipc.ts';
import { evolve, patternSearch } from '../src/search/optimisers.ts';
import { benchModel } from '../../../bench/model.ts';
import { isolatedServices } from './services.ts';

const sd = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
const SETTINGS: SolverSettings = { order: 2, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 };
const solverOf = (kind: SolverKind, over: Partial<SolverSettings> = {}): Solver => ({ kind, solve: makeSolver(kind, { ...SETTINGS, ...over }) });
/** Small searches: a few seconds in all. */
const QUICK: ScheduleSearchSettings = { budget: 10, noises: 32, heldOut: 64, seed: 3, population: 10, generations: 4, refineEvaluations: 80, restarts: 1, referenceSteps: 200, startScale: 'auto' };

function countingGuider(gmm: GaussianMixture, schedule: NoiseSchedule): { guider: Guider; calls: () => number } {
  let calls = 0;
  const model = gaussianMixtureModel(gmm, schedule, 'float64');
  return { guider: basicGuider({ ...model, predictX0: (x, t) => (calls++, model.predictX0(x, t)) }), calls: () => calls };
}

const meanL2 = (a: Tensor, b: Tensor) => batchNorms(combine([1, -1], [a, b])).reduce((s, v) => s + v, 0) / a.batch;

describe('the searched-grid parameterisation', () => {
  const frame = frameOf(sd, buildGrid(sd, { spacing: 'logSNR', steps: 6, denoise: 1, rho: 7 }).times, 6);

  it('maps theta = 0 to the logSNR grid and any theta to a decreasing grid with the same ends', () => {
    const logSnr = buildGrid(sd, { spacing: 'logSNR', steps: 6, denoise: 1, rho: 7 }).times;
    timesOf(frame, [0, 0, 0, 0, 0, 0]).forEach((t, i) => expect(t).toBeCloseTo(logSnr[i], 10));
    const times = timesOf(frame, [2, -1, 0.5, -3, 1, 0]);
    expect(times[0]).toBe(frame.tStart);
    expect(times[6]).toBe(frame.tEnd);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThan(times[i - 1]);
  });

  it('reads a grid back into parameters that reproduce it, and resamples one of another length by its shape', () => {
    const karras = buildGrid(sd, { spacing: 'karras', steps: 7, denoise: 1, rho: 7 }).times;
    const karrasFrame = frameOf(sd, karras, 6);
    expect(karrasFrame.toZero).toBe(true);
    timesOf(karrasFrame, thetaOf(karrasFrame, karras)).forEach((t, i) => expect(t).toBeCloseTo(karras[i], 10));
    const quadratic = buildGrid(sd, { spacing: 'time_quadratic', steps: 12, denoise: 1, rho: 7 }).times;
    const half = timesOf(frame, thetaOf(frame, quadratic));
    // Every other point of the 12-step grid, up to the round trip through lambda.
    half.forEach((t, i) => expect(t).toBeCloseTo(quadratic[2 * i], 6));
  });
});

/** evolve's result on the toy objective below (seed 7) as the optimiser without genes gave it (commit ccc3fb7). */
const EVOLVED_WITHOUT_GENES = [1.0941799454846863, -1.5745324987688547, 0.7777890760558293];

describe('the optimisers with discrete genes', () => {
  // A separable toy objective: its minimum is theta = (1, −2) with genes (3, 1, 2).
  const target = [3, 1, 2];
  const objective = async (p: { theta: readonly number[]; genes: readonly number[] }) =>
    (p.theta[0] - 1) ** 2 + (p.theta[1] + 2) ** 2 + p.genes.reduce((s, g, j) => s + Math.abs(g - target[j]), 0);
  const choices = [1, 2, 3];

  it('evolve keeps every gene among the choices and the start in its first population', async () => {
    const seen: number[][] = [];
    const best = await evolve({ theta: [0, 0], genes: [1, 1, 1] }, async (p) => (seen.push([...p.genes]), objective(p)), { population: 8, generations: 4, seed: 2, choices });
    expect(seen[0]).toEqual([1, 1, 1]);
    for (const genes of seen) for (const g of genes) expect(choices).toContain(g);
    expect(new Set(seen.map((g) => g.join())).size).toBeGreaterThan(5);
    expect(best.fitness).toBeLessThanOrEqual(await objective({ theta: [0, 0], genes: [1, 1, 1] }));
  });

  it('patternSearch moves genes by one choice at a time and reaches the minimum', async () => {
    const start = { theta: [0, 0], genes: [1, 3, 3] };
    const result = await patternSearch({ ...start, fitness: await objective(start) }, objective, { maxEvaluations: 400, initialStep: 0.5, choices });
    expect(result.genes).toEqual(target);
    expect(result.theta[0]).toBeCloseTo(1, 2);
    expect(result.theta[1]).toBeCloseTo(-2, 2);
  });

  it('without genes evolve makes the same choices as before genes existed (a time-only search is unchanged)', async () => {
    const first = await evolve({ theta: [0.3, -0.2, 0.1], genes: [] }, objective as never, { population: 6, generations: 3, seed: 7 });
    // The result of the time-only optimiser before genes were added (same seed, same objective).
    expect(first.theta).toEqual(EVOLVED_WITHOUT_GENES);
  });
});

describe('searchSchedule', () => {
  it('on Gaussian data beats the uniform logSNR grid at the same budget, against the exact map', async () => {
    const tau = 0.5, D = 4;
    const gmm = new GaussianMixture({ weights: [1], means: [new Array(D).fill(0)], stds: [tau] });
    const { guider } = countingGuider(gmm, sd);
    const solver = solverOf('dpmsolver++');
    const start = buildGrid(sd, { spacing: 'logSNR', steps: 4, denoise: 1, rho: 7 });
    const { grid, report } = await searchSchedule({ ...QUICK, budget: 4, guider, solver, start, latent: Tensor.zeros([1, D], 'float64') });
    expect(report.nfe).toBe(4);
    expect(grid.times).toHaveLength(5);
    expect(grid.spacing).toBe('searched');
    // The exact probability-flow map of N(0, tau²I) data: x / sqrt(alpha²tau² + sigma²) is constant along it.
    const spread = (t: number) => Math.sqrt(sd.alpha(t) ** 2 * tau ** 2 + sd.sigma(t) ** 2);
    const x = seededNoise(1000, 'philox').sample(Tensor.zeros([256, D], 'float64'), 0);
    const exact = combine([spread(start.times[4]) / spread(start.times[0])], [x]);
    const errorOn = async (times: readonly number[]) => meanL2(await solver.solve({ denoiser: guider.denoise, schedule: sd, x, times }), exact);
    const [uniform, searched] = [await errorOn(start.times), await errorOn(grid.times)];
    expect(searched).toBeLessThan(0.5 * uniform);
    expect(report.error.heldOut.searched).toBeLessThan(report.error.heldOut.start);
  });

  it.each([
    ['unipc', {}],
    ['dpmsolver++', {}],
  ] as const)('on the D = 16 benchmark mixture (SD schedule) finds a 10-call grid for %s that beats the logSNR grid on held-out noises', async (kind, over) => {
    const gmm = new GaussianMixture(benchModel());
    const { guider } = countingGuider(gmm, sd);
    const start = buildGrid(sd, { spacing: 'logSNR', steps: 10, denoise: 1, rho: 7 });
    const { grid, report } = await searchSchedule({ ...QUICK, noises: 64, heldOut: 128, guider, solver: solverOf(kind, over), start, latent: Tensor.zeros([1, 16], 'float64') });
    expect(report.nfe).toBe(10);
    expect(report.error.heldOut.searched).toBeLessThan(0.8 * report.error.heldOut.start);
    // The report's reference is a fine DPM-Solver++ 3M solve; against the exact ODE on fresh noises the searched grid wins too.
    const x = seededNoise(50_000, 'philox').sample(Tensor.zeros([48, 16], 'float64'), 0);
    const exact = exactProbabilityFlow(gmm, sd, x, start.times[0], start.times[10], { rtol: 1e-10, atol: 1e-10 });
    const solve = (times: readonly number[], spacing: string) => solverOf(kind, over).solve({ denoiser: guider.denoise, schedule: sd, x, times, spacing });
    expect(meanL2(await solve(grid.times, grid.spacing), exact)).toBeLessThan(meanL2(await solve(start.times, 'logSNR'), exact));
    expect(report.cost.modelCalls.search).toBe(report.cost.objectiveEvaluations * 10 + 3 * 10);
  });

  it('spends the budget in steps the solver can afford: Heun takes two calls a step', async () => {
    const gmm = new GaussianMixture(benchModel());
    const { guider } = countingGuider(gmm, sd);
    const start = buildGrid(sd, { spacing: 'karras', steps: 5, denoise: 1, rho: 7 });
    const { grid, report } = await searchSchedule({ ...QUICK, budget: 9, population: 4, generations: 1, refineEvaluations: 4, guider, solver: solverOf('heun'), start, latent: Tensor.zeros([1, 16], 'float64') });
    // Heun's last step to sigma = 0 is one call: 4 steps of 2 calls, then that one.
    expect(report).toMatchObject({ nfe: 9, steps: 5 });
    expect(grid.times[grid.times.length - 1]).toBe(0);
    expect(grid.times[0]).toBe(start.times[0]);
    expect(grid.times[grid.times.length - 2]).toBe(start.times[start.times.length - 2]);
  });

  it('with restarts keeps the run with the smallest training error; its first run is the single search', async () => {
    const gmm = new GaussianMixture(benchModel());
    const { guider } = countingGuider(gmm, sd);
    const start = buildGrid(sd, { spacing: 'logSNR', steps: 6, denoise: 1, rho: 7 });
    const settings = { ...QUICK, budget: 6, population: 6, generations: 2, refineEvaluations: 12, guider, solver: solverOf('unipc'), start, latent: Tensor.zeros([1, 16], 'float64') };
    const single = await searchSchedule(settings);
    const several = await searchSchedule({ ...settings, restarts: 3 });
    expect(single.report.restartErrors).toEqual([single.report.error.train.searched]);
    expect(several.report.restartErrors).toHaveLength(3);
    expect(several.report.restartErrors[0]).toBe(single.report.error.train.searched);
    // Other random choices lead elsewhere (the objective has many local minima).
    expect(new Set(several.report.restartErrors).size).toBeGreaterThan(1);
    expect(several.report.error.train.searched).toBe(Math.min(...several.report.restartErrors));
    expect(several.report.cost.objectiveEvaluations).toBe(3 * single.report.cost.objectiveEvaluations);
    await expect(searchSchedule({ ...settings, restarts: 0 })).rejects.toThrow(/SearchSchedule: input "restarts" must be an integer ≥ 1, got 0/);
  });

  it.each([
    ['unipc', {}],
    ['dpmsolver++', { order: 3 }],
  ] as const)('with searchOrders also chooses each step\'s order in 1–3 for %s, from its own plan, never worse on the training noises', async (kind, over) => {
    const gmm = new GaussianMixture(benchModel());
    const { guider } = countingGuider(gmm, sd);
    const solver = solverOf(kind, over);
    const start = buildGrid(sd, { spacing: 'logSNR', steps: 6, denoise: 1, rho: 7 });
    const settings = { ...QUICK, budget: 6, population: 8, generations: 3, refineEvaluations: 40, guider, solver, start, latent: Tensor.zeros([1, 16], 'float64') };
    const { grid, report } = await searchSchedule({ ...settings, searchOrders: true });
    expect(report).toMatchObject({ nfe: 6, steps: 6, settings: { searchOrders: true } });
    expect(report.start.orders).toEqual(kind === 'unipc' ? uniPcPlan(6, 2).map((p) => p.order) : multistepOrders(6, 3));
    expect(grid.orders).toHaveLength(6);
    expect(report.orders).toEqual(grid.orders);
    for (const k of grid.orders!) expect([1, 2, 3]).toContain(k);
    expect(report.error.train.searched).toBeLessThanOrEqual(report.error.train.start);
    // The report's held-out error is the solver's on the grid with its orders: Sample's result.
    const x = seededNoise(QUICK.seed + QUICK.noises, 'philox').sample(Tensor.zeros([QUICK.heldOut, 16], 'float64'), 0);
    const reference = await solverOf('dpmsolver++', { order: 3 }).solve({ denoiser: guider.denoise, schedule: sd, x, times: buildGrid(sd, { spacing: 'logSNR', steps: QUICK.referenceSteps, denoise: 1, rho: 7 }).times });
    const withOrders = await solver.solve({ denoiser: guider.denoise, schedule: sd, x, times: grid.times, spacing: grid.spacing, orders: grid.orders });
    expect(meanL2(withOrders, reference)).toBeCloseTo(report.error.heldOut.searched, 6);

    const timesOnly = await searchSchedule(settings);
    expect(timesOnly.grid.orders).toBeUndefined();
    expect(timesOnly.report).toMatchObject({ orders: null, start: { orders: null }, settings: { searchOrders: false } });
  });

  it('with searchOrders refuses a solver that does not take per-step orders, naming the node, the input and the solver', async () => {
    const gmm = new GaussianMixture(benchModel());
    const { guider } = countingGuider(gmm, sd);
    const settings = { ...QUICK, budget: 6, population: 4, generations: 1, refineEvaluations: 4, searchOrders: true, guider, latent: Tensor.zeros([1, 16], 'float64') };
    const karras = buildGrid(sd, { spacing: 'karras', steps: 6, denoise: 1, rho: 7 });
    await expect(searchSchedule({ ...settings, solver: solverOf('euler'), start: karras }))
      .rejects.toThrow(/SearchSchedule: input "search_orders" needs a solver that takes per-step orders \(unipc, or dpmsolver\+\+\/dpmsolver with method multistep\); solver "euler" does not: solver "euler" does not take per-step orders/);
    const logSnr = buildGrid(sd, { spacing: 'logSNR', steps: 6, denoise: 1, rho: 7 });
    await expect(searchSchedule({ ...settings, solver: solverOf('dpmsolver++', { method: 'singlestep' }), start: logSnr }))
      .rejects.toThrow(/input "search_orders" needs a solver .* solver "dpmsolver\+\+" does not/);
    // A solver of its own that ignores the grid's orders is found out, too.
    const ignoring: Solver = { kind: 'mine', solve: (args) => solverOf('unipc').solve({ ...args, orders: undefined }) };
    await expect(searchSchedule({ ...settings, solver: ignoring, start: logSnr })).rejects.toThrow(/solver "mine" does not: it does not follow the orders a grid carries/);
  });

  it('searches for DPM-Solver-v3 with per-dimension statistics (the solver is probed on the latent\'s item shape)', async () => {
    const gmm = new GaussianMixture(benchModel());
    const { guider } = countingGuider(gmm, sd);
    const { statistics } = await estimateModelStatistics(guider.denoise, sd, { sampleShape: [16], dtype: 'float64', samples: 32, steps: 20, probes: 1, difference: 'central', seed: 11 });
    const solver = solverOf('dpm_solver_v3', { order: 3, useCorrector: true, statistics });
    const start = buildGrid(sd, { spacing: 'logSNR', steps: 6, denoise: 1, rho: 7 });
    const { grid, report } = await searchSchedule({ ...QUICK, budget: 6, population: 4, generations: 1, refineEvaluations: 4, guider, solver, start, latent: Tensor.zeros([1, 16], 'float64') });
    expect(report).toMatchObject({ nfe: 6, steps: 6 });
    expect(grid.times[0]).toBe(start.times[0]);
    expect(report.error.train.searched).toBeLessThanOrEqual(report.error.train.start);
  });
});

// ---------------------------------------------------------------------------------------------------
// Through the engine.

let modelCalls = 0;
/** The benchmark mixture as a MODEL node whose calls the test counts. */
const CountedMixture = defineNode({
  type: 'CountedMixture',
  category: 'test',
  description: 'The D = 16 benchmark mixture on the SD schedule, counting model calls.',
  version: 1,
  inputs: {},
  outputs: { model: { type: 'MODEL' } },
  run() {
    const model = gaussianMixtureModel(new GaussianMixture(benchModel()), sd, 'float64');
    return { model: { ...model, predictX0: (x: Tensor, t: number) => (modelCalls++, model.predictX0(x, t)) } };
  },
});

const link = (from: string, output: string) => ({ from, output });

function searchWorkflow(search: Record<string, unknown> = {}, solver: Record<string, unknown> = {}): Workflow {
  return {
    format: 'diffgraph/workflow@1',
    nodes: {
      model: { type: 'CountedMixture' },
      start: { type: 'Schedule', inputs: { model: link('model', 'model'), spacing: 'logSNR', steps: 8 } },
      solver: { type: 'Solver', inputs: { kind: 'unipc', order: 2, ...solver } },
      guider: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
      latent: { type: 'EmptyLatent', inputs: { batch: 32, model: link('model', 'model') } },
      search: {
        type: 'SearchSchedule',
        inputs: {
          guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('start', 'sigmas'), latent: link('latent', 'latent'),
          budget: 8, noises: 64, held_out: 64, seed: 5, population: 8, generations: 3, refine_evaluations: 60, reference_steps: 100, ...search,
        },
      },
      noise: { type: 'RandomNoise', inputs: { seed: 9 } },
      sample: {
        type: 'Sample',
        inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('search', 'sigmas'), latent: link('latent', 'latent') },
      },
    },
    outputs: ['search', 'sample'],
  };
}

function executor(): Executor {
  const registry = createRegistry();
  registry.register(CountedMixture, 'test');
  return new Executor(registry);
}

async function runIn(ex: Executor, workflow: Workflow, cacheDir?: string) {
  const events: EngineEvent[] = [];
  const unsubscribe = ex.events.subscribe((e) => events.push(e));
  modelCalls = 0;
  const result = await ex.run(workflow, { services: { ...isolatedServices(), ...(cacheDir ? { cacheDir } : {}) } });
  unsubscribe();
  return { result, events, calls: modelCalls };
}

function searchOutputs(result: Awaited<ReturnType<Executor['run']>>) {
  const r = result.outputs.search;
  if (r.status !== 'succeeded') throw new Error(JSON.stringify(r));
  return r.values as { sigmas: { times: number[]; spacing: string; orders?: number[] }; report: ScheduleSearchReport & { cache: { hit: boolean } } };
}

describe('SearchSchedule through a workflow', () => {
  it('feeds Sample a grid that beats the start grid against the exact ODE, and reports progress', async () => {
    const { result, events } = await runIn(executor(), searchWorkflow());
    const { sigmas, report } = searchOutputs(result);
    expect(sigmas.spacing).toBe('searched');
    expect(report).toMatchObject({ solver: 'unipc', budget: 8, nfe: 8, steps: 8, cache: { hit: false } });
    const progress = events.filter((e) => e.type === 'node.progress' && e.nodeId === 'search');
    expect(progress.length).toBeGreaterThan(10);
    const last = progress[progress.length - 1] as Extract<EngineEvent, { type: 'node.progress' }>;
    expect(last.value).toBe(last.max);

    const sample = result.outputs.sample;
    if (sample.status !== 'succeeded') throw new Error(JSON.stringify(sample));
    const x = seededNoise(9, 'philox').sample(Tensor.zeros([32, 16], 'float64'), 0);
    const gmm = new GaussianMixture(benchModel());
    const exact = exactProbabilityFlow(gmm, sd, x, sigmas.times[0], sigmas.times[8], { rtol: 1e-10, atol: 1e-10 });
    const startTimes = buildGrid(sd, { spacing: 'logSNR', steps: 8, denoise: 1, rho: 7 }).times;
    const withStart = await solverOf('unipc').solve({ denoiser: async (s, t) => gmm.x0(s, sd.alpha(t), sd.sigma(t)), schedule: sd, x, times: startTimes });
    expect(meanL2(sample.values.samples as Tensor, exact)).toBeLessThan(meanL2(withStart, exact));
  });

  it('serves a repeated search from the engine cache without model calls, and from the cache folder in a fresh engine with only the 3 probe calls', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'diffgraph-search-cache-'));
    const ex = executor();
    const first = await runIn(ex, searchWorkflow({}, {}), cacheDir);
    const searched = searchOutputs(first.result);
    expect(first.calls).toBeGreaterThan(100);
    expect(readdirSync(path.join(cacheDir, 'schedule-search'))).toHaveLength(1);

    const again = await runIn(ex, { ...searchWorkflow(), outputs: ['search'] }, cacheDir);
    expect(again.events.some((e) => e.type === 'node.cached' && e.nodeId === 'search')).toBe(true);
    expect(again.calls).toBe(0);
    expect(searchOutputs(again.result).sigmas.times).toEqual(searched.sigmas.times);

    // Another process: a fresh engine, the same cache folder.
    const fresh = await runIn(executor(), { ...searchWorkflow(), outputs: ['search'] }, cacheDir);
    expect(fresh.calls).toBe(3);
    const hit = searchOutputs(fresh.result);
    expect(hit.report.cache.hit).toBe(true);
    expect(hit.sigmas.times).toEqual(searched.sigmas.times);
    expect(hit.report.error).toEqual(searched.report.error);

    // A damaged entry is a miss: searched again and rewritten.
    const [entry] = readdirSync(path.join(cacheDir, 'schedule-search'));
    writeFileSync(path.join(cacheDir, 'schedule-search', entry), '{"times": [0.5, 0.7], "spacing": "searched", "report": {"error": {"heldOut": {"start": 1, "searched": 0}}}}');
    const repaired = await runIn(executor(), { ...searchWorkflow(), outputs: ['search'] }, cacheDir);
    expect(searchOutputs(repaired.result).report.cache.hit).toBe(false);
    expect(searchOutputs(repaired.result).sigmas.times).toEqual(searched.sigmas.times);
    expect(JSON.parse(readFileSync(path.join(cacheDir, 'schedule-search', entry), 'utf8')).times).toEqual(searched.sigmas.times);

    // Another solver setting is another search.
    const otherOrder = await runIn(executor(), { ...searchWorkflow({}, { order: 3 }), outputs: ['search'] }, cacheDir);
    expect(searchOutputs(otherOrder.result).report.cache.hit).toBe(false);
    expect(otherOrder.calls).toBeGreaterThan(100);
    expect(readdirSync(path.join(cacheDir, 'schedule-search'))).toHaveLength(2);
  });

  it('with search_orders feeds Sample a grid with orders (the result of the solver called with them); engine and file cache keep it apart from a time-only search; a solver without per-step orders refuses it', async () => {
    const cacheDir = mkdtempSync(path.join(tmpdir(), 'diffgraph-search-orders-'));
    const ex = executor();
    // A solver set to order 1: the search may still give steps orders 2 and 3.
    const withOrders = () => searchWorkflow({ search_orders: true }, { order: 1 });
    const { result } = await runIn(ex, withOrders(), cacheDir);
    const { sigmas, report } = searchOutputs(result);
    expect(sigmas.orders).toHaveLength(8);
    expect(sigmas.orders![0]).toBe(1);
    expect(sigmas.orders!.some((k) => k > 1)).toBe(true);
    expect(report.orders).toEqual(sigmas.orders);
    expect(report.error.train.searched).toBeLessThanOrEqual(report.error.train.start);
    const sample = result.outputs.sample;
    if (sample.status !== 'succeeded') throw new Error(JSON.stringify(sample));
    const x = seededNoise(9, 'philox').sample(Tensor.zeros([32, 16], 'float64'), 0);
    const denoiser = gaussianMixtureModel(new GaussianMixture(benchModel()), sd, 'float64').predictX0;
    const unipc1 = solverOf('unipc', { order: 1 });
    const direct = await unipc1.solve({ denoiser, schedule: sd, x, times: sigmas.times, spacing: sigmas.spacing, orders: sigmas.orders });
    expect(Array.from((sample.values.samples as Tensor).data)).toEqual(Array.from(direct.data));
    const withoutOrders = await unipc1.solve({ denoiser, schedule: sd, x, times: sigmas.times, spacing: sigmas.spacing });
    expect(Array.from(withoutOrders.data)).not.toEqual(Array.from(direct.data));

    // The time-only search is another node signature and another cache file.
    const timesOnly = await runIn(ex, { ...searchWorkflow({}, { order: 1 }), outputs: ['search'] }, cacheDir);
    expect(timesOnly.events.some((e) => e.type === 'node.cached' && e.nodeId === 'search')).toBe(false);
    expect(searchOutputs(timesOnly.result).sigmas.orders).toBeUndefined();
    expect(readdirSync(path.join(cacheDir, 'schedule-search'))).toHaveLength(2);
    // A fresh engine reads the orders back from the cache folder.
    const fresh = await runIn(executor(), { ...withOrders(), outputs: ['search'] }, cacheDir);
    expect(searchOutputs(fresh.result).report.cache.hit).toBe(true);
    expect(searchOutputs(fresh.result).sigmas.orders).toEqual(sigmas.orders);
    // An entry of a search with orders that lost them (damaged) is a miss: searched again.
    const entryFor = (file: string) => path.join(cacheDir, 'schedule-search', file);
    const withOrdersEntry = readdirSync(path.join(cacheDir, 'schedule-search')).find((f) => JSON.parse(readFileSync(entryFor(f), 'utf8')).orders);
    const { orders: _dropped, ...damaged } = JSON.parse(readFileSync(entryFor(withOrdersEntry!), 'utf8'));
    writeFileSync(entryFor(withOrdersEntry!), JSON.stringify(damaged));
    const researched = await runIn(executor(), { ...withOrders(), outputs: ['search'] }, cacheDir);
    expect(searchOutputs(researched.result).report.cache.hit).toBe(false);
    expect(searchOutputs(researched.result).sigmas.orders).toEqual(sigmas.orders);

    const withEuler = withOrders();
    withEuler.nodes.euler = { type: 'Solver', inputs: { kind: 'euler' } };
    withEuler.nodes.sample.inputs = { ...withEuler.nodes.sample.inputs, solver: link('euler', 'solver') };
    const refused = (await runIn(ex, withEuler)).result.outputs.sample;
    expect(refused.status).toBe('failed');
    if (refused.status === 'failed') expect(refused.error.message).toMatch(/solver "euler" does not take per-step orders, but the grid carries them/);
  });

  it('stops within one solve when the run is cancelled', async () => {
    const ex = executor();
    const controller = new AbortController();
    let callsAtAbort = -1;
    ex.events.subscribe((e) => {
      if (e.type === 'node.progress' && e.nodeId === 'search' && e.value === 5 && callsAtAbort < 0) {
        callsAtAbort = modelCalls;
        controller.abort(new Error('stop'));
      }
    });
    modelCalls = 0;
    const result = await ex.run({ ...searchWorkflow({ generations: 50 }), outputs: ['search'] }, { signal: controller.signal, services: isolatedServices() });
    expect(result.status).toBe('cancelled');
    expect(callsAtAbort).toBeGreaterThan(0);
    // The solve under way when the abort came may finish its current call, no more.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(modelCalls - callsAtAbort).toBeLessThanOrEqual(1);
  });

  it.each([
    ['a budget that leaves one step', { budget: 1 }, {}, /SearchSchedule: input "budget" \(K = 1\) leaves solver "unipc" only 1 step/],
    ['a budget below one Heun step', { budget: 1 }, { kind: 'heun' }, /SearchSchedule: input "budget" \(K = 1\) is too small for solver "heun"/],
    ['a stochastic solver', {}, { kind: 'euler_ancestral', eta: 1 }, /SearchSchedule: input "solver" \("euler_ancestral"\) draws noise/],
    ['search_orders for a k-diffusion solver', { search_orders: true }, { kind: 'euler' }, /SearchSchedule: input "search_orders" needs a solver that takes per-step orders .*solver "euler" does not/],
  ])('refuses %s with an error naming the node and the input', async (_, search, solver, message) => {
    const { result } = await runIn(executor(), { ...searchWorkflow(search, solver), outputs: ['search'] });
    const r = result.outputs.search;
    expect(r.status).toBe('failed');
    if (r.status === 'failed') expect(r.error.message).toMatch(message);
  });

  it('refuses a start grid the schedule does not have (flow matching from t = 1, past its tMax), or one with nothing to search', async () => {
    const flow = makeNoiseSchedule({ kind: 'flow' });
    const gmm = new GaussianMixture(benchModel());
    const { guider } = countingGuider(gmm, flow);
    const start = { times: [1, 0.5, 0.25, 0.1, 0.05], spacing: 'custom' };
    await expect(searchSchedule({ ...QUICK, budget: 4, guider, solver: solverOf('euler'), start, latent: Tensor.zeros([1, 16], 'float64') }))
      .rejects.toThrow(/SearchSchedule: input "sigmas" is not a usable start grid: time grid starts at 1/);
    const { guider: sdGuider } = countingGuider(gmm, sd);
    await expect(searchSchedule({ ...QUICK, guider: sdGuider, solver: solverOf('unipc'), start: { times: [1, 0], spacing: 'custom' }, latent: Tensor.zeros([1, 16], 'float64') }))
      .rejects.toThrow(/SearchSchedule: input "sigmas" cannot be searched: the grid from t = 1 to t = 1 has no finite, increasing log-SNR range/);
  });
});
