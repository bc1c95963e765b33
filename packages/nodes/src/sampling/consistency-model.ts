/**
 * The exact consistency function of the analytic Gaussian mixture: f(x, t) = the probability-flow ODE
 * solution from (x, t) to t = 0 (exact-ode.ts, adaptive Dormand–Prince). It is what a perfectly
 * distilled consistency model of the mixture would output, and satisfies the boundary condition
 * f(x, 0) = x. Served as a MODEL whose x0 prediction is f, for the `consistency` solver with
 * boundary "none": then one step maps x_T to the exact ODE solution, and more steps keep the exact
 * marginal (see solvers/consistency.ts).
 */
import { defineNode, type Tensor } from '@diffgraph/engine';
import type { Conditioning, DiffusionModel } from '../contracts/sampling.ts';
import type { GaussianMixture } from '../models/gmm.ts';
import { exactProbabilityFlow } from './exact-ode.ts';

export interface MixtureModel extends DiffusionModel {
  readonly mixture: GaussianMixture;
}

export function isMixtureModel(model: DiffusionModel): model is MixtureModel {
  return typeof (model as Partial<MixtureModel>).mixture === 'object';
}

/** Tolerance of the ODE solve behind each call: far below any sampler error, much faster than 1e-12. */
const CONSISTENCY_TOLERANCE = 1e-10;

export function mixtureConsistencyModel(model: MixtureModel): DiffusionModel {
  const { schedule } = model;
  const mixtureFor = (conditioning?: Conditioning): GaussianMixture => {
    const components = conditioning?.components;
    if (components === undefined) return model.mixture;
    if (!Array.isArray(components)) throw new Error('MixtureConsistencyModel: conditioning.components must be a list of component indices');
    return model.mixture.restrict(components as number[]);
  };
  const consistency = (x: Tensor, t: number, conditioning?: Conditioning): Tensor =>
    t === 0 ? x.clone() : exactProbabilityFlow(mixtureFor(conditioning), schedule, x, t, 0, { rtol: CONSISTENCY_TOLERANCE, atol: CONSISTENCY_TOLERANCE });
  return {
    name: `consistency(${model.name})`,
    schedule,
    sampleShape: model.sampleShape,
    dtype: model.dtype,
    predictX0: async (x, t, conditioning) => consistency(x, t, conditioning),
    predictX0Many: async (x, t, conditionings) => conditionings.map((c) => consistency(x, t, c)),
  };
}

export const MixtureConsistencyModel = defineNode({
  type: 'MixtureConsistencyModel',
  category: 'models',
  description: 'The exact consistency model of a GaussianMixtureModel: its "x0 prediction" is the exact probability-flow ODE solution to t = 0. Ground truth for consistency sampling (Solver kind consistency, boundary none).',
  version: 1,
  inputs: { model: { type: 'MODEL', tooltip: 'A GaussianMixtureModel' } },
  outputs: { model: { type: 'MODEL' } },
  run({ model }) {
    if (!isMixtureModel(model)) throw new Error(`MixtureConsistencyModel: input "model" must come from a GaussianMixtureModel, got ${model.name}`);
    return { model: mixtureConsistencyModel(model) };
  },
});
