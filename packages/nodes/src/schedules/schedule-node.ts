import { defineNode, jsonInput } from '@diffgraph/engine';
import type { NoiseSchedule, TimeGrid } from '../contracts/sampling.ts';
import { COMFY_GRIDS, comfyTimes, type ComfyGrid } from './comfy-grids.ts';
import { diffusersStart, diffusersTimes, type DiffusersGridConfig } from './diffusers-grids.ts';
import { customTimeGrid, timeGrid, truncateForDenoise, type GridSpacing } from './grids.ts';
import { kdiffusionTimes } from './sigma-grids.ts';

export const SPACINGS = ['auto', 'logSNR', 'time_uniform', 'time_quadratic', 'karras', 'exponential', 'uniform', 'trailing', 'leading', ...COMFY_GRIDS, 'custom'] as const;
export type Spacing = (typeof SPACINGS)[number];

export interface GridRequest {
  spacing: Spacing;
  steps: number;
  denoise: number;
  rho: number;
  tEnd?: number;
  custom?: readonly number[];
  /** auto: the model's scheduler config; without one auto is logSNR (DPM-Solver's own choice). */
  schedulerGrid?: DiffusersGridConfig;
}

/** What auto means for a model without a scheduler config (GaussianMixtureModel, LoadOnnxModel). */
export const AUTO_WITHOUT_CONFIG: Spacing = 'logSNR';

function autoRuleLabel(cfg: DiffusersGridConfig): string {
  if (cfg.rule === 'flow') return `shift ${cfg.shift}`;
  if (cfg.rule === 'lcm') return `original ${cfg.originalInferenceSteps ?? 50}`;
  return cfg.timestepSpacing;
}

/** A time grid by name. karras, exponential and ComfyUI's (comfy_*) end at t = 0 (sigma = 0), as k-diffusion's do. */
export function buildGrid(schedule: NoiseSchedule, r: GridRequest): TimeGrid {
  switch (r.spacing) {
    case 'auto': {
      const cfg = r.schedulerGrid;
      if (!cfg) return buildGrid(schedule, { ...r, spacing: AUTO_WITHOUT_CONFIG });
      const spacing = `auto (${cfg.className} ${autoRuleLabel(cfg)}${cfg.sigmaRamp === 'none' ? '' : ` ${cfg.sigmaRamp}`})`;
      const times = truncateForDenoise((n) => diffusersTimes(schedule, cfg, n), r.steps, r.denoise);
      const lcm = cfg.rule === 'lcm' ? { lcm: { timestepScaling: cfg.timestepScaling ?? 10 } } : {};
      // img2img (denoise < 1) starts from the noised image as every grid does.
      return r.denoise === 1 ? { times, spacing, start: diffusersStart(cfg), ...lcm } : { times, spacing, ...lcm };
    }
    case 'custom':
      if (!r.custom) throw new Error('spacing "custom" needs the "times" input (a decreasing list of times)');
      return { times: customTimeGrid(r.custom, schedule), spacing: r.spacing };
    case 'comfy_normal':
    case 'comfy_sgm_uniform':
    case 'comfy_simple':
    case 'comfy_ddim_uniform':
      return { times: truncateForDenoise((n) => comfyTimes(schedule, r.spacing as ComfyGrid, n), r.steps, r.denoise), spacing: r.spacing };
    case 'karras':
    case 'exponential':
      return { times: truncateForDenoise((n) => kdiffusionTimes(schedule, r.spacing as 'karras', n, { rho: r.rho }), r.steps, r.denoise), spacing: r.spacing };
    default:
      return { times: timeGrid(schedule, { spacing: r.spacing as GridSpacing, steps: r.steps, denoise: r.denoise, tEnd: r.tEnd }), spacing: r.spacing };
  }
}

export const Schedule = defineNode({
  type: 'Schedule',
  category: 'sampling/schedulers',
  description: 'The time grid a solver steps over, built on the model\'s noise schedule. auto is the grid the model\'s own scheduler config asks for (diffusers\' set_timesteps); logSNR / time_uniform / time_quadratic are DPM-Solver\'s; karras and exponential are k-diffusion\'s and end at sigma = 0; uniform / trailing / leading are diffusers\' discrete spacings; comfy_normal / comfy_sgm_uniform / comfy_simple / comfy_ddim_uniform are ComfyUI\'s KSampler schedulers (steps intervals ending at sigma = 0).',
  // 2: the default spacing became auto, so a node without "spacing" means another grid than in version 1.
  version: 2,
  inputs: {
    model: { type: 'MODEL' },
    spacing: {
      type: 'STRING', enum: SPACINGS, default: 'auto', summary: true,
      tooltip: 'auto: the grid of the loaded pipeline\'s scheduler_config.json (timestep_spacing, steps_offset, set_alpha_to_one, use_karras_sigmas, final_sigmas_type, flow shift; rules of its _class_name: DDIM, Euler, DPM-Solver multistep, UniPC, FlowMatchEuler, LCM: original_inference_steps and timestep_scaling); logSNR for models without one. The others ignore the config',
    },
    steps: { type: 'INT', default: 20, min: 1, max: 1000, role: 'steps', summary: true },
    denoise: { type: 'FLOAT', default: 1, min: 0.01, max: 1, step: 0.01, summary: true, tooltip: 'Below 1: img2img, the last steps of a longer grid' },
    rho: { type: 'FLOAT', default: 7, min: 0.1, max: 100, tooltip: 'karras: concentration of steps at low noise (auto uses diffusers\' fixed 7)' },
    t_end: { type: 'FLOAT', optional: true, min: 0, max: 1, tooltip: 'DPM-Solver grids (logSNR, time_uniform, time_quadratic): last time (default: the schedule\'s tMin, 1/N or 1e-3)' },
    times: jsonInput<number[]>({ optional: true, schema: { type: 'array', items: { type: 'number' }, minItems: 2 }, tooltip: 'custom: a decreasing list of times' }),
  },
  outputs: { sigmas: { type: 'SIGMAS' } },
  run({ model, spacing, steps, denoise, rho, t_end, times }) {
    const m = model;
    return { sigmas: buildGrid(m.schedule, { spacing, steps, denoise, rho, tEnd: t_end, custom: times, schedulerGrid: m.schedulerGrid }) };
  },
});
