/**
 * Composable diffusion (Liu et al. 2022; CD repo `pipeline_composable_stable_diffusion.py`):
 *   x0 = x0_∅ + Σ_i w_i·(x0(c_i) − x0_∅),
 * AND for w_i > 0, NOT for w_i < 0. All N conditions and ∅ go to the model in one batched call.
 * In score terms the target at every noise level is p_∅^(1−Σw)·Π p_i^(w_i) (up to normalization),
 * which for conditions acting on independent factors of the data is exactly the noised product of
 * experts (the test checks this on a factorized Gaussian mixture).
 */
import type { NodeDefinition } from '@diffgraph/engine';
import type { Conditioning, DiffusionModel, Guider } from '../contracts/sampling.ts';
import { composeX0, predictAll } from './batch.ts';

export interface ComposedCondition {
  conditioning: Conditioning;
  weight: number;
}

export function composableGuider(model: DiffusionModel, conditions: readonly ComposedCondition[], unconditional?: Conditioning): Guider {
  if (conditions.length === 0) throw new Error('ComposableGuider: needs at least one conditioning');
  for (const c of conditions) if (!Number.isFinite(c.weight)) throw new Error(`ComposableGuider: weight ${c.weight} is not a finite number`);
  const all = [unconditional, ...conditions.map((c) => c.conditioning)];
  const weights = conditions.map((c) => c.weight);
  return {
    schedule: model.schedule,
    async denoise(x, t) {
      const [uncond, ...conds] = await predictAll(model, x, t, all);
      return composeX0(uncond, conds, weights);
    },
  };
}

const SLOTS = [1, 2, 3, 4] as const;

export const ComposableGuider: NodeDefinition = {
  type: 'ComposableGuider',
  category: 'sampling/guiders',
  description: 'Composable diffusion: uncond + Σ w_i·(cond_i − uncond). Positive weights AND a condition in, negative weights NOT it out. One batched model call per step for all conditions.',
  version: 1,
  inputs: {
    model: { type: 'MODEL' },
    unconditional: { type: 'CONDITIONING', optional: true, tooltip: 'Left out: the model\'s unconditional branch' },
    ...Object.fromEntries(SLOTS.flatMap((i) => [
      [`conditioning_${i}`, { type: 'CONDITIONING', optional: i > 1 }],
      [`weight_${i}`, { type: 'FLOAT', default: 7.5, min: -100, max: 100, step: 0.1, tooltip: i === 1 ? 'Guidance weight (CD default 7.5; negative = NOT)' : 'Used only when the conditioning is connected' }],
    ])),
  },
  outputs: { guider: { type: 'GUIDER' } },
  run(i) {
    const conditions = SLOTS.filter((s) => i[`conditioning_${s}`] !== undefined)
      .map((s) => ({ conditioning: i[`conditioning_${s}`] as Conditioning, weight: i[`weight_${s}`] as number }));
    return { guider: composableGuider(i.model as DiffusionModel, conditions, i.unconditional as Conditioning | undefined) };
  },
};
