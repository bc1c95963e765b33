/**
 * Composable diffusion (Liu et al. 2022; CD repo `pipeline_composable_stable_diffusion.py`):
 *   x0 = x0_∅ + Σ_i w_i·(x0(c_i) − x0_∅),
 * AND for w_i > 0, NOT for w_i < 0. All N conditions and ∅ go to the model in one batched call.
 * In score terms the target at every noise level is p_∅^(1−Σw)·Π p_i^(w_i) (up to normalization),
 * which for conditions acting on independent factors of the data is exactly the noised product of
 * experts (the test checks this on a factorized Gaussian mixture).
 */
import { defineNode } from '@diffgraph/engine';
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
const UNUSED_WEIGHT = 'Used only when the conditioning is connected';
const weightInput = (tooltip: string) => ({ type: 'FLOAT', default: 7.5, min: -100, max: 100, step: 0.1, tooltip }) as const;

export const ComposableGuider = defineNode({
  type: 'ComposableGuider',
  category: 'sampling/guiders',
  description: 'Composable diffusion: uncond + Σ w_i·(cond_i − uncond). Positive weights AND a condition in, negative weights NOT it out. One batched model call per step for all conditions.',
  version: 1,
  inputs: {
    model: { type: 'MODEL' },
    unconditional: { type: 'CONDITIONING', optional: true, tooltip: 'Left out: the model\'s unconditional branch' },
    conditioning_1: { type: 'CONDITIONING', optional: false },
    weight_1: weightInput('Guidance weight (CD default 7.5; negative = NOT)'),
    conditioning_2: { type: 'CONDITIONING', optional: true },
    weight_2: weightInput(UNUSED_WEIGHT),
    conditioning_3: { type: 'CONDITIONING', optional: true },
    weight_3: weightInput(UNUSED_WEIGHT),
    conditioning_4: { type: 'CONDITIONING', optional: true },
    weight_4: weightInput(UNUSED_WEIGHT),
  },
  outputs: { guider: { type: 'GUIDER' } },
  run(i) {
    const conditions = SLOTS.flatMap((s) => {
      const conditioning = i[`conditioning_${s}` as const];
      return conditioning === undefined ? [] : [{ conditioning, weight: i[`weight_${s}` as const] }];
    });
    return { guider: composableGuider(i.model, conditions, i.unconditional) };
  },
});
