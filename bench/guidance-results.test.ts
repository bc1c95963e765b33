/**
 * The published figures and the shipped defaults agree: docs/benchmarks-guidance.md reports
 * TPMConstraint at the setting tuned on its tuning split as "the node's default", so the node's
 * defaults must be that setting (re-tuning changes both, or this fails).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createRegistry } from '../packages/nodes/src/index.ts';

const results = JSON.parse(readFileSync(new URL('./guidance-results.json', import.meta.url), 'utf8'));

describe('bench/guidance-results.json against the shipped nodes', () => {
  it('TPMConstraint defaults are the setting tuned on the tuning split (not the held-out one)', () => {
    const inputs = createRegistry().get('TPMConstraint')!.inputs as Record<string, { default?: unknown }>;
    expect({ strength: inputs.strength.default, until: inputs.until.default }).toEqual(results.inp.tuned);
    const tunedRow = results.inp.tuning.find((r: { strength: number; until: number }) => r.strength === results.inp.tuned.strength && r.until === results.inp.tuned.until);
    const best = Math.max(...results.inp.tuning.map((r: { coherence: { k: number } }) => r.coherence.k));
    expect(tunedRow.coherence.k).toBe(best);
  });
});
