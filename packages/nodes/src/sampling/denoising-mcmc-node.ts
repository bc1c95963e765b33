import { defineNode } from '@diffgraph/engine';
import { isMixtureModel } from './consistency-model.ts';
import { denoisingMcmc } from './denoising-mcmc.ts';
import { chainLevels } from './noise-level.ts';

export const DenoisingMCMC = defineNode({
  type: 'DenoisingMCMC',
  category: 'sampling',
  description: 'Denoising MCMC: Langevin–Gibbs chains over (x, noise level) with the model\'s score and a noise-level estimate; each round keeps every chain\'s lowest-level state and solves the ODE from that level on the grid\'s times below it. One chain per latent item; rounds·batch samples.',
  version: 1,
  inputs: {
    noise: { type: 'NOISE' },
    guider: { type: 'GUIDER' },
    solver: { type: 'SOLVER', tooltip: 'Any solver: it makes the chains\' initial sample on the whole grid and every output from the chain\'s level down' },
    sigmas: { type: 'SIGMAS' },
    latent: { type: 'LATENT', tooltip: 'One chain per item' },
    estimator: { type: 'STRING', enum: ['residual', 'exact'], default: 'residual', summary: true, tooltip: 'Noise level of a state: residual = the level where ‖u − D(u, σ)‖²/(dσ²) crosses 1 (bisection, any model); exact = a draw from the analytic mixture\'s posterior over the levels (needs mixture)' },
    mixture: { type: 'MODEL', optional: true, appliesWhen: { input: 'estimator', values: ['exact'] }, tooltip: 'The GaussianMixtureModel whose exact noised density gives the levels\' posterior' },
    levels: { type: 'INT', default: 100, min: 2, max: 1000, tooltip: 'Geometric noise levels of the chain (VE sigma) between sigma_min and sigma_max' },
    sigma_min: { type: 'FLOAT', default: 0.05, min: 0, step: 0.01 },
    sigma_max: { type: 'FLOAT', default: 5, min: 0, step: 0.1 },
    eta: { type: 'FLOAT', default: 0.5, min: 0.01, max: 2, step: 0.01, summary: true, tooltip: 'Langevin step as a fraction of sigma²' },
    skp: { type: 'INT', default: 10, min: 1, max: 1000, summary: true, tooltip: 'Langevin–Gibbs iterations per round (one model call each per chain, plus the estimator\'s)' },
    burn_in: { type: 'INT', default: 20, min: 0, max: 10000 },
    rounds: { type: 'INT', default: 1, min: 1, max: 1000, tooltip: 'Output batches per chain: the chain and its start-up cost are shared by them' },
    init_sigma: { type: 'FLOAT', default: 0.5, min: 0, step: 0.05, tooltip: 'VE noise added to the chains\' initial sample' },
  },
  outputs: {
    samples: { type: 'LATENT' },
    start_sigmas: { type: 'TENSOR', tooltip: 'The VE noise level at which each sample\'s ODE solve started' },
    evaluations_per_sample: { type: 'FLOAT', tooltip: 'Model evaluations per output sample, chain start-up included' },
  },
  async run(i, ctx) {
    const schedule = i.guider.schedule;
    let levels;
    try {
      levels = chainLevels(schedule, i.sigma_min, i.sigma_max, i.levels);
    } catch (error) {
      throw new Error(`DenoisingMCMC: inputs "sigma_min", "sigma_max", "levels": ${(error as Error).message}`);
    }
    if (i.estimator === 'exact') {
      if (!i.mixture) throw new Error('DenoisingMCMC: estimator "exact" needs the input "mixture" (a GaussianMixtureModel)');
      if (!isMixtureModel(i.mixture)) throw new Error(`DenoisingMCMC: input "mixture" must come from a GaussianMixtureModel, got ${i.mixture.name}`);
    }
    const result = await denoisingMcmc({
      guider: i.guider, solver: i.solver, grid: i.sigmas, latent: i.latent, noise: i.noise, levels,
      estimator: i.estimator, mixture: i.mixture && isMixtureModel(i.mixture) ? i.mixture.mixture : undefined,
      eta: i.eta, skp: i.skp, burnIn: i.burn_in, rounds: i.rounds, initSigma: i.init_sigma,
      signal: ctx.signal, onProgress: (done, total) => ctx.progress(done, total),
    });
    ctx.log(`denoising MCMC: ${result.evaluationsPerSample.toFixed(1)} model evaluations per sample in ${result.calls} calls`);
    return { samples: result.samples, start_sigmas: result.startSigmas, evaluations_per_sample: result.evaluationsPerSample };
  },
});
