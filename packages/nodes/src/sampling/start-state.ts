/** What a sampling run needs, and the state it starts from. */
import { combine, type Tensor } from '@diffgraph/engine';
import type { Guider, NoiseGenerator, Solver, TimeGrid } from './contracts.ts';

export interface SampleRequest {
  guider: Guider;
  solver: Solver;
  grid: TimeGrid;
  latent: Tensor;
  noise: NoiseGenerator;
  addNoise: boolean;
  /** 'unit': a full denoise starts at the noise itself (DPM-Solver, diffusers); 'sigma': at alpha·latent + sigma·noise (k-diffusion). */
  startScale: 'unit' | 'sigma';
  signal?: AbortSignal;
  onStep?: (step: number, steps: number, denoised: Tensor) => void;
}

/**
 * The start state at times[0]. Without noise the latent is the state, unscaled (how an exact
 * reference start is fed in). With noise, a grid that starts below the schedule's tMax (img2img,
 * denoise < 1) or the 'sigma' convention gives alpha(t0)·latent + sigma(t0)·noise; otherwise a full
 * denoise starts at the noise itself.
 */
export function startState(r: SampleRequest): Tensor {
  if (!r.addNoise) return r.latent.clone();
  const { schedule } = r.guider;
  const t0 = r.grid.times[0];
  const noise = r.noise.sample(r.latent, 0);
  if (r.startScale === 'unit' && t0 >= schedule.tMax) return noise;
  return combine([schedule.alpha(t0), schedule.sigma(t0)], [r.latent, noise]);
}

