/**
 * The k-diffusion samplers by their k-diffusion names, for nodes and tests that pick one by name.
 * All take SolveArgs (a decreasing grid of times, usually from schedules/sigma-grids.ts, ending at t = 0)
 * and return the final state in the model's space.
 */
import type { Tensor } from '@diffgraph/engine';
import type { SolveArgs } from '../contracts/sampling.ts';
import { sampleDpm2, type KDpm2Options } from './kdiffusion-dpm2.ts';
import { sampleDpmpp2m, type KDpmpp2mOptions } from './kdiffusion-dpmpp-2m.ts';
import { sampleDpmpp2mSde, type KDpmpp2mSdeOptions } from './kdiffusion-dpmpp-2m-sde.ts';
import { sampleDpmpp2sAncestral, type KDpmpp2sAncestralOptions } from './kdiffusion-dpmpp-2s-ancestral.ts';
import { sampleEuler, type KEulerOptions } from './kdiffusion-euler.ts';
import { sampleEulerAncestral, type KEulerAncestralOptions } from './kdiffusion-euler-ancestral.ts';
import { sampleHeun, type KHeunOptions } from './kdiffusion-heun.ts';
import { sampleLms, type KLmsOptions } from './kdiffusion-lms.ts';

export * from './kdiffusion-common.ts';
export { sampleDpm2, sampleDpmpp2m, sampleDpmpp2mSde, sampleDpmpp2sAncestral, sampleEuler, sampleEulerAncestral, sampleHeun, sampleLms };
export { lmsCoefficient } from './kdiffusion-lms.ts';
export type {
  KDpm2Options,
  KDpmpp2mOptions,
  KDpmpp2mSdeOptions,
  KDpmpp2sAncestralOptions,
  KEulerOptions,
  KEulerAncestralOptions,
  KHeunOptions,
  KLmsOptions,
};

export interface KDiffusionSamplerOptions {
  sample_euler: KEulerOptions;
  sample_heun: KHeunOptions;
  sample_dpm_2: KDpm2Options;
  sample_lms: KLmsOptions;
  sample_dpmpp_2m: KDpmpp2mOptions;
  sample_dpmpp_2s_ancestral: KDpmpp2sAncestralOptions;
  sample_euler_ancestral: KEulerAncestralOptions;
  sample_dpmpp_2m_sde: KDpmpp2mSdeOptions;
}

export type KDiffusionSamplerName = keyof KDiffusionSamplerOptions;

export const kdiffusionSamplers: { [K in KDiffusionSamplerName]: (args: SolveArgs, options?: KDiffusionSamplerOptions[K]) => Promise<Tensor> } = {
  sample_euler: sampleEuler,
  sample_heun: sampleHeun,
  sample_dpm_2: sampleDpm2,
  sample_lms: sampleLms,
  sample_dpmpp_2m: sampleDpmpp2m,
  sample_dpmpp_2s_ancestral: sampleDpmpp2sAncestral,
  sample_euler_ancestral: sampleEulerAncestral,
  sample_dpmpp_2m_sde: sampleDpmpp2mSde,
};
