/**
 * Encoders for editing: DDIMInversion (image → start latent of a deterministic DDIM run) and DPMEncode
 * (image → the noise sequence that makes a stochastic DDIM run reproduce it; CycleDiffusion).
 * Image-to-image translation: DPMEncode with the source guider, then Sample with the target guider,
 * the encoder's noise, the same sigmas and a DDIM solver with the same eta (workflows/cycle-diffusion-gmm.json).
 */
import { defineNode } from '@diffgraph/engine';
import { dpmEncode } from './dpm-encode.ts';
import { START_SCALES } from '../contracts/start-state.ts';
import { ddimInvert } from './ddim-inversion.ts';

export const DPMEncode = defineNode({
  type: 'DPMEncode',
  category: 'encoder',
  description: 'CycleDiffusion\'s DPM-Encoder: the noises (start + one per step) under which a DDIM(eta) sampler on these sigmas reproduces the latent exactly. Feed "noise" to Sample (add_noise on, same latent, same start_scale) or "latent" (add_noise off), with a DDIM solver of the same eta; swap the guider to translate.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER', tooltip: 'The source model/condition (θ1)' },
    sigmas: { type: 'SIGMAS', tooltip: 'Must end above sigma = 0 (e.g. logSNR to tMin); denoise < 1 for partial encodings' },
    latent: { type: 'LATENT', tooltip: 'The clean latent (image) to encode' },
    noise: { type: 'NOISE', tooltip: 'The encoder\'s own seeded randomness' },
    eta: { type: 'FLOAT', default: 0.1, min: 0.001, max: 1, step: 0.01 },
    start_scale: { type: 'STRING', enum: START_SCALES, default: 'auto', tooltip: 'Must match the Sample node\'s start_scale' },
  },
  outputs: { noise: { type: 'NOISE' }, latent: { type: 'LATENT', tooltip: 'The encoded state at the first time of the grid' } },
  async run(i, ctx) {
    const grid = i.sigmas;
    const steps = grid.times.length - 1;
    const code = await dpmEncode({
      guider: i.guider, x0: i.latent, times: grid.times, eta: i.eta, noise: i.noise,
      startScale: i.start_scale, gridStart: grid.start, hooks: { signal: ctx.signal, onStep: ({ step }) => ctx.progress(step + 1, steps) },
    });
    return { noise: code.noise, latent: code.start };
  },
});

export const DDIMInversion = defineNode({
  type: 'DDIMInversion',
  category: 'encoder',
  description: 'Deterministic DDIM run backwards: the latent at the first time of the sigmas from which DDIM (eta 0) on the same sigmas returns this latent. Feed it to Sample with add_noise off.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER', tooltip: 'Use guidance scale 1 (the plain model) for inversion' },
    sigmas: { type: 'SIGMAS' },
    latent: { type: 'LATENT' },
    refine: { type: 'INT', default: 0, min: 0, max: 20, tooltip: 'Fixed-point iterations per step on the exact DDIM equation (one model call each)' },
  },
  outputs: { latent: { type: 'LATENT' } },
  async run(i, ctx) {
    const grid = i.sigmas;
    const steps = grid.times.length - 1;
    const latent = await ddimInvert({
      guider: i.guider, x0: i.latent, times: grid.times, refine: i.refine,
      hooks: { signal: ctx.signal, onStep: ({ step }) => ctx.progress(step + 1, steps) },
    });
    return { latent };
  },
});
