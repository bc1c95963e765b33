/** The "Beyond the official solvers" section judges the targets from the numbers it is given. */
import { describe, expect, it } from 'vitest';
import { beyondSection, type BeyondResult, type BeyondRow } from './beyond.ts';

function result(rows: Omit<BeyondRow, 'medianError' | 'nfe'>[]): BeyondResult {
  return {
    rows: rows.map((r) => ({ ...r, nfe: r.budget, medianError: r.error / 2, ...(r.group === 'searched' ? { searchCalls: 100, searchSeconds: 1 } : {}) })),
    ddim80: { error: 0.031, medianError: 0.02 },
    estimation: { samples: 8, steps: 4, probes: 1, modelCalls: 5, sampleEvaluations: 120, seconds: 0.1 },
    seconds: 1,
  };
}

const series = (method: string, group: BeyondRow['group'], errors: Record<number, number>) =>
  Object.entries(errors).map(([budget, error]) => ({ method, group, budget: Number(budget), error }));

describe('beyondSection', () => {
  it('says a target is met only by the methods that meet it, and lists where a new method loses', () => {
    const text = beyondSection(result([
      ...series('official A', 'official', { 5: 0.5, 8: 0.05, 10: 0.03 }),
      ...series('searched A', 'searched', { 5: 0.02, 8: 0.06, 10: 0.007 }),
      ...series('v3', 'v3', { 5: 0.4, 8: 0.04, 10: 0.009 }),
    ])).join('\n');
    expect(text).toContain('the best official setting here is official A at 0.0300');
    expect(text).toMatch(/\*\*Met\*\* by searched A 7\.00e-3; not by v3 9\.00e-3/);
    expect(text).toContain('in ≤ 5 NFE: **met** by searched A (0.0200 at 5)');
    expect(text).toContain('The margin is 13 %, smaller than the spread');
    expect(text).toContain('searched A at NFE 8.');
    expect(text).not.toMatch(/v3 at NFE/);
  });

  it('says so when no method meets either target', () => {
    const text = beyondSection(result([
      ...series('official A', 'official', { 5: 0.5, 10: 0.03 }),
      ...series('v3', 'v3', { 5: 0.6, 10: 0.02 }),
    ])).join('\n');
    expect(text).toContain('**Not met**: v3 0.0200.');
    expect(text).toContain('**not met** by any method. The first to reach it: official A at 10 NFE (0.0300), v3 at 10 NFE (0.0200).');
    expect(text).toContain('v3 at NFE 5.');
    expect(text).not.toContain('The margin is');
  });
});
