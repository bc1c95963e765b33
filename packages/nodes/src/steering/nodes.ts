/** RewardPotential (→ POTENTIAL) and SteeredSample (Sample with k particles per item and a potential). */
import { defineNode, Tensor } from '@diffgraph/engine';
import { expectClassifier, parseTarget } from '../guiders/classifier.ts';
import { SAMPLE_INPUTS } from '../contracts/start-state.ts';
import { isPotential, POTENTIAL_KINDS, SELECTIONS, STEER_METHODS, type Potential, type Reward } from '../contracts/potential.ts';
import { brightnessReward, classifierReward, colorReward, onImages, targetDistanceReward, type ImageDecoder } from './rewards.ts';
import { steeredSample } from './fk-sample.ts';

export const REWARD_KINDS = ['classifier', 'target_distance', 'brightness', 'color'] as const;
export type RewardKind = (typeof REWARD_KINDS)[number];

function isDecoder(v: unknown): v is ImageDecoder {
  return typeof v === 'object' && v !== null && typeof (v as ImageDecoder).decode === 'function';
}

function numberList(v: unknown, what: string): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.some((n) => typeof n !== 'number' || !Number.isFinite(n))) {
    throw new Error(`RewardPotential: ${what} needs target = a list of numbers, got ${JSON.stringify(v)}`);
  }
  return v as number[];
}

export function makeReward(kind: RewardKind, i: Record<string, any>): Reward {
  const vae = i.vae === undefined ? undefined : i.vae;
  if (vae !== undefined && !isDecoder(vae)) throw new Error('RewardPotential: input "vae" must be a VAE (with decode)');
  switch (kind) {
    case 'classifier': {
      const classifier = expectClassifier(i.classifier, 'RewardPotential');
      return classifierReward(classifier, parseTarget(classifier, i.target, 'RewardPotential'));
    }
    case 'target_distance':
      return targetDistanceReward(numberList(i.target, 'target_distance'));
    case 'brightness':
      return onImages(brightnessReward, vae);
    case 'color':
      return onImages(colorReward(numberList(i.target, 'color')), vae);
  }
}

export const RewardPotential = defineNode({
  type: 'RewardPotential',
  category: 'sampling/steering',
  description: 'A reward on x0-predictions and how Feynman–Kac steering uses it: potential kind, tilt λ, particles per item, resampling schedule and ESS threshold, final selection. best_of_n runs k independent samples and keeps the best.',
  version: 1,
  inputs: {
    reward: { type: 'STRING', enum: REWARD_KINDS, default: 'classifier', tooltip: 'classifier: log p(target | x0); target_distance: −½·mean((x0 − target)²); brightness / color: on the decoded IMAGE' },
    classifier: { type: 'CLASSIFIER', optional: true, tooltip: 'For reward = classifier' },
    vae: { type: 'VAE', optional: true, tooltip: 'Image rewards decode x0 with it (without one, x0 must be pixels in [−1, 1])' },
    target: { type: 'JSON', default: 0, tooltip: 'classifier: label index / name / {head: label}; target_distance: one item\'s values; color: [r, g, b] in [0, 1]' },
    method: { type: 'STRING', enum: STEER_METHODS, default: 'fk' },
    potential: { type: 'STRING', enum: POTENTIAL_KINDS, default: 'max', tooltip: 'FK potential: max (FK text-to-image default), diff, sum, rt' },
    lambda: { type: 'FLOAT', default: 10, min: 0, max: 1e4, step: 0.1, tooltip: 'Tilt: the target is p(x0)·exp(λ·r(x0))' },
    particles: { type: 'INT', default: 4, min: 1, max: 4096, role: 'particles' },
    resample_start: { type: 'INT', default: 0, min: 0, max: 10000, tooltip: 'First step that applies a potential' },
    resample_every: { type: 'INT', default: 1, min: 1, max: 10000 },
    resample_end: { type: 'INT', default: -1, min: -1, max: 10000, tooltip: 'Last step that may apply one (−1: the last step)' },
    ess_threshold: { type: 'FLOAT', default: 1, min: 0, max: 1, step: 0.05, tooltip: 'Resample when ESS < threshold·particles (1: at every scheduled step; FK adaptive: 0.5)' },
    selection: { type: 'STRING', enum: SELECTIONS, default: 'weighted', tooltip: 'weighted: draw one particle by its final weight (samples the tilted target); best: highest final reward' },
    seed: { type: 'INT', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, role: 'seed', tooltip: 'Seed of the resampling draws' },
  },
  outputs: { potential: { type: 'POTENTIAL' } },
  run(i) {
    const potential: Potential = {
      reward: makeReward(i.reward, i),
      method: i.method,
      kind: i.potential,
      lambda: i.lambda,
      particles: i.particles,
      resampleStart: i.resample_start,
      resampleEvery: i.resample_every,
      resampleEnd: i.resample_end,
      essThreshold: i.ess_threshold,
      selection: i.selection,
      seed: i.seed,
    };
    return { potential };
  },
});

export const SteeredSample = defineNode({
  type: 'SteeredSample',
  category: 'sampling',
  description: 'Sample with Feynman–Kac steering (or best-of-N): k particles per latent item as one batch, resampled by a reward potential on x0-predictions; one selected sample per item. Use a stochastic solver (DDIM eta = 1).',
  version: 1,
  inputs: { ...SAMPLE_INPUTS, potential: { type: 'POTENTIAL' } },
  outputs: { samples: { type: 'LATENT' }, denoised: { type: 'LATENT' }, particles: { type: 'LATENT' }, rewards: { type: 'TENSOR' } },
  async run(i, ctx) {
    if (!isPotential(i.potential)) throw new Error('SteeredSample: input "potential" must be a POTENTIAL from RewardPotential');
    const grid = i.sigmas;
    const steps = grid.times.length - 1;
    ctx.progress(0, steps);
    const out = await steeredSample({
      guider: i.guider, solver: i.solver, grid, latent: i.latent, noise: i.noise, potential: i.potential,
      addNoise: i.add_noise, startScale: i.start_scale, signal: ctx.signal,
      onStep: (step) => ctx.progress(step + 1, steps),
    });
    const last = out.trace.at(-1);
    ctx.log(`steering: ${out.trace.length} potential steps${last ? `, last ESS ${last.ess.map((e) => e.toFixed(1)).join('/')}` : ''}`);
    return { samples: out.samples, denoised: out.denoised, particles: out.particles, rewards: Tensor.from([out.rewards.length], out.rewards, 'float64') };
  },
});
