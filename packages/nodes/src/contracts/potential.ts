/** What flows through a POTENTIAL socket: the reward and how particles are weighted, resampled and chosen. */
import type { Tensor } from '@diffgraph/engine';

export interface Reward {
  readonly name: string;
  /** One reward per item of a batch of x0-predictions. */
  evaluate(x0: Tensor): Promise<Float64Array>;
}

export const POTENTIAL_KINDS = ['max', 'diff', 'sum', 'rt'] as const;
export type PotentialKind = (typeof POTENTIAL_KINDS)[number];

export const STEER_METHODS = ['fk', 'best_of_n'] as const;
export type SteerMethod = (typeof STEER_METHODS)[number];
export const SELECTIONS = ['weighted', 'best'] as const;
export type Selection = (typeof SELECTIONS)[number];

export interface Potential {
  readonly reward: Reward;
  /** fk: Feynman–Kac resampling on intermediate rewards; best_of_n: k independent runs, the best one kept. */
  readonly method: SteerMethod;
  readonly kind: PotentialKind;
  /** Tilt strength: the target is p(x0)·exp(λ·r(x0)). */
  readonly lambda: number;
  /** Particles per latent item (k). */
  readonly particles: number;
  /** Step indices (0-based, before the step's update) where potentials are applied: start, start+every, … ≤ end (−1 = last step). */
  readonly resampleStart: number;
  readonly resampleEvery: number;
  readonly resampleEnd: number;
  /** Resample a group when its ESS < threshold·k; 1 resamples at every scheduled step. */
  readonly essThreshold: number;
  /** weighted: one particle per item drawn by its final weight (a sample of the tilted target); best: the highest final reward. */
  readonly selection: Selection;
  /** Seed of the resampling uniforms (Philox, separate from the noise streams). */
  readonly seed: number;
}

export function isPotential(v: unknown): v is Potential {
  return typeof v === 'object' && v !== null && typeof (v as Potential).reward?.evaluate === 'function' && Number.isInteger((v as Potential).particles);
}

/** Whether step i (of `steps`) applies a potential. */
export function isScheduled(p: Potential, i: number, steps: number): boolean {
  if (p.method !== 'fk') return false;
  const end = p.resampleEnd < 0 ? steps - 1 : Math.min(p.resampleEnd, steps - 1);
  return i >= p.resampleStart && i <= end && (i - p.resampleStart) % p.resampleEvery === 0;
}
