/**
 * Schedule search: for a guider, a solver and a budget of K model calls, the time steps that bring the
 * solver's result closest to a many-step reference solve, over a fixed set of start noises.
 *
 * - Objective: the mean per-sample L2 distance between Solve_K(x_T; times) and Ref(x_T) over B training
 *   noises (the benchmark's own error measure). Ref is multistep DPM-Solver++ of order 3 on a fine
 *   logSNR grid between the same ends.
 * - Parameters: the grid's log-SNR increments (step-parameterization.ts), so every candidate is a valid
 *   grid with the start grid's ends.
 * - Optimiser: AutoDiffusion-style evolution, then a compass search from its best point
 *   (optimisers.ts). The start grid is in the first population and the best point is kept, so the
 *   result is never worse than the start on the training noises.
 * - Generalisation: the start and searched grids are both measured on held-out noises the search never
 *   saw, and both numbers are reported.
 *
 * - Per-step orders (S³ / USF style, `searchOrders`): for a solver that takes a grid's orders
 *   (TimeGrid.orders: UniPC, multistep DPM-Solver(++)), each step's order in 1–3 is a discrete gene
 *   searched together with the times, starting from the solver's own plan; the grid carries the result.
 */
import { batchNorms, combine, Tensor, throttledYield } from '@diffgraph/engine';
import type { Denoiser, Guider, NoiseSchedule, Solver, TimeGrid } from '../contracts/sampling.ts';
import { startState, type StartScale } from '../contracts/start-state.ts';
import { seededNoise } from '../noise/seeded-noise.ts';
import { dpmSolverTimeGrid, validateTimeGrid } from '../schedules/grids.ts';
import { dpmSolver } from '../solvers/dpm-solver.ts';
import { evolutionEvaluations, evolve, patternSearch, type Objective, type Point, type Scored } from './optimisers.ts';
import { solverFingerprint } from './search-fingerprint.ts';
import { ORDER_CHOICES, probeSolve, SEARCHED_SPACING, solverPlan } from './step-orders.ts';
import { frameOf, parameterisedIntervals, thetaOf, timesOf, type GridFrame } from './step-parameterization.ts';

export { SEARCHED_SPACING } from './step-orders.ts';

export interface ScheduleSearchSettings {
  /** Model calls one solve may spend (K). */
  budget: number;
  /** Training noises (B). */
  noises: number;
  /** Held-out noises, never seen by the search. */
  heldOut: number;
  seed: number;
  population: number;
  generations: number;
  /** Objective evaluations of the local refinement. */
  refineEvaluations: number;
  /** Independent evolution + refinement runs (from the same start, other random choices); the one with
   * the smallest training error wins. The objective has many local minima (a sample moving to another
   * mixture component is a jump), so one run's result depends on its random choices. */
  restarts: number;
  /** Steps of the reference solve. */
  referenceSteps: number;
  startScale: StartScale;
  /** Also search each step's order in 1–3 (solvers that take per-step orders only); default false. */
  searchOrders?: boolean;
}

export interface ScheduleSearchRequest extends ScheduleSearchSettings {
  guider: Guider;
  solver: Solver;
  /** The grid to start from: its ends are kept, its shape is the first candidate and the baseline. */
  start: TimeGrid;
  /** The latent a Sample would start from (its shape and dtype; its values for img2img grids). */
  latent: Tensor;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
  log?: (message: string) => void;
}

export interface ErrorPair {
  start: number;
  searched: number;
}

export interface ScheduleSearchReport {
  solver: string;
  budget: number;
  /** Model calls one solve on the searched grid makes (≤ budget). */
  nfe: number;
  /** Intervals of the searched grid. */
  steps: number;
  times: number[];
  /** The searched order of each step (search_orders), else null: the solver's own plan. */
  orders: number[] | null;
  /** The baseline grid, and with search_orders the solver's own orders on it (where the search started). */
  start: { spacing: string; times: number[]; orders: number[] | null };
  noises: { train: number; heldOut: number; seed: number };
  settings: { population: number; generations: number; refineEvaluations: number; restarts: number; referenceSteps: number; startScale: StartScale; searchOrders: boolean };
  /** Each run's training error, in order (the smallest one's grid is the result). */
  restartErrors: number[];
  /** Mean per-sample L2 distance to the reference solve. */
  error: { train: ErrorPair; heldOut: ErrorPair };
  cost: {
    /** Model calls (each on a batch of noises): the reference solves, the search's own solves. */
    modelCalls: { reference: number; search: number; total: number };
    /** Model calls times their batch size: the work in single-sample evaluations. */
    sampleEvaluations: number;
    objectiveEvaluations: number;
    seconds: number;
  };
}

