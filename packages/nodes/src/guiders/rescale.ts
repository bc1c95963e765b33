/**
 * CFG with rescaling (Lin et al. 2023, "Common diffusion noise schedules and sample steps are flawed",
 * §3.4; diffusers `rescale_noise_cfg`): in a chosen output space, per sample,
 *   g = CFG(uncond, cond, w);  g_r = g·std(cond)/std(g);  out = φ·g_r + (1 − φ)·g.
 * Which space is rescaled changes the result (the paper targets v-prediction models; diffusers
 * rescales whatever the network outputs), so the space is a choice: the model's own
 * parameterization by default, or eps / v / x0. The ratio of stds is the same with or without
 * Bessel's correction, so population stds are used.
 */
import { CFG_INPUTS } from './cfg-guider.ts';
import { defineNode, type Tensor } from '@diffgraph/engine';
import type { Conditioning, DiffusionModel, Guider } from '../contracts/sampling.ts';
import { predictionFromX0, x0FromPrediction, type Parameterization } from '../contracts/parameterization.ts';
import { composeX0, predictAll } from './batch.ts';

export const RESCALE_SPACES = ['model', 'eps', 'v', 'x0', 'flow'] as const;
export type RescaleSpace = (typeof RESCALE_SPACES)[number];

/** Per-item standard deviation over all non-batch entries. */
export function itemStds(x: Tensor): Float64Array {
  const batch = x.batch;
  const per = x.size / batch;
  const out = new Float64Array(batch);
  for (let b = 0; b < batch; b++) {
    let mean = 0;
    for (let j = b * per; j < (b + 1) * per; j++) mean += x.data[j];
    mean /= per;
    let sq = 0;
    for (let j = b * per; j < (b + 1) * per; j++) sq += (x.data[j] - mean) ** 2;
    out[b] = Math.sqrt(sq / per);
  }
  return out;
}

/** φ·guided·std(reference)/std(guided) + (1 − φ)·guided, per item (an item with std 0 is left as is). */
export function rescaleToReference(guided: Tensor, reference: Tensor, phi: number): Tensor {
  const gs = itemStds(guided);
  const rs = itemStds(reference);
  const out = guided.clone();
  const per = guided.size / guided.batch;
  for (let b = 0; b < guided.batch; b++) {
    if (!(gs[b] > 0)) continue;
    const factor = phi * (rs[b] / gs[b]) + (1 - phi);
    for (let j = b * per; j < (b + 1) * per; j++) out.data[j] *= factor;
  }
  return out;
}

/** The parameterization a space name stands for on this model. */
export function spaceOf(model: DiffusionModel, space: RescaleSpace): Parameterization {
  if (space !== 'model') return space;
  const own = (model as { parameterization?: unknown }).parameterization;
  return own === 'eps' || own === 'v' || own === 'x0' || own === 'flow' ? own : 'eps';
}

export function rescaleGuider(model: DiffusionModel, positive: Conditioning | undefined, negative: Conditioning | undefined, cfg: number, phi: number, space: RescaleSpace = 'model'): Guider {
  const kind = spaceOf(model, space);
  const { schedule } = model;
  return {
    schedule,
    async denoise(x, t) {
      const [uncond, cond] = await predictAll(model, x, t, [negative, positive]);
      const guided = composeX0(uncond, [cond], [cfg]);
      const alpha = schedule.alpha(t), sigma = schedule.sigma(t);
      // eps, v and flow are undefined at sigma = 0 (every prediction equals x there): rescale x0 instead.
      const k: Parameterization = sigma > 0 && alpha > 0 ? kind : 'x0';
      const g = predictionFromX0(k, guided, x, alpha, sigma);
      const c = predictionFromX0(k, cond, x, alpha, sigma);
      return x0FromPrediction(k, rescaleToReference(g, c, phi), x, alpha, sigma);
    },
  };
}

export const RescaleGuidance = defineNode({
  type: 'RescaleGuidance',
  category: 'sampling/guiders',
  description: 'CFG with rescaling (Lin et al. 2023): the guided output is rescaled per sample to the std of the conditional one and mixed with the plain CFG output by phi. Counters over-exposure at high cfg. One batched model call per step.',
  version: 1,
  inputs: {
    ...CFG_INPUTS,
    cfg: { ...CFG_INPUTS.cfg, default: 7.5 },
    phi: { type: 'FLOAT', default: 0.7, min: 0, max: 1, step: 0.05, tooltip: '0 = plain CFG, 1 = fully rescaled (paper: 0.7)' },
    space: { type: 'STRING', enum: RESCALE_SPACES, default: 'model', tooltip: 'Which output is rescaled: the model\'s own parameterization (diffusers), or eps / v / x0 / flow' },
  },
  outputs: { guider: { type: 'GUIDER' } },
  run: (i) => ({ guider: rescaleGuider(i.model, i.positive, i.negative, i.cfg, i.phi, i.space) }),
});
