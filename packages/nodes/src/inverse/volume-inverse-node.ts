/** The VolumeInverseGuider node: 3-D inverse problems sampled slice-wise with a 2-D prior (volume-guider.ts). */
import { defineNode } from '@diffgraph/engine';
import { JACOBIAN_MODES } from './jacobian.ts';
import { volumeInverseGuider } from './volume-guider.ts';

export const VolumeInverseGuider = defineNode({
  type: 'VolumeInverseGuider',
  category: 'sampling/guiders',
  description: 'Solves y = A x + noise for a volume [Z, ...slice] with a 2-D prior: the volume is the batch, so Sample draws it slice-wise; every step this guider replaces the slices\' x0-predictions by the MAP of the Tweedie prior around them, the data term through the volume operator A (which may mix slices), and a total-variation prior along z (ADMM). tv_weight 0 gives the exact linear-Gaussian posterior step (jacobian fd) or its cheap form (skip). Use a latent of batch Z.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER', tooltip: 'The 2-D prior (e.g. BasicGuider); it sees the slices as its batch' },
    operator: { type: 'VOLUME_OPERATOR', tooltip: 'A known linear operator on the volume (VolumeOperator), or a per-slice OPERATOR' },
    observation: { type: 'TENSOR', tooltip: 'y, shaped like A x for a volume of Z slices' },
    sigma_y: { type: 'FLOAT', default: 0.05, min: 0, max: 10, tooltip: 'Measurement noise std' },
    tv_weight: { type: 'FLOAT', default: 1, min: 0, max: 1e6, tooltip: 'λ of the total variation along z, λ·Σ|x_{z+1} − x_z| (0 = slices independent a priori). At high noise a jump below about λ·sigma_y² is flattened' },
    admm_iterations: { type: 'INT', default: 10, min: 1, max: 200, tooltip: 'ADMM iterations per sampling step (tv_weight > 0)' },
    admm_rho: { type: 'FLOAT', default: 1, min: 1e-4, max: 1e4, tooltip: 'ADMM penalty, relative to the prior precision (a convergence-speed knob: the fixed point does not depend on it)' },
    cg_steps: { type: 'INT', default: 20, min: 1, max: 500, tooltip: 'Conjugate-gradient steps per data-consistency solve (stops early when converged; with jacobian fd each costs 2 model evaluations)' },
    jacobian: { type: 'STRING', enum: JACOBIAN_MODES, default: 'skip', tooltip: 'Prior covariance Cov[x0 | x_t]: skip = (sigma/alpha)²·I (no extra model calls) or fd = finite-difference Jacobian of the model (exact for an MMSE denoiser)' },
  },
  outputs: { guider: { type: 'GUIDER' } },
  run: (i) => ({
    guider: volumeInverseGuider(i.guider, i.operator, i.observation, {
      sigmaY: i.sigma_y, tvWeight: i.tv_weight, admmIterations: i.admm_iterations, admmRho: i.admm_rho, cgSteps: i.cg_steps, jacobian: i.jacobian,
    }),
  }),
});
