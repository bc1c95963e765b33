/**
 * Guider switching by noise range, as PPAP (Go et al. 2023, "Towards practical plug-and-play diffusion
 * models") switches between guidance experts each trained on one part of the noise range. Guider 1
 * serves the highest-noise range: with boundaries b_1 > b_2 > … (times of the shared schedule),
 * guider i is used for b_i < t ≤ b_{i−1} (b_0 = +∞, the last range goes down to t = 0). Without
 * boundaries, [0, tMax] is split into equal time ranges.
 */
import { defineNode, jsonInput } from '@diffgraph/engine';
import type { Guider } from '../contracts/sampling.ts';

export function evenBoundaries(count: number, tMax: number): number[] {
  return Array.from({ length: count - 1 }, (_, i) => tMax * (1 - (i + 1) / count));
}

export function switchGuider(guiders: readonly Guider[], boundaries?: readonly number[]): Guider {
  if (guiders.length === 0) throw new Error('SwitchGuider: needs at least one guider');
  const schedule = guiders[0].schedule;
  for (const [i, g] of guiders.entries()) {
    // Each expert must be on the same time axis, or "t" means different noise levels to them.
    const same = [0.25, 0.5, 0.75].every((f) => Math.abs(g.schedule.sigma(f * schedule.tMax) - schedule.sigma(f * schedule.tMax)) < 1e-9);
    if (!same) throw new Error(`SwitchGuider: guider ${i + 1} is on a different noise schedule from guider 1`);
  }
  const bounds = boundaries ?? evenBoundaries(guiders.length, schedule.tMax);
  if (bounds.length !== guiders.length - 1) throw new Error(`SwitchGuider: ${guiders.length} guiders need ${guiders.length - 1} boundaries, got ${bounds.length}`);
  for (let i = 1; i < bounds.length; i++) if (!(bounds[i] < bounds[i - 1])) throw new Error('SwitchGuider: boundaries must be strictly decreasing times');
  return {
    schedule,
    denoise(x, t) {
      let i = 0;
      while (i < bounds.length && t <= bounds[i]) i++;
      return guiders[i].denoise(x, t);
    },
  };
}

const SLOTS = [1, 2, 3, 4] as const;

export const SwitchGuider = defineNode({
  type: 'SwitchGuider',
  category: 'sampling/guiders',
  description: 'Uses a different guider in each noise range (PPAP-style experts): guider 1 at the highest noise, the last one near the data.',
  version: 1,
  inputs: {
    guider_1: { type: 'GUIDER', optional: false },
    guider_2: { type: 'GUIDER', optional: true },
    guider_3: { type: 'GUIDER', optional: true },
    guider_4: { type: 'GUIDER', optional: true },
    boundaries: jsonInput<number[]>({
      optional: true,
      tooltip: 'Decreasing times where the next guider takes over (one fewer than the guiders); default: equal time ranges',
      schema: { type: 'array', items: { type: 'number', minimum: 0 } },
    }),
  },
  outputs: { guider: { type: 'GUIDER' } },
  run(i) {
    const guiders = SLOTS.map((s) => i[`guider_${s}` as const]).filter((g): g is Guider => g !== undefined);
    return { guider: switchGuider(guiders, i.boundaries) };
  },
});
