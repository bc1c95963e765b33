/**
 * Every solver by name, with the options the Solver node exposes mapped onto each one's own options.
 * A new solver is one file in this folder and one entry here.
 */
import type { SolverFn } from '../contracts/sampling.ts';
import { ddim } from './ddim.ts';
import { deis } from './deis.ts';
import { dpmSolver, dpmSolverFast } from './dpm-solver.ts';
import { uniPc } from './unipc.ts';
import { dpmSolverV3 } from './dpm-solver-v3.ts';
import type { ModelStatistics } from '../contracts/model-statistics.ts';
import { sampleEuler } from './kdiffusion-euler.ts';
import { sampleHeun } from './kdiffusion-heun.ts';
import { sampleDpm2 } from './kdiffusion-dpm2.ts';
import { sampleLms } from './kdiffusion-lms.ts';
import { sampleDpmpp2m } from './kdiffusion-dpmpp-2m.ts';
import { sampleDpmpp2sAncestral } from './kdiffusion-dpmpp-2s-ancestral.ts';
import { sampleEulerAncestral } from './kdiffusion-euler-ancestral.ts';
import { sampleDpmpp2mSde } from './kdiffusion-dpmpp-2m-sde.ts';
import { consistencySample, type ConsistencyBoundaryKind } from './consistency.ts';

export interface SolverSettings {
  order: 1 | 2 | 3;
  method: 'multistep' | 'singlestep';
  lowerOrderFinal: boolean;
  /** UniPC: B(h) variant. */
  variant: 'bh1' | 'bh2';
  /** UniPC and DEIS: which model output the update is built on. */
  prediction: 'data' | 'noise';
  /** Stochastic solvers: noise amount (0 = deterministic where the method allows). */
  eta: number;
  sNoise: number;
  /** DPM-Solver++: dynamic thresholding of x0 (ratio ≤ 0 disables). */
  thresholdRatio: number;
  thresholdMax: number;
  /** Consistency: LCM boundary scalings (default) or the model's x0 as the consistency function. */
  boundary?: ConsistencyBoundaryKind;
  /** Consistency: LCM timestep_scaling; unset: the grid's LCM config, else 10. */
  timestepScaling?: number;
  /** DPM-Solver-v3: the model's statistics (absent: neutral, l = 1, s = b = 0). */
  statistics?: ModelStatistics;
  /** DPM-Solver-v3: run the corrector (default true). */
  useCorrector?: boolean;
  /** DPM-Solver-v3: predictor derivatives by divided differences (default false). */
  pseudoPredictor?: boolean;
}

export const SOLVER_KINDS = [
  'dpmsolver++', 'dpmsolver', 'unipc', 'deis', 'ddim', 'dpm_solver_v3',
  'euler', 'heun', 'dpm_2', 'lms', 'dpmpp_2m', 'dpmpp_2s_ancestral', 'euler_ancestral', 'dpmpp_2m_sde',
  'consistency',
] as const;
export type SolverKind = (typeof SOLVER_KINDS)[number];

/** Kinds that draw fresh noise during sampling (given eta > 0). */
export const STOCHASTIC_KINDS: ReadonlySet<SolverKind> = new Set(['ddim', 'dpmpp_2s_ancestral', 'euler_ancestral', 'dpmpp_2m_sde', 'consistency']);

/**
 * Kinds whose solve of a grid is not the solves of its parts one after another: consistency sampling
 * ends every solve with its clean estimate, not the state re-noised to the last time.
 */
const WHOLE_GRID_KINDS: ReadonlySet<string> = new Set(['consistency']);

/** For nodes that run the solver over one interval or segment of a grid at a time. */
export function checkSolvesInParts(node: string, solver: { kind: string }): void {
  if (WHOLE_GRID_KINDS.has(solver.kind)) {
    throw new Error(`${node}: input "solver" ("${solver.kind}") runs whole grids only: each of its solves ends with the clean estimate, not the state at the grid's last time, and ${node} solves the grid in parts; sample with Sample, or use another solver`);
  }
}

/** Whether a solver of this kind and settings runs a grid's per-step orders (TimeGrid.orders). */
export function takesPerStepOrders(kind: SolverKind, s: Pick<SolverSettings, 'method'>): boolean {
  return kind === 'unipc' || ((kind === 'dpmsolver++' || kind === 'dpmsolver') && s.method === 'multistep');
}

/**
 * Every solver by name. One that does not take per-step orders refuses a grid that carries them rather
 * than running a grid whose times were searched for other orders.
 */
export function makeSolver(kind: SolverKind, s: SolverSettings): SolverFn {
  const solve = solverOf(kind, s);
  if (takesPerStepOrders(kind, s)) return solve;
  return (args) => {
    if (args.orders) {
      const which = kind === 'dpmsolver++' || kind === 'dpmsolver' ? `"${kind}" (${s.method})` : `"${kind}"`;
      return Promise.reject(new Error(`solver ${which} does not take per-step orders, but the grid carries them (SearchSchedule with search_orders); use unipc or multistep dpmsolver++/dpmsolver, or a grid without orders`));
    }
    return solve(args);
  };
}

function solverOf(kind: SolverKind, s: SolverSettings): SolverFn {
  const noiseOptions = { eta: s.eta, sNoise: s.sNoise };
  switch (kind) {
    case 'dpmsolver++':
    case 'dpmsolver': {
      const common = {
        algorithm: kind,
        order: s.order,
        thresholding: kind === 'dpmsolver++' && s.thresholdRatio > 0 ? { ratio: s.thresholdRatio, maxValue: s.thresholdMax } : undefined,
      };
      // singlestep: the official DPM-Solver-fast plan, so the grid's `steps` is the model-call budget.
      if (s.method === 'singlestep') return (args) => dpmSolverFast(args, common);
      return (args) => dpmSolver(args, { ...common, method: 'multistep', lowerOrderFinal: s.lowerOrderFinal });
    }
    case 'unipc':
      return (args) => uniPc(args, { order: s.order, variant: s.variant, prediction: s.prediction, lowerOrderFinal: s.lowerOrderFinal });
    case 'deis':
      return (args) => deis(args, { order: s.order, prediction: s.prediction, lowerOrderFinal: s.lowerOrderFinal });
    case 'ddim':
      return (args) => ddim(args, { eta: s.eta });
    case 'dpm_solver_v3':
      return (args) => dpmSolverV3(args, { statistics: s.statistics, order: s.order, useCorrector: s.useCorrector, pseudoPredictor: s.pseudoPredictor, lowerOrderFinal: s.lowerOrderFinal });
    case 'euler':
      return (args) => sampleEuler(args);
    case 'heun':
      return (args) => sampleHeun(args);
    case 'dpm_2':
      return (args) => sampleDpm2(args);
    case 'lms':
      return (args) => sampleLms(args);
    case 'dpmpp_2m':
      return (args) => sampleDpmpp2m(args);
    case 'dpmpp_2s_ancestral':
      return (args) => sampleDpmpp2sAncestral(args, noiseOptions);
    case 'euler_ancestral':
      return (args) => sampleEulerAncestral(args, noiseOptions);
    case 'dpmpp_2m_sde':
      return (args) => sampleDpmpp2mSde(args, noiseOptions);
    case 'consistency':
      return (args) => consistencySample(args, { boundary: s.boundary, timestepScaling: s.timestepScaling });
  }
}
