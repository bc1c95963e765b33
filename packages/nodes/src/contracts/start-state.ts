/** What a sampling run needs, and the state it starts from. */
import { combine, defineInputs, type Tensor } from '@diffgraph/engine';
import type { Guider, NoiseGenerator, Solver, TimeGrid } from './sampling.ts';

/** Sample's start_scale: auto follows the grid's `start`, and is unit for grids without one. */
export const START_SCALES = ['auto', 'unit', 'sigma'] as const;
export type StartScale = (typeof START_SCALES)[number];

/**
 * Whether a noised start is the noise itself rather than alpha(t0)·latent + sigma(t0)·noise: 'unit' on a
 * grid from tMax (a full denoise), or auto on a grid whose scheduler starts from the noise.
 */
export function startsFromNoise(startScale: StartScale, grid: Pick<TimeGrid, 'times' | 'start'>, tMax: number): boolean {
  const scale = startScale === 'auto' ? (grid.start ?? 'unit') : startScale;
  return scale === 'noise' || (scale === 'unit' && grid.times[0] >= tMax);
}

export interface SampleRequest {
  guider: Guider;
  solver: Solver;
  grid: TimeGrid;
  latent: Tensor;
  noise: NoiseGenerator;
  addNoise: boolean;
  /** 'unit': a full denoise starts at the noise itself (DPM-Solver, diffusers); 'sigma': at alpha·latent + sigma·noise (k-diffusion); auto: as the grid's scheduler does. */
  startScale: StartScale;
  signal?: AbortSignal;
  onStep?: (step: number, steps: number, denoised: Tensor) => void;
}

/**
 * The start state at times[0]. Without noise the latent is the state, unscaled (how an exact
 * reference start is fed in). With noise, a grid that starts below the schedule's tMax (img2img,
 * denoise < 1) or the 'sigma' convention gives alpha(t0)·latent + sigma(t0)·noise; otherwise a full
 * denoise starts at the noise itself (see `startsFromNoise` for auto).
 */
export function startState(r: SampleRequest): Tensor {
  if (!r.addNoise) return r.latent.clone();
  const { schedule } = r.guider;
  const t0 = r.grid.times[0];
  const noise = r.noise.sample(r.latent, 0);
  if (startsFromNoise(r.startScale, r.grid, schedule.tMax)) return noise;
  return combine([schedule.alpha(t0), schedule.sigma(t0)], [r.latent, noise]);
}

/** The inputs every sampling node shares (Sample, SteeredSample). */
export const SAMPLE_INPUTS = defineInputs({
  noise: { type: 'NOISE' },
  guider: { type: 'GUIDER' },
  solver: { type: 'SOLVER' },
  sigmas: { type: 'SIGMAS' },
  latent: { type: 'LATENT' },
  add_noise: { type: 'BOOLEAN', default: true, tooltip: 'Off: the latent is the exact start state at the first time of the grid' },
  start_scale: { type: 'STRING', enum: START_SCALES, default: 'auto', tooltip: 'Full denoise starts at the noise (unit: DPM-Solver/diffusers) or at alpha·latent + sigma·noise (sigma: k-diffusion). auto: as the scheduler a Schedule with spacing auto reproduces (Euler with linspace/trailing: sigma; the others: the noise), unit for every other grid' },
});
