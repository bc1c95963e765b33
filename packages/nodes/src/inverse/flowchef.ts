/**
 * FlowChef (Patel et al., arXiv 2412.00100) for flow models, in x0 form. FlowChef holds the velocity u fixed
 * ("gradient skipping"), so x̂0 = x_t − t·u moves one-for-one with the state: its state step
 * x_t ← x_t − ρ·∇L(x̂0) is the same step on x̂0. Here it is applied to the x0 the solver consumes:
 *   repeat `iterations` times:  x̃0 ← x̃0 − lr·Aᵀ(A x̃0 − y)      (∇ of ½‖A x̃0 − y‖²),
 * one model call per step, no Jacobian. lr·‖A Aᵀ‖ = 1 is a full projection onto A x = y for mask,
 * avgpool and grayscale; lr·‖A Aᵀ‖ > 2 diverges and is refused. Works on any schedule, but the
 * J = I premise only holds for flow models (on VP schedules prefer DPS).
 */
import type { Tensor } from '@diffgraph/engine';
import type { Guider } from '../contracts/sampling.ts';
import type { LinearOperator } from '../operators/operator.ts';
import { fitObservation } from '../operators/operator.ts';
import { residual } from './batch-ops.ts';

export interface FlowChefOptions {
  lr?: number;
  iterations?: number;
}

export function flowChefGuider(inner: Guider, operator: LinearOperator, observation: Tensor, options: FlowChefOptions = {}): Guider {
  const lr = options.lr ?? 0.5;
  const iterations = options.iterations ?? 1;
  if (!(lr >= 0) || lr * operator.gram > 2) throw new Error(`FlowChef: lr must be in [0, 2/‖AAᵀ‖ = ${2 / operator.gram}], got ${lr}`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`FlowChef: iterations must be a positive integer, got ${iterations}`);
  return {
    schedule: inner.schedule,
    async denoise(x, t) {
      let x0: Tensor = await inner.denoise(x, t);
      for (let k = 0; k < iterations; k++) {
        const ax0 = operator.forward(x0);
        const y = fitObservation(observation, ax0.shape, `FlowChef (${operator.name})`);
        const step = operator.adjoint(residual(y, ax0), x.shape);
        const next = x0.clone();
        for (let i = 0; i < next.size; i++) next.data[i] += lr * step.data[i];
        x0 = next;
      }
      return x0;
    },
  };
}
