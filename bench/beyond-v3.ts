/**
 * DPM-Solver-v3 against the official baselines: error vs NFE (4–20) on the bench's D = 16 mixture
 * (bench/model.ts), SD scaled_linear schedule, float64, logSNR grids from t = 1 to 1/1000, start x = noise.
 * Error = mean over the batch of the per-sample L2 distance to the exact probability-flow ODE solution
 * (bench/accuracy.ts conventions), on the bench's noises (Philox seed 2024, items 2024 … 2151), which
 * the statistics never saw: they are estimated from items 1 000 000 … 1 000 000 + N − 1.
 *
 * `tsx --conditions=@diffgraph/source bench/beyond-v3.ts` prints the table.
 */
import { pathToFileURL } from 'node:url';
import type { Tensor } from '../packages/engine/src/tensor.ts';
import type { Denoiser } from '../packages/nodes/src/contracts/sampling.ts';
import type { ModelStatistics } from '../packages/nodes/src/contracts/model-statistics.ts';
import { GaussianMixture, makeGmmDenoiser } from '../packages/nodes/src/models/gmm.ts';
import { randomNormal } from '../packages/nodes/src/noise/philox.ts';
import { exactProbabilityFlow } from '../packages/nodes/src/sampling/exact-ode.ts';
import { dpmSolverTimeGrid } from '../packages/nodes/src/schedules/grids.ts';
import { DiscreteVPSchedule } from '../packages/nodes/src/schedules/noise-schedules.ts';
import { makeSolver, type SolverKind, type SolverSettings } from '../packages/nodes/src/solvers/catalog.ts';
import { estimateModelStatistics } from '../packages/nodes/src/solvers/ems-estimate.ts';
import { ODE_TOL, meanL2 } from './accuracy.ts';
import { DEFAULT_SETTINGS } from './configs.ts';
import { benchModel } from './model.ts';

/** The bench's evaluation batch and noise seed (bench/run.ts). */
export const V3_BATCH = 128;
export const V3_NOISE_SEED = 2024;
/** Statistics: start noises from this seed on, far from the evaluation noises. */
export const V3_STATISTICS = { samples: 1024, steps: 250, probes: 2, difference: 'central', seed: 1_000_000 } as const;
export const V3_NFES = Array.from({ length: 17 }, (_, i) => i + 4);

export interface BeyondV3Row {
  method: string;
  nfe: number;
  error: number;
}

export interface BeyondV3Result {
  rows: BeyondV3Row[];
  estimation: { samples: number; steps: number; probes: number; modelCalls: number; sampleEvaluations: number; seconds: number };
}

interface Method {
  method: string;
  kind: SolverKind;
  settings: Partial<SolverSettings>;
  /** Uses the estimated statistics (else neutral ones for v3). */
  ems?: boolean;
}

export const V3_METHODS: Method[] = [
  { method: 'UniPC bh2 o2 (best official)', kind: 'unipc', settings: { order: 2, variant: 'bh2' } },
  { method: 'UniPC bh2 o3', kind: 'unipc', settings: { order: 3, variant: 'bh2' } },
  { method: 'DPM-Solver++ 3M', kind: 'dpmsolver++', settings: { order: 3 } },
  { method: 'DDIM', kind: 'ddim', settings: {} },
  { method: 'v3 o3 + corrector (EMS)', kind: 'dpm_solver_v3', settings: { order: 3, useCorrector: true }, ems: true },
  { method: 'v3 o3 (EMS)', kind: 'dpm_solver_v3', settings: { order: 3, useCorrector: false }, ems: true },
  { method: 'v3 o2 + corrector (EMS)', kind: 'dpm_solver_v3', settings: { order: 2, useCorrector: true }, ems: true },
  { method: 'v3 o3 + corrector (neutral)', kind: 'dpm_solver_v3', settings: { order: 3, useCorrector: true } },
];

export async function runBeyondV3(log: (s: string) => void = () => {}): Promise<BeyondV3Result> {
  const gmm = new GaussianMixture(benchModel());
  const schedule = DiscreteVPSchedule.fromBetas('scaled_linear');
  const model = makeGmmDenoiser(gmm, schedule);
  let calls = 0;
  const counting: Denoiser = (x, t) => {
    calls++;
    return model(x, t);
  };

  const { statistics, cost } = await estimateModelStatistics(model, schedule, { sampleShape: [gmm.D], dtype: 'float64', ...V3_STATISTICS });
  log(`statistics: N = ${V3_STATISTICS.samples}, M = ${V3_STATISTICS.steps}, ${V3_STATISTICS.probes} probes: ${cost.modelCalls} model calls, ${cost.sampleEvaluations} sample evaluations, ${cost.seconds.toFixed(2)} s`);

  const noise = randomNormal([V3_BATCH, gmm.D], V3_NOISE_SEED, 'float64');
  const exact: Tensor = exactProbabilityFlow(gmm, schedule, noise, schedule.tMax, schedule.tMin, ODE_TOL);
  const rows: BeyondV3Row[] = [];
  for (const m of V3_METHODS) {
    const settings: SolverSettings = { ...DEFAULT_SETTINGS, ...m.settings, statistics: m.ems ? (statistics as ModelStatistics) : undefined };
    const solve = makeSolver(m.kind, settings);
    for (const nfe of V3_NFES) {
      calls = 0;
      const out = await solve({ denoiser: counting, schedule, x: noise, times: dpmSolverTimeGrid(schedule, 'logSNR', nfe), spacing: 'logSNR' });
      rows.push({ method: m.method, nfe: calls, error: meanL2(out, exact) });
    }
    log(`  ${m.method.padEnd(30)} ${rows.filter((r) => r.method === m.method).map((r) => `${r.nfe}:${r.error.toExponential(2)}`).join(' ')}`);
  }
  return { rows, estimation: { samples: V3_STATISTICS.samples, steps: V3_STATISTICS.steps, probes: V3_STATISTICS.probes, ...cost } };
}

/** The rows as a Markdown table: one column per method, one row per NFE. */
export function beyondV3Table(result: BeyondV3Result): string {
  const methods = [...new Set(result.rows.map((r) => r.method))];
  const nfes = [...new Set(result.rows.map((r) => r.nfe))].sort((a, b) => a - b);
  const cell = (method: string, nfe: number) => result.rows.find((r) => r.method === method && r.nfe === nfe)?.error.toExponential(2) ?? '—';
  return [
    `| NFE | ${methods.join(' | ')} |`,
    `|---|${methods.map(() => '---').join('|')}|`,
    ...nfes.map((n) => `| ${n} | ${methods.map((m) => cell(m, n)).join(' | ')} |`),
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runBeyondV3((s) => console.log(s));
  console.log(`\nMean L2 error vs the exact ODE solution, D = 16 mixture, SD schedule, logSNR grid, batch ${V3_BATCH} held-out noises\n`);
  console.log(beyondV3Table(result));
  const e = result.estimation;
  console.log(`\nStatistics estimation: ${e.modelCalls} model calls (${e.sampleEvaluations} sample evaluations), ${e.seconds.toFixed(2)} s`);
}
