import { defineNode, jsonInput } from '@diffgraph/engine';
import type { Conditioning, DiffusionModel, NoiseSchedule } from '../contracts/sampling.ts';
import { makeNoiseSchedule, type NoiseScheduleSpec } from '../schedules/noise-schedules.ts';
import { GaussianMixture, type GaussianMixtureParams } from './gmm.ts';

export const SCHEDULE_CHOICES = ['scaled_linear', 'linear', 'squaredcos_cap_v2', 'linear_vp', 'flow'] as const;
export type ScheduleChoice = (typeof SCHEDULE_CHOICES)[number];

export function scheduleSpecOf(choice: ScheduleChoice): NoiseScheduleSpec {
  return choice === 'linear_vp' || choice === 'flow' ? { kind: choice } : { kind: 'discrete', betaSchedule: choice };
}

/** Three well-separated 2-D clusters: small enough to plot, hard enough to show solver differences. */
const DEFAULT_MIXTURE: GaussianMixtureParams = {
  weights: [0.5, 0.3, 0.2],
  means: [[-1.5, 0.5], [1.2, 1.0], [0.3, -1.4]],
  stds: [0.25, 0.15, 0.35],
};

/**
 * The exact model of a Gaussian mixture. A CONDITIONING with `components` (a class) restricts it to
 * those components, which is what guidance tests use as the "conditional" model.
 */
export function gaussianMixtureModel(gmm: GaussianMixture, schedule: NoiseSchedule, dtype: 'float32' | 'float64'): DiffusionModel & { readonly mixture: GaussianMixture } {
  const restricted = new Map<string, GaussianMixture>();
  const forConditioning = (conditioning?: Conditioning): GaussianMixture => {
    const components = conditioning?.components;
    if (components === undefined) return gmm;
    if (!Array.isArray(components)) throw new Error('GaussianMixtureModel: conditioning.components must be a list of component indices');
    const key = components.join(',');
    if (!restricted.has(key)) restricted.set(key, gmm.restrict(components as number[]));
    return restricted.get(key)!;
  };
  return {
    name: `gaussian-mixture(K=${gmm.K}, D=${gmm.D})`,
    schedule,
    sampleShape: [gmm.D],
    dtype,
    mixture: gmm,
    predictX0: async (x, t, conditioning) => forConditioning(conditioning).x0(x, schedule.alpha(t), schedule.sigma(t)),
    // One "call" for every conditioning, as a network would batch them (guiders count on this).
    predictX0Many: async (x, t, conditionings) => conditionings.map((c) => forConditioning(c).x0(x, schedule.alpha(t), schedule.sigma(t))),
  };
}

export const GaussianMixtureModel = defineNode({
  type: 'GaussianMixtureModel',
  category: 'models',
  description: 'An analytic isotropic Gaussian mixture with exact x0/eps predictions under a noise schedule: ground truth for solvers and guidance.',
  version: 1,
  inputs: {
    mixture: jsonInput<GaussianMixtureParams>({
      default: DEFAULT_MIXTURE,
      tooltip: '{ weights: [K], means: [K][D], stds: [K] }',
      schema: {
        type: 'object',
        properties: {
          weights: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1 },
          means: { type: 'array', items: { type: 'array', items: { type: 'number' }, minItems: 1 }, minItems: 1 },
          stds: { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 1 },
        },
        required: ['weights', 'means', 'stds'],
        additionalProperties: false,
      },
    }),
    schedule: { type: 'STRING', enum: SCHEDULE_CHOICES, default: 'scaled_linear', summary: 'model_schedule', tooltip: 'Noise schedule: 1000-step discrete (SD is scaled_linear), continuous linear VP, or flow matching' },
    dtype: { type: 'STRING', enum: ['float64', 'float32'], default: 'float64' },
  },
  outputs: { model: { type: 'MODEL' } },
  run({ mixture, schedule, dtype }) {
    const gmm = new GaussianMixture(mixture);
    return { model: gaussianMixtureModel(gmm, makeNoiseSchedule(scheduleSpecOf(schedule)), dtype) };
  },
});

export const MixtureComponents = defineNode({
  type: 'MixtureComponents',
  category: 'conditioning',
  description: 'Conditioning for a GaussianMixtureModel: restrict it to some components (a "class").',
  version: 1,
  inputs: {
    components: { type: 'JSON', default: [0], schema: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, uniqueItems: true } },
  },
  outputs: { conditioning: { type: 'CONDITIONING' } },
  run: ({ components }) => ({ conditioning: { components } }),
});