const ERROR_PREFIX = 'SearchSchedule:';
/** Evolution seeds of successive restarts are this far apart (a prime, so they never meet a noise seed pattern). */
const RESTART_SEED_STRIDE = 7919;

function fail(input: string, message: string): never {
  throw new Error(`${ERROR_PREFIX} input "${input}" ${message}`);
}

function checkSettings(s: ScheduleSearchSettings): void {
  const positive: [keyof ScheduleSearchSettings, number][] = [['budget', 1], ['noises', 1], ['heldOut', 1], ['population', 2], ['restarts', 1], ['referenceSteps', 10]];
  for (const [name, min] of positive) {
    const v = s[name] as number;
    if (!Number.isInteger(v) || v < min) fail(inputName(name), `must be an integer ≥ ${min}, got ${v}`);
  }
  for (const name of ['generations', 'refineEvaluations', 'seed'] as const) {
    if (!Number.isInteger(s[name]) || s[name] < 0) fail(inputName(name), `must be a non-negative integer, got ${s[name]}`);
  }
}

/** The node's input name of a setting (snake_case). */
function inputName(setting: keyof ScheduleSearchSettings): string {
  return setting.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** A logSNR grid of `intervals` steps between the frame's ends, continuing to t = 0 when the start grid does. */
function logSnrGrid(schedule: NoiseSchedule, tStart: number, tEnd: number, intervals: number, toZero: boolean): number[] {
  const times = dpmSolverTimeGrid(schedule, 'logSNR', intervals, tStart, tEnd);
  // The round trip through lambda may move the ends by an ulp; the searched grids keep them exactly.
  times[0] = tStart;
  times[times.length - 1] = tEnd;
  return toZero ? [...times, 0] : times;
}

/** The most grid intervals whose solve stays within the budget, and the calls it makes. */
async function intervalsForBudget(
  solver: Solver, schedule: NoiseSchedule, x: Tensor, tStart: number, tEnd: number, toZero: boolean, budget: number,
): Promise<{ intervals: number; calls: number }> {
  const minimum = toZero ? 2 : 1;
  const count = async (n: number) => (await probeSolve(solver, schedule, x, logSnrGrid(schedule, tStart, tEnd, n - (toZero ? 1 : 0), toZero))).calls;
  let n = Math.max(budget, minimum);
  let calls = await count(n);
  while (calls > budget && n > minimum) {
    n = Math.max(minimum, Math.min(n - 1, Math.floor((n * budget) / calls)));
    calls = await count(n);
  }
  if (calls > budget) fail('budget', `(K = ${budget}) is too small for solver "${solver.kind}": its shortest grid already makes ${calls} model calls`);
  for (;;) {
    const more = await count(n + 1);
    if (more > budget) break;
    n++;
    calls = more;
  }
  return { intervals: n, calls };
}

/** The latent's items repeated over a batch of `batch` (the start states' own batch). */
function tiled(latent: Tensor, batch: number): Tensor {
  const per = latent.size / latent.batch;
  const out = Tensor.zeros([batch, ...latent.shape.slice(1)], latent.dtype);
  for (let b = 0; b < batch; b++) out.data.set(latent.data.subarray((b % latent.batch) * per, (b % latent.batch + 1) * per), b * per);
  return out;
}

function meanDistance(a: Tensor, b: Tensor): number {
  const norms = batchNorms(combine([1, -1], [a, b]));
  let total = 0;
  for (const v of norms) total += v;
  return total / norms.length;
}

export async function searchSchedule(r: ScheduleSearchRequest): Promise<{ grid: TimeGrid; report: ScheduleSearchReport }> {
  const began = performance.now();
  checkSettings(r);
  const { guider, solver, signal } = r;
  const schedule = guider.schedule;
  let startTimes: number[];
  try {
    startTimes = validateTimeGrid(r.start.times, schedule);
  } catch (e) {
    fail('sigmas', `is not a usable start grid: ${(e as Error).message}`);
  }
  if (r.latent.batch < 1 || r.latent.size === 0) fail('latent', 'is empty');
  const itemShape = r.latent.shape.slice(1);
  await solverFingerprint(solver, r.start, schedule, itemShape);

  let frame: GridFrame;
  try {
    frame = frameOf(schedule, startTimes, Math.max(1, parameterisedIntervals(startTimes)));
  } catch (e) {
    fail('sigmas', `cannot be searched: ${(e as Error).message}`);
  }
  const { intervals, calls: nfe } = await intervalsForBudget(solver, schedule, Tensor.zeros([1, ...itemShape], r.latent.dtype), frame.tStart, frame.tEnd, frame.toZero, r.budget);
  const searched = intervals - (frame.toZero ? 1 : 0);
  if (searched < 2) {
    fail('budget', `(K = ${r.budget}) leaves solver "${r.solver.kind}" only ${intervals} step${intervals === 1 ? '' : 's'}${frame.toZero ? ' (one of them the final step to sigma = 0)' : ''}: a search needs at least two steps to place a time between the ends`);
  }
  frame = { ...frame, intervals: searched };
  const searchOrders = r.searchOrders ?? false;
  let plan: number[] = [];
  if (searchOrders) {
    try {
      plan = await solverPlan(solver, schedule, Tensor.zeros([1, ...itemShape], r.latent.dtype), logSnrGrid(schedule, frame.tStart, frame.tEnd, searched, frame.toZero));
    } catch (e) {
      fail('search_orders', `needs a solver that takes per-step orders (unipc, or dpmsolver++/dpmsolver with method multistep); solver "${solver.kind}" does not: ${(e as Error).message}`);
    }
  }
  // The parameterised steps' orders are genes; a final step to t = 0 keeps the solver's own order.
  // The first steps' orders are capped by the history as the solver caps them, so the grid says what runs.
  const ordersOf = (point: Readonly<Point>): number[] | undefined => (searchOrders ? [...point.genes, ...plan.slice(searched)].map((k, i) => Math.min(k, i + 1)) : undefined);

  // Model calls, counted, between which cancellation and the event loop get their turn.
  let modelCalls = 0, sampleEvaluations = 0;
  const letEventsIn = throttledYield();
  const denoiser: Denoiser = async (x, t) => {
    await letEventsIn();
    if (signal?.aborted) throw signal.reason;
    modelCalls++;
    sampleEvaluations += x.batch;
    return guider.denoise(x, t);
  };
  // The start states Sample makes from this latent and RandomNoise(seed). Philox noise gives item i the
  // key seed + i, so the held-out items follow the training ones.
  const startsFor = (seed: number, batch: number) => startState({
    guider, solver, grid: r.start, latent: tiled(r.latent, batch), noise: seededNoise(seed, 'philox'), addNoise: true, startScale: r.startScale,
  });
  const trainX = startsFor(r.seed, r.noises);
  const heldOutX = startsFor(r.seed + r.noises, r.heldOut);

  const referenceTimes = logSnrGrid(schedule, frame.tStart, frame.tEnd, r.referenceSteps, frame.toZero);
  const reference = (x: Tensor) => dpmSolver({ denoiser, schedule, x, times: referenceTimes, hooks: { signal } }, { algorithm: 'dpmsolver++', order: 3, method: 'multistep' });
  r.log?.(`reference: ${r.referenceSteps} steps of DPM-Solver++ 3M on ${r.noises} training and ${r.heldOut} held-out noises`);
  const trainRef = await reference(trainX);
  const heldOutRef = await reference(heldOutX);
  const referenceCalls = modelCalls;

  const errorOf = async (times: readonly number[], x: Tensor, ref: Tensor, spacing = SEARCHED_SPACING, orders?: readonly number[]): Promise<number> => {
    const out = await solver.solve({ denoiser, schedule, x, times, spacing, orders, hooks: { signal } });
    const e = meanDistance(out, ref);
    return Number.isFinite(e) ? e : Infinity;
  };
  const planned = r.restarts * (evolutionEvaluations(r) + r.refineEvaluations);
  let evaluations = 0;
  const objective: Objective = async (point) => {
    evaluations++;
    r.onProgress?.(evaluations, planned);
    let times: number[];
    try {
      // Two steps that merge in float64 (an extreme candidate) are not a grid.
      times = validateTimeGrid(timesOf(frame, point.theta), schedule);
    } catch {
      return Infinity;
    }
    return errorOf(times, trainX, trainRef, SEARCHED_SPACING, ordersOf(point));
  };

  const theta0 = thetaOf(frame, startTimes);
  const start: Point = { theta: theta0, genes: plan.slice(0, searched) };
  const runs: Scored[] = [];
  for (let run = 0; run < r.restarts; run++) {
    const label = r.restarts > 1 ? `run ${run + 1}/${r.restarts}: ` : '';
    const before = evaluations;
    // Run 0 uses the seed itself, so a single run is the search it always was.
    const evolved = await evolve(start, objective, { population: r.population, generations: r.generations, seed: r.seed + run * RESTART_SEED_STRIDE, choices: ORDER_CHOICES });
    r.log?.(`${label}evolution: best train error ${evolved.fitness.toExponential(3)} after ${evaluations - before} evaluations`);
    const refined = await patternSearch(evolved, objective, { maxEvaluations: r.refineEvaluations, choices: ORDER_CHOICES });
    r.log?.(`${label}refinement: train error → ${refined.fitness.toExponential(3)} after ${refined.evaluations} more evaluations`);
    runs.push(refined);
  }
  const restartErrors = runs.map((run) => run.fitness);
  const best = runs.reduce((a, b) => (b.fitness < a.fitness ? b : a));

  const times = validateTimeGrid(timesOf(frame, best.theta), schedule);
  const orders = ordersOf(best);
  // The baseline at the searched step count: the start grid itself, or its shape resampled to that count.
  const asGiven = startTimes.length - 1 === intervals;
  const baseline = asGiven ? startTimes : timesOf(frame, theta0);
  // Measured as Sample would run it: singlestep solvers read the grid's spacing.
  const baselineSpacing = asGiven ? r.start.spacing : SEARCHED_SPACING;
  const train = { start: await errorOf(baseline, trainX, trainRef, baselineSpacing), searched: best.fitness };
  const heldOut = { start: await errorOf(baseline, heldOutX, heldOutRef, baselineSpacing), searched: await errorOf(times, heldOutX, heldOutRef, SEARCHED_SPACING, orders) };
  r.onProgress?.(planned, planned);
  if (heldOut.searched > heldOut.start) r.log?.(`warning: on held-out noises the searched grid (${heldOut.searched.toExponential(3)}) is worse than the start grid (${heldOut.start.toExponential(3)}); try more noises`);

  const report: ScheduleSearchReport = {
    solver: solver.kind,
    budget: r.budget,
    nfe,
    steps: intervals,
    times,
    orders: orders ?? null,
    start: { spacing: baselineSpacing, times: baseline, orders: searchOrders ? plan : null },
    noises: { train: r.noises, heldOut: r.heldOut, seed: r.seed },
    settings: { population: r.population, generations: r.generations, refineEvaluations: r.refineEvaluations, restarts: r.restarts, referenceSteps: r.referenceSteps, startScale: r.startScale, searchOrders },
    restartErrors,
    error: { train, heldOut },
    cost: {
      modelCalls: { reference: referenceCalls, search: modelCalls - referenceCalls, total: modelCalls },
      sampleEvaluations,
      objectiveEvaluations: evaluations,
      seconds: (performance.now() - began) / 1000,
    },
  };
  const grid: TimeGrid = { times, spacing: SEARCHED_SPACING, ...(r.start.start && { start: r.start.start }), ...(orders && { orders }) };
  return { grid, report };
}

