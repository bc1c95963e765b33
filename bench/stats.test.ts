import { describe, expect, it } from 'vitest';
import { formatDifference, formatProportion, pairedCounts, pairedDifference, wilson } from './stats.ts';

describe('wilson', () => {
  // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table II, method 3.
  it.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('%i of %i → [%f, %f]', (k, n, lower, upper) => {
    const w = wilson(k, n);
    expect(w.estimate).toBeCloseTo(k / n, 12);
    expect(w.lower).toBeCloseTo(lower, 4);
    expect(w.upper).toBeCloseTo(upper, 4);
  });

  it('is exactly 1 at the top when every item is right, and symmetric', () => {
    expect(wilson(20, 20).upper).toBe(1);
    expect(wilson(20, 20).lower).toBeCloseTo(1 - 0.1611, 4);
    expect(wilson(5, 10).lower).toBeCloseTo(1 - wilson(5, 10).upper, 12);
  });

  it('refuses impossible counts', () => expect(() => wilson(5, 4)).toThrow(/5 successes out of 4/));
});

describe('pairedDifference (Newcombe square-and-add, paired)', () => {
  it('matches the worked example of Fagerland, Lydersen & Laake (Cavo et al. 2012: 59, 6, 16, 80)', () => {
    const d = pairedDifference({ both: 59, onlyA: 6, onlyB: 16, neither: 80 });
    expect(d.estimate).toBeCloseTo(-0.0621, 4);
    expect(d.lower).toBeCloseTo(-0.1186, 4);
    expect(d.upper).toBeCloseTo(-0.0046, 4);
  });

  it('excludes zero only when the discordant items lean one way clearly; no items → [−1, 1]', () => {
    expect(pairedDifference({ both: 40, onlyA: 10, onlyB: 2, neither: 48 }).lower).toBeGreaterThan(0);
    const even = pairedDifference({ both: 40, onlyA: 6, onlyB: 6, neither: 48 });
    expect(even.lower).toBeLessThan(0);
    expect(even.upper).toBeGreaterThan(0);
    expect(pairedDifference({ both: 0, onlyA: 0, onlyB: 0, neither: 0 })).toEqual({ estimate: 0, lower: -1, upper: 1 });
  });

  it('counts paired outcomes', () => {
    expect(pairedCounts([true, true, false, false, true], [true, false, true, false, false])).toEqual({ both: 1, onlyA: 2, onlyB: 1, neither: 1 });
    expect(() => pairedCounts([true], [])).toThrow(/1 outcomes against 0/);
  });

  it('formats', () => {
    // Bounds are rounded outward: 25.53–36.62 % → 25–37, so 1200 of 1200 does not print as (100–100).
    expect(formatProportion(81, 263)).toBe('31 % (25–37)');
    expect(formatProportion(1200, 1200)).toBe('100 % (99–100)');
    expect(formatProportion(0, 20, 1)).toBe('0.0 % (0.0–16.2)');
    expect(formatDifference({ estimate: -0.0621, lower: -0.1186, upper: -0.0046 })).toBe('−6.2 points (−11.9 to −0.4)');
    expect(formatDifference({ estimate: 0.059, lower: 0.016, upper: 0.101 })).toBe('+5.9 points (+1.6 to +10.1)');
  });
});
