/**
 * Classifier guidance (Dhariwal & Nichol 2021), with EluCD's calibration (Ma et al. 2023; EluCD repo
 * `DDPM/guided_diffusion/gaussian_diffusion.py`) for off-the-shelf classifiers.
 *
 * Guidance adds s·∇ log p̃(y | ·) to the score. Tweedie's x0 = (x + σ²·score)/α turns that into an
 * x0 shift, so it works with every solver:
 *   Δx0 = s·(σ²/α)·g.
 * - input 'x_t' (a noisy classifier): g = ∇_{x_t} log p̃(y | x_t, t). With the exact noisy classifier
 *   and s = 1 this is the score of p_t(x | y): exact class-conditional sampling.
 * - input 'x0' (EluCD, a classifier of clean data): g = ∇_{x̂0} log p̃(y | x̂0), the classifier run
 *   on the guided model's x0-prediction at t = 0, used in place of ∇_{x_t} — the Jacobian of the
 *   denoiser is skipped, as in EluCD.
 * p̃ is the temperature-calibrated probability of classifier.ts (τ_joint, τ_marg). EluCD's other
 * calibration, Softplus(β) in place of ReLU, is a property of the exported network, not of this node.
 * EluCD's step-size schedule (its γ·sin term on the DDPM variance) is not reproduced: the shift is
 * the plain score-space one.
 */
import { combine, defineInputs, defineNode, type InputsOf, type Tensor } from '@diffgraph/engine';
import type { Guider, NoiseSchedule } from '../contracts/sampling.ts';
import { calibratedWeights, expectClassifier, parseTarget, type Classifier, type LabelChoice } from './classifier.ts';

export const CLASSIFIER_INPUTS = ['x_t', 'x0'] as const;
export type ClassifierInput = (typeof CLASSIFIER_INPUTS)[number];

export interface ClassifierGuidance {
  classifier: Classifier;
  choices: readonly LabelChoice[];
  scale: number;
  tauJoint: number;
  tauMarginal: number;
  input: ClassifierInput;
}

/** The x0 shift s·(σ²/α)·∇log p̃ for states x (with their x0-prediction x0) at time t. */
export async function classifierShift(g: ClassifierGuidance, schedule: NoiseSchedule, x: Tensor, x0: Tensor, t: number): Promise<Tensor> {
  const alpha = schedule.alpha(t), sigma = schedule.sigma(t);
  if (g.scale === 0 || sigma === 0) return x.zerosLike();
  const [state, time] = g.input === 'x_t' ? [x, t] : [x0, 0];
  // Only τ_marg ∉ {0, 1} needs the logits before the weights: one extra classifier pass.
  const logits = g.tauMarginal !== 0 && g.tauMarginal !== 1 ? (await g.classifier.logitsAndGrad(state, time)).logits : undefined;
  const weights = calibratedWeights(g.classifier, g.choices, x.batch, g.tauJoint, g.tauMarginal, logits);
  const { grad } = await g.classifier.logitsAndGrad(state, time, weights);
  if (!grad || grad.size !== x.size) throw new Error(`${g.classifier.name}: returned no gradient shaped like the state ${x}`);
  return combine([g.scale * (sigma * sigma) / alpha], [grad]);
}

export function classifierGuider(inner: Guider, g: ClassifierGuidance): Guider {
  return {
    schedule: inner.schedule,
    async denoise(x, t) {
      const x0 = await inner.denoise(x, t);
      const shift = await classifierShift(g, inner.schedule, x, x0, t);
      return combine([1, 1], [x0, shift]);
    },
  };
}

/** Node inputs shared by every guider that takes classifier guidance. */
export const CLASSIFIER_GUIDANCE_INPUTS = defineInputs({
  classifier: { type: 'CLASSIFIER' },
  target: { type: 'JSON', default: 0, tooltip: 'Label index or name in the first head, or {head: label, …} (e.g. {"shape": "circle", "colour": "red"})' },
  scale: { type: 'FLOAT', default: 1, min: 0, max: 1000, step: 0.1, tooltip: 'Classifier guidance scale s (1 with an exact noisy classifier = the exact conditional)' },
  temperature_joint: { type: 'FLOAT', default: 1, min: 0, max: 100, step: 0.05, tooltip: 'EluCD τ_joint: weight of log p_y' },
  temperature_marginal: { type: 'FLOAT', default: 1, min: 0, max: 100, step: 0.05, tooltip: 'EluCD τ_marg (= τ_joint·discount; EluCD DDPM uses 0.5): 1 is plain log p_y' },
  classifier_input: { type: 'STRING', enum: CLASSIFIER_INPUTS, default: 'x_t', tooltip: 'x_t: a noisy classifier at time t; x0: a clean-data classifier on the x0-prediction (EluCD, Jacobian skipped)' },
});

export function guidanceFromInputs(i: InputsOf<typeof CLASSIFIER_GUIDANCE_INPUTS>, node: string): ClassifierGuidance {
  const classifier = expectClassifier(i.classifier, node);
  return {
    classifier,
    choices: parseTarget(classifier, i.target, node),
    scale: i.scale,
    tauJoint: i.temperature_joint,
    tauMarginal: i.temperature_marginal,
    input: i.classifier_input,
  };
}

export const ClassifierGuider = defineNode({
  type: 'ClassifierGuider',
  category: 'sampling/guiders',
  description: 'Classifier guidance on top of any guider: adds s·∇log p̃(y|·) from a CLASSIFIER that returns its own input-gradient, with EluCD\'s temperature calibration.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER', tooltip: 'The guider whose x0-prediction is shifted (BasicGuider, CFGGuider, …)' },
    ...CLASSIFIER_GUIDANCE_INPUTS,
  },
  outputs: { guider: { type: 'GUIDER' } },
  run: (i) => ({ guider: classifierGuider(i.guider, guidanceFromInputs(i, 'ClassifierGuider')) }),
});
