import { defineNode } from '@diffgraph/engine';
import { makeSolver, SOLVER_KINDS, type SolverKind } from './catalog.ts';

/** Which kinds read each setting (makeSolver's mapping), so editors show only those that apply. */
const kinds = (...values: SolverKind[]) => ({ input: 'kind', values });
const DPM_SOLVER = ['dpmsolver++', 'dpmsolver'] as const;
const ORDERED = [...DPM_SOLVER, 'unipc', 'deis', 'dpm_solver_v3'] as const;
const NOISY = ['dpmpp_2s_ancestral', 'euler_ancestral', 'dpmpp_2m_sde'] as const;

export const SolverNode = defineNode({
  type: 'Solver',
  category: 'sampling/solvers',
  description: 'Chooses the ODE/SDE solver and its settings. Exponential integrators (DPM-Solver, DPM-Solver++, UniPC, DEIS, DDIM, DPM-Solver-v3) work in log-SNR; the k-diffusion family works on VE sigmas; consistency is multistep consistency / LCM sampling (one call per step, re-noised with seeded noise).',
  version: 1,
  inputs: {
    kind: { type: 'STRING', enum: SOLVER_KINDS, default: 'dpmsolver++', summary: 'solver' },
    order: { type: 'INT', default: 2, min: 1, max: 3, summary: true, appliesWhen: kinds(...ORDERED), tooltip: 'DPM-Solver, UniPC, DEIS: solver order' },
    method: { type: 'STRING', enum: ['multistep', 'singlestep'], default: 'multistep', appliesWhen: kinds(...DPM_SOLVER), tooltip: 'DPM-Solver(++) only. singlestep is the official DPM-Solver-fast: the schedule\'s steps are the model calls, spent in outer steps of this order (lower at the end), e.g. 20 steps at order 3 = 6 third-order steps and one second-order step' },
    lower_order_final: { type: 'BOOLEAN', default: true, appliesWhen: kinds(...ORDERED), tooltip: 'Lower the order of the last steps on short grids (< 10 steps), as the official code' },
    variant: { type: 'STRING', enum: ['bh2', 'bh1'], default: 'bh2', appliesWhen: kinds('unipc'), tooltip: 'UniPC: B(h) = e^h − 1 (bh2) or h (bh1)' },
    prediction: { type: 'STRING', enum: ['data', 'noise'], default: 'data', appliesWhen: kinds('unipc', 'deis'), tooltip: 'UniPC and DEIS: build the update on x0 (data) or eps (noise) predictions' },
    eta: { type: 'FLOAT', default: 0, min: 0, max: 1, step: 0.05, summary: true, appliesWhen: kinds('ddim', ...NOISY), tooltip: 'DDIM and ancestral/SDE solvers: amount of fresh noise per step' },
    s_noise: { type: 'FLOAT', default: 1, min: 0, max: 2, step: 0.01, appliesWhen: kinds(...NOISY) },
    threshold_ratio: { type: 'FLOAT', default: 0, min: 0, max: 1, appliesWhen: kinds('dpmsolver++'), tooltip: 'DPM-Solver++: dynamic thresholding quantile (0 = off; Imagen uses 0.995)' },
    threshold_max: { type: 'FLOAT', default: 1, min: 0, appliesWhen: kinds('dpmsolver++') },
    boundary: { type: 'STRING', enum: ['lcm', 'none'], default: 'lcm', appliesWhen: kinds('consistency'), tooltip: 'Consistency: lcm = c_skip·x + c_out·x0 with LCM\'s boundary scalings (c_skip = 1, c_out = 0 at timestep 0); none = the model\'s x0 is already the consistency function (e.g. MixtureConsistencyModel)' },
    timestep_scaling: { type: 'FLOAT', optional: true, min: 0, appliesWhen: kinds('consistency'), tooltip: 'Consistency: LCM timestep_scaling (unset: the LCMScheduler config of a Schedule with spacing auto, else diffusers\' 10)' },
    statistics: { type: 'STATISTICS', optional: true, appliesWhen: kinds('dpm_solver_v3'), tooltip: 'DPM-Solver-v3: the model\'s statistics (ModelStatistics); absent: neutral (l = 1, s = b = 0), where order 1 is DDIM' },
    corrector: { type: 'BOOLEAN', default: true, appliesWhen: kinds('dpm_solver_v3'), tooltip: 'DPM-Solver-v3: correct each step of order ≥ 2 with the next model call (no extra calls; the official advice is off for many steps)' },
    pseudo_predictor: { type: 'BOOLEAN', default: false, appliesWhen: kinds('dpm_solver_v3'), tooltip: 'DPM-Solver-v3, order 3: predictor derivatives by divided differences (the official pseudo-order predictor, used at ≤ 5 steps with lower_order_final off)' },
  },
  outputs: { solver: { type: 'SOLVER' } },
  run(i) {
    const { kind, order } = i;
    if (order !== 1 && order !== 2 && order !== 3) throw new Error(`Solver: input "order" must be 1, 2 or 3, got ${order}`);
    const solve = makeSolver(kind, {
      order, method: i.method, lowerOrderFinal: i.lower_order_final, variant: i.variant,
      prediction: i.prediction, eta: i.eta, sNoise: i.s_noise, thresholdRatio: i.threshold_ratio, thresholdMax: i.threshold_max,
      boundary: i.boundary, timestepScaling: i.timestep_scaling, statistics: i.statistics, useCorrector: i.corrector, pseudoPredictor: i.pseudo_predictor,
    });
    return { solver: { kind, solve } };
  },
});
