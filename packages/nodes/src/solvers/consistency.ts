/**
 * Multistep consistency sampling (Song et al. 2023, Algorithm 1; Luo et al.'s LCM, diffusers
 * `LCMScheduler.step`). One model call per step. At grid time t_i the consistency function is
 *
 *   f(x, t_i) = c_skip(t_i)·x + c_out(t_i)·x0(x, t_i),
 *
 * with the boundary scalings of a latent consistency model (`lcmBoundaryScalings`): c_skip = 1 and
 * c_out = 0 at network timestep 0, so f(x, ε) = x, and f ≈ x0 away from it. Then the state is re-noised
 * to the next time with fresh seeded noise z: x_{i+1} = alpha(t_{i+1})·f + sigma(t_{i+1})·z. The last
 * step draws no noise and returns f itself (diffusers' "noise is not used on the final timestep"), so
 * the grid's last time stands for the boundary ε: an LCM grid (Schedule auto on an LCMScheduler config)
 * ends at t = 0, where re-noising is the identity anyway.
 *
 * `boundary: 'none'` takes the model's x0 prediction as the consistency function itself (c_skip = 0,
 * c_out = 1), for models that already satisfy the boundary condition, e.g. the exact ODE solution map
 * of the analytic mixture (sampling/consistency-model.ts). With an exact consistency function every step
 * maps x_t ~ p_t to an exact sample of p_0, and re-noising gives x ~ p_{t'} again, so the sampler keeps
 * the exact marginal at every step count.
 */
import { combine, type Tensor } from '@diffgraph/engine';
import type { NoiseSchedule, SolveArgs } from '../contracts/sampling.ts';
import { throwIfAborted } from './exponential-common.ts';

/** diffusers fixes sigma_data to 0.5 inside get_scalings_for_boundary_condition_discrete. */
export const LCM_SIGMA_DATA = 0.5;
/** diffusers' LCMScheduler default `timestep_scaling`. */
export const LCM_TIMESTEP_SCALING = 10;

export type ConsistencyBoundaryKind = 'lcm' | 'none';

export interface ConsistencyOptions {
  /** 'lcm' (default): LCM's c_skip / c_out; 'none': the model's x0 is the consistency function. */
  boundary?: ConsistencyBoundaryKind;
  /** LCM `timestep_scaling`: the network timestep is multiplied by it in the scalings. Default: the grid's LCM config (args.lcm), else diffusers' 10. */
  timestepScaling?: number;
  sigmaData?: number;
}

/**
 * LCM's boundary scalings at network timestep `timestep` (diffusers'
 * `get_scalings_for_boundary_condition_discrete`): with s = timestep·timestepScaling,
 * c_skip = sigmaData²/(s² + sigmaData²), c_out = s/sqrt(s² + sigmaData²). Negative timesteps (times below
 * the first training step) are clamped to 0, where the boundary condition c_skip = 1, c_out = 0 holds.
 */
export function lcmBoundaryScalings(timestep: number, timestepScaling = LCM_TIMESTEP_SCALING, sigmaData = LCM_SIGMA_DATA): { cSkip: number; cOut: number } {
  const scaled = Math.max(0, timestep) * timestepScaling;
  const denominator = scaled * scaled + sigmaData * sigmaData;
  return { cSkip: (sigmaData * sigmaData) / denominator, cOut: scaled / Math.sqrt(denominator) };
}

function boundaryAt(schedule: NoiseSchedule, t: number, o: Required<ConsistencyOptions>): { cSkip: number; cOut: number } {
  if (o.boundary === 'none') return { cSkip: 0, cOut: 1 };
  return lcmBoundaryScalings(schedule.modelTime(t), o.timestepScaling, o.sigmaData);
}

export async function consistencySample(args: SolveArgs, options: ConsistencyOptions = {}): Promise<Tensor> {
  const { denoiser, schedule, times, hooks, noise } = args;
  const o: Required<ConsistencyOptions> = {
    boundary: options.boundary ?? 'lcm',
    timestepScaling: options.timestepScaling ?? args.lcm?.timestepScaling ?? LCM_TIMESTEP_SCALING,
    sigmaData: options.sigmaData ?? LCM_SIGMA_DATA,
  };
  if (!(o.timestepScaling >= 0) || !Number.isFinite(o.timestepScaling)) throw new Error(`consistency: timestep_scaling must be a finite number ≥ 0, got ${o.timestepScaling}`);
  if (!(o.sigmaData > 0)) throw new Error(`consistency: sigma_data must be > 0, got ${o.sigmaData}`);
  const steps = times.length - 1;
  if (steps < 1) throw new Error('consistency: the grid needs at least two times');
  if (steps > 1 && !noise) throw new Error('consistency: more than one step re-noises the state, so it needs a noise source (args.noise)');
  let x = args.x;
  for (let i = 0; i < steps; i++) {
    throwIfAborted(hooks);
    const t = times[i];
    const x0 = await denoiser(x, t);
    const { cSkip, cOut } = boundaryAt(schedule, t, o);
    const consistent = cSkip === 0 ? (cOut === 1 ? x0 : combine([cOut], [x0])) : combine([cSkip, cOut], [x, x0]);
    const next = times[i + 1];
    const last = i === steps - 1;
    x = last || schedule.sigma(next) === 0 ? consistent : combine([schedule.alpha(next), schedule.sigma(next)], [consistent, noise!(x, i)]);
    hooks?.onStep?.({ step: i, steps, t: next, x, denoised: consistent });
  }
  return x;
}
