/** The grid a loaded pipeline's own scheduler config asks for (DiffusionModel.schedulerGrid); built by schedules/diffusers-grids.ts. */

export type DiffusersGridRule = 'ddim' | 'euler' | 'multistep' | 'flow' | 'lcm';
export type DiffusersSpacing = 'linspace' | 'leading' | 'trailing';

/** The fields of a scheduler config that decide its grid, with the class's defaults filled in. */
export interface DiffusersGridConfig {
  className: string;
  rule: DiffusersGridRule;
  numTrainTimesteps: number;
  timestepSpacing: DiffusersSpacing;
  stepsOffset: number;
  /** DDIM: the last step lands on alpha = 1 (t = 0) instead of training step 0. */
  setAlphaToOne: boolean;
  /** `use_karras_sigmas` / `use_exponential_sigmas`. */
  sigmaRamp: 'none' | 'karras' | 'exponential';
  /** Euler / UniPC config overrides of the ramp's ends. */
  sigmaMin?: number;
  sigmaMax?: number;
  finalSigmasType: 'zero' | 'sigma_min';
  /** DPMSolverMultistep: timesteps whose lambda is below this are cut off (−Infinity: none). */
  lambdaMinClipped: number;
  /** FlowMatch: sigma ↦ shift·sigma / (1 + (shift − 1)·sigma). */
  shift: number;
  /** LCMScheduler: the distillation grid's step count (`original_inference_steps`, default 50). */
  originalInferenceSteps?: number;
  /** LCMScheduler: `timestep_scaling` of the consistency boundary scalings (default 10). */
  timestepScaling?: number;
  /** Config features auto cannot reproduce; using auto with any of them is an error that names them. */
  unsupported: string[];
}
