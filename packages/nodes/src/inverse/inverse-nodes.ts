/** Workflow nodes for inverse problems: InverseProblemGuider (DPS, FlowChef) and RedDiffSolver. */
import { defineNode } from '@diffgraph/engine';
import { dpsGuider } from './dps.ts';
import { flowChefGuider } from './flowchef.ts';
import { JACOBIAN_MODES } from './jacobian.ts';
import { RED_WEIGHTINGS, redDiffSolver } from './red-diff.ts';

export const INVERSE_METHODS = ['dps', 'flowchef'] as const;

export const InverseProblemGuider = defineNode({
  type: 'InverseProblemGuider',
  category: 'sampling/guiders',
  description: 'Solves y = A x0 + noise for a known operator by correcting the inner guider\'s x0-prediction each step: DPS (likelihood gradient through the x0-prediction, Jacobian skipped or by finite differences, step sized by the predicted measurement covariance) or FlowChef (gradient-skipping steps for flow models). RED-diff is the RedDiffSolver node.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER' },
    operator: { type: 'OPERATOR' },
    observation: { type: 'LATENT', tooltip: 'y, shaped like A x (batch 1 or the batch of the states)' },
    method: { type: 'STRING', enum: INVERSE_METHODS, default: 'dps' },
    zeta: { type: 'FLOAT', default: 1, min: 0, max: 10, step: 0.05, tooltip: 'DPS: step multiplier (1 = the conditional-mean step)' },
    sigma_y: { type: 'FLOAT', default: 0.05, min: 0, max: 10, tooltip: 'DPS: measurement noise std' },
    jacobian: { type: 'STRING', enum: JACOBIAN_MODES, default: 'skip', tooltip: 'DPS: skip the denoiser Jacobian (G1) or use a finite-difference VJP (G2, 2 extra model evaluations)' },
    cg_steps: { type: 'INT', default: 1, min: 1, max: 50, tooltip: 'DPS: conjugate-gradient steps on (A C Aᵀ + σ_y²) w = r (1 is exact for mask/avgpool/grayscale; blur needs more)' },
    lr: { type: 'FLOAT', default: 0.5, min: 0, max: 100, tooltip: 'FlowChef: step on ½‖A x0 − y‖²' },
    iterations: { type: 'INT', default: 1, min: 1, max: 50, tooltip: 'FlowChef: gradient steps per sampling step' },
  },
  outputs: { guider: { type: 'GUIDER' } },
  run(i) {
    const inner = i.guider, A = i.operator, y = i.observation;
    const guider = i.method === 'flowchef'
      ? flowChefGuider(inner, A, y, { lr: i.lr, iterations: i.iterations })
      : dpsGuider(inner, A, y, { zeta: i.zeta, sigmaY: i.sigma_y, jacobian: i.jacobian, iterations: i.cg_steps });
    return { guider };
  },
});

export const RedDiffSolver = defineNode({
  type: 'RedDiffSolver',
  category: 'sampling/solvers',
  description: 'RED-diff: variational posterior mean for y = A x0 + noise, optimised with Adam over the grid from T to 0 (one model call per step, SNR-weighted denoising regulariser). Use with Sample; its latent only gives the batch shape, its noise the per-step draws.',
  version: 1,
  inputs: {
    operator: { type: 'OPERATOR' },
    observation: { type: 'LATENT' },
    lambda: { type: 'FLOAT', default: 0.25, min: 0, max: 100 },
    lr: { type: 'FLOAT', default: 0.1, min: 0, max: 10 },
    data_weight: { type: 'FLOAT', default: 1, min: 0, max: 1e6 },
    weighting: { type: 'STRING', enum: RED_WEIGHTINGS, default: 'linear', tooltip: 'λ_t = λ·w(sigma/alpha)' },
  },
  outputs: { solver: { type: 'SOLVER' } },
  run(i) {
    const solve = redDiffSolver({ operator: i.operator, observation: i.observation, lambda: i.lambda, lr: i.lr, dataWeight: i.data_weight, weighting: i.weighting });
    return { solver: { kind: 'red_diff', solve } };
  },
});
