/**
 * ComfyUI's `sampler_name` and `scheduler` values as our Solver and Schedule settings. Every value
 * ComfyUI lists appears here: the ones with no equivalent map to null, so the import names them
 * instead of silently sampling with something else. docs/comfyui.md documents the same table.
 */

export type SolverSettings = Record<string, string | number | boolean>;

const ancestral = { eta: 1 };

export const COMFY_SAMPLERS: Record<string, SolverSettings | null> = {
  euler: { kind: 'euler' },
  euler_ancestral: { kind: 'euler_ancestral', ...ancestral },
  heun: { kind: 'heun' },
  dpm_2: { kind: 'dpm_2' },
  lms: { kind: 'lms' },
  dpmpp_2s_ancestral: { kind: 'dpmpp_2s_ancestral', ...ancestral },
  dpmpp_2m: { kind: 'dpmpp_2m' },
  // ComfyUI draws the SDE noise from a Brownian tree; ours is fresh seeded noise per step.
  dpmpp_2m_sde: { kind: 'dpmpp_2m_sde', ...ancestral },
  dpmpp_2m_sde_gpu: { kind: 'dpmpp_2m_sde', ...ancestral },
  ddim: { kind: 'ddim', eta: 0 },
  // ComfyUI's DDPMSampler_step is the DDPM posterior draw, which is DDIM with eta 1.
  ddpm: { kind: 'ddim', eta: 1 },
  // sample_lcm: x0, then re-noised to the next sigma with fresh noise; the last step returns x0. With
  // the model's own (eps) sampling ComfyUI applies no boundary scalings, so x0 is the consistency function.
  lcm: { kind: 'consistency', boundary: 'none' },
  uni_pc: { kind: 'unipc', variant: 'bh1', order: 3 },
  uni_pc_bh2: { kind: 'unipc', variant: 'bh2', order: 3 },
  deis: { kind: 'deis', order: 3 },
  euler_cfg_pp: null,
  euler_ancestral_cfg_pp: null,
  heunpp2: null,
  dpm_2_ancestral: null,
  dpm_fast: null,
  dpm_adaptive: null,
  dpmpp_2s_ancestral_cfg_pp: null,
  dpmpp_sde: null,
  dpmpp_sde_gpu: null,
  dpmpp_2m_cfg_pp: null,
  dpmpp_2m_sde_heun: null,
  dpmpp_2m_sde_heun_gpu: null,
  dpmpp_3m_sde: null,
  dpmpp_3m_sde_gpu: null,
  ipndm: null,
  ipndm_v: null,
  res_multistep: null,
  res_multistep_cfg_pp: null,
  res_multistep_ancestral: null,
  res_multistep_ancestral_cfg_pp: null,
  gradient_estimation: null,
  gradient_estimation_cfg_pp: null,
  er_sde: null,
  seeds_2: null,
  seeds_3: null,
  sa_solver: null,
  sa_solver_pece: null,
};

/** Schedule `spacing` per ComfyUI scheduler (null: no equivalent). */
export const COMFY_SCHEDULERS: Record<string, string | null> = {
  normal: 'comfy_normal',
  karras: 'karras',
  exponential: 'exponential',
  simple: 'comfy_simple',
  sgm_uniform: 'comfy_sgm_uniform',
  ddim_uniform: 'comfy_ddim_uniform',
  beta: null,
  linear_quadratic: null,
  kl_optimal: null,
};
