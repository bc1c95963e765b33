/** The solver configurations the benchmark runs, all through the catalog (`makeSolver`). */
import type { SolverKind, SolverSettings } from '../packages/nodes/src/solvers/catalog.ts';

export const DEFAULT_SETTINGS: SolverSettings = {
  order: 2,
  method: 'multistep',
  lowerOrderFinal: true,
  variant: 'bh2',
  prediction: 'data',
  eta: 0,
  sNoise: 1,
  thresholdRatio: 0,
  thresholdMax: 1,
};

export type Family = 'exponential' | 'kdiffusion';

export interface BenchConfig {
  /** Label used in tables and the plot legend. */
  label: string;
  kind: SolverKind;
  settings: SolverSettings;
  /** Exponential integrators run on DPM-Solver's logSNR grid (t = 1 → 1/N, start x = noise); k-diffusion
   *  samplers on the karras grid (rho = 7, sigma_max → sigma_min → 0, start x = sigma(t0)·noise). */
  family: Family;
  /** Model calls per grid interval (heun / dpm_2 / dpmpp_2s: 2, minus 1 overall; singlestep DPM-Solver spends one per interval in its own outer steps). */
  callsPerStep: number;
  /** Draws noise during sampling (only timed, not in the error sweep). */
  stochastic?: boolean;
}

const s = (over: Partial<SolverSettings>): SolverSettings => ({ ...DEFAULT_SETTINGS, ...over });

/** Deterministic solvers of the error sweep. */
export const SWEEP_CONFIGS: BenchConfig[] = [
  { label: 'DPM-Solver++ 2M (multistep o2)', kind: 'dpmsolver++', settings: s({ order: 2 }), family: 'exponential', callsPerStep: 1 },
  { label: 'DPM-Solver++ 3M (multistep o3)', kind: 'dpmsolver++', settings: s({ order: 3 }), family: 'exponential', callsPerStep: 1 },
  { label: 'DPM-Solver++ 2S (singlestep o2)', kind: 'dpmsolver++', settings: s({ order: 2, method: 'singlestep' }), family: 'exponential', callsPerStep: 1 },
  { label: 'DPM-Solver++ 3S (singlestep o3)', kind: 'dpmsolver++', settings: s({ order: 3, method: 'singlestep' }), family: 'exponential', callsPerStep: 1 },
  { label: 'DPM-Solver multistep o2 (eps)', kind: 'dpmsolver', settings: s({ order: 2 }), family: 'exponential', callsPerStep: 1 },
  { label: 'DPM-Solver multistep o3 (eps)', kind: 'dpmsolver', settings: s({ order: 3 }), family: 'exponential', callsPerStep: 1 },
  { label: 'UniPC bh2 o2 (data)', kind: 'unipc', settings: s({ order: 2, variant: 'bh2', prediction: 'data' }), family: 'exponential', callsPerStep: 1 },
  { label: 'UniPC bh2 o3 (data)', kind: 'unipc', settings: s({ order: 3, variant: 'bh2', prediction: 'data' }), family: 'exponential', callsPerStep: 1 },
  { label: 'UniPC bh1 o3 (data)', kind: 'unipc', settings: s({ order: 3, variant: 'bh1', prediction: 'data' }), family: 'exponential', callsPerStep: 1 },
  { label: 'DEIS o2 (eps)', kind: 'deis', settings: s({ order: 2, prediction: 'noise' }), family: 'exponential', callsPerStep: 1 },
  { label: 'DEIS o3 (eps)', kind: 'deis', settings: s({ order: 3, prediction: 'noise' }), family: 'exponential', callsPerStep: 1 },
  { label: 'DDIM (eta = 0)', kind: 'ddim', settings: s({ eta: 0 }), family: 'exponential', callsPerStep: 1 },
  { label: 'Euler', kind: 'euler', settings: s({}), family: 'kdiffusion', callsPerStep: 1 },
  { label: 'Heun', kind: 'heun', settings: s({}), family: 'kdiffusion', callsPerStep: 2 },
  { label: 'DPM2', kind: 'dpm_2', settings: s({}), family: 'kdiffusion', callsPerStep: 2 },
  { label: 'LMS (order 4)', kind: 'lms', settings: s({}), family: 'kdiffusion', callsPerStep: 1 },
  { label: 'DPM++ 2M', kind: 'dpmpp_2m', settings: s({}), family: 'kdiffusion', callsPerStep: 1 },
  { label: 'DPM++ 2S a (eta = 0)', kind: 'dpmpp_2s_ancestral', settings: s({ eta: 0 }), family: 'kdiffusion', callsPerStep: 2 },
];

/** Stochastic settings, timed in the overhead table only (eta = 1, seeded noise). */
export const STOCHASTIC_CONFIGS: BenchConfig[] = [
  { label: 'DDIM (eta = 1)', kind: 'ddim', settings: s({ eta: 1 }), family: 'exponential', callsPerStep: 1, stochastic: true },
  { label: 'Euler a', kind: 'euler_ancestral', settings: s({ eta: 1 }), family: 'kdiffusion', callsPerStep: 1, stochastic: true },
  { label: 'DPM++ 2S a (eta = 1)', kind: 'dpmpp_2s_ancestral', settings: s({ eta: 1 }), family: 'kdiffusion', callsPerStep: 2, stochastic: true },
  { label: 'DPM++ 2M SDE (eta = 1)', kind: 'dpmpp_2m_sde', settings: s({ eta: 1 }), family: 'kdiffusion', callsPerStep: 1, stochastic: true },
];

/** NFE budgets of the sweep. */
export const NFE_BUDGETS = [5, 10, 15, 20, 30, 40, 60, 80];

/**
 * Grid intervals for an NFE budget: multistep, singlestep (the official plan spends one call per grid
 * interval) and one-call samplers take `budget` steps; Heun, DPM2 and DPM++ 2S take
 * floor((budget + 1)/2) steps (2 calls each, but only 1 for the final step to sigma = 0). The NFE actually used
 * is counted, not assumed.
 */
export function stepsForBudget(c: BenchConfig, budget: number): number {
  if (c.family === 'kdiffusion' && c.callsPerStep === 2) return Math.max(1, Math.floor((budget + 1) / 2));
  return Math.max(1, Math.round(budget / c.callsPerStep));
}
