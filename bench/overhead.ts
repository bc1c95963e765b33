/**
 * Solver overhead: wall time per step with a zero-cost denoiser (it returns one preallocated tensor), so
 * everything measured is the solver's own arithmetic, allocation and bookkeeping.
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import type { Denoiser, NoiseSchedule } from '../packages/nodes/src/contracts/sampling.ts';
import { makeNoiseSource, randomNormal } from '../packages/nodes/src/noise/philox.ts';
import { buildGrid } from '../packages/nodes/src/schedules/schedule-node.ts';
import { makeSolver } from '../packages/nodes/src/solvers/catalog.ts';
import type { BenchConfig } from './configs.ts';

export interface OverheadCase {
  name: string;
  shape: number[];
  dtype: 'float32' | 'float64';
}

export const OVERHEAD_CASES: OverheadCase[] = [
  { name: 'SD latent 1×4×64×64 float32', shape: [1, 4, 64, 64], dtype: 'float32' },
  { name: 'GMM batch 128×16 float64', shape: [128, 16], dtype: 'float64' },
];

export const OVERHEAD_STEPS = 50;
export const OVERHEAD_REPEATS = 31;
export const OVERHEAD_WARMUP = 5;

export interface OverheadRow {
  config: BenchConfig;
  /** Median µs per grid step for each case (index as OVERHEAD_CASES); null if it failed. */
  usPerStep: (number | null)[];
  /** Fastest run's µs per step (least disturbed by other load on the machine). */
  usPerStepMin: (number | null)[];
  usPerCall: (number | null)[];
  nfe: number | null;
  failure?: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export async function timeSolver(config: BenchConfig, schedule: NoiseSchedule, c: OverheadCase): Promise<{ usPerStep: number; usPerStepMin: number; usPerCall: number; nfe: number }> {
  const x = randomNormal(c.shape, 7, c.dtype);
  const constant: Tensor = randomNormal(c.shape, 8, c.dtype);
  let calls = 0;
  const zeroCost: Denoiser = async () => {
    calls++;
    return constant;
  };
  const spacing = config.family === 'exponential' ? 'logSNR' : 'karras';
  const { times } = buildGrid(schedule, { spacing, steps: OVERHEAD_STEPS, denoise: 1, rho: 7 });
  const solve = makeSolver(config.kind, config.settings);
  const noise = config.stochastic ? makeNoiseSource(1234) : undefined;
  const samples: number[] = [];
  let nfe = 0;
  for (let r = 0; r < OVERHEAD_WARMUP + OVERHEAD_REPEATS; r++) {
    calls = 0;
    const start = process.hrtime.bigint();
    await solve({ denoiser: zeroCost, schedule, x, times, spacing, noise });
    const us = Number(process.hrtime.bigint() - start) / 1000;
    nfe = calls;
    if (r >= OVERHEAD_WARMUP) samples.push(us);
  }
  const total = median(samples);
  return { usPerStep: total / OVERHEAD_STEPS, usPerStepMin: Math.min(...samples) / OVERHEAD_STEPS, usPerCall: total / nfe, nfe };
}

/** Median time of one exact GMM model call at the GMM case, for scale. */
export async function timeGmmCall(call: () => Promise<unknown>): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < 50; r++) {
    const start = process.hrtime.bigint();
    await call();
    samples.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return median(samples.slice(10));
}

export async function runOverhead(configs: BenchConfig[], schedule: NoiseSchedule, log: (s: string) => void): Promise<OverheadRow[]> {
  const rows: OverheadRow[] = [];
  for (const config of configs) {
    const row: OverheadRow = { config, usPerStep: [], usPerStepMin: [], usPerCall: [], nfe: null };
    for (const c of OVERHEAD_CASES) {
      try {
        const t = await timeSolver(config, schedule, c);
        row.usPerStep.push(t.usPerStep);
        row.usPerStepMin.push(t.usPerStepMin);
        row.usPerCall.push(t.usPerCall);
        row.nfe = t.nfe;
      } catch (e) {
        row.usPerStep.push(null);
        row.usPerStepMin.push(null);
        row.usPerCall.push(null);
        row.failure = e instanceof Error ? e.message : String(e);
      }
    }
    log(`  ${config.label.padEnd(34)} ${row.usPerStep.map((v) => (v === null ? 'FAILED' : `${v.toFixed(1)} µs/step`)).join('   ')}${row.failure ? `  (${row.failure})` : ''}`);
    rows.push(row);
  }
  return rows;
}
