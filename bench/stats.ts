/**
 * 95 % intervals for the benchmarks' accuracies: the Wilson score interval for a proportion, and
 * Newcombe's square-and-add interval (his method 10, 1998) for the difference of two proportions
 * measured on the same items (paired: the same seeds, scenes or source images for both methods).
 */

/** z for a two-sided 95 % interval. */
export const Z95 = 1.959963984540054;

export interface Interval { estimate: number; lower: number; upper: number }

/** Wilson score interval for k successes out of n (estimate k/n; [0, 1] when n = 0). */
export function wilson(k: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return { estimate: 0, lower: 0, upper: 1 };
  if (k < 0 || k > n) throw new Error(`wilson: ${k} successes out of ${n}`);
  const p = k / n, z2 = z * z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (z / (1 + z2 / n)) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  // At k = 0 or k = n the bound is exactly 0 or 1; floating-point would leave ±1e-17.
  return { estimate: p, lower: k === 0 ? 0 : centre - half, upper: k === n ? 1 : centre + half };
}

/**
 * Paired outcomes of two methods on the same n items, as a 2×2 table:
 * both right, only A right, only B right, both wrong.
 */
export interface PairedCounts { both: number; onlyA: number; onlyB: number; neither: number }

export function pairedCounts(a: readonly boolean[], b: readonly boolean[]): PairedCounts {
  if (a.length !== b.length) throw new Error(`pairedCounts: ${a.length} outcomes against ${b.length}`);
  const c = { both: 0, onlyA: 0, onlyB: 0, neither: 0 };
  a.forEach((x, i) => {
    if (x && b[i]) c.both++;
    else if (x) c.onlyA++;
    else if (b[i]) c.onlyB++;
    else c.neither++;
  });
  return c;
}

/**
 * Interval of p_A − p_B from paired outcomes: Newcombe's square-and-add of the two Wilson intervals,
 * with the correlation between the two proportions (φ, shrunk toward 0 as in his method 10).
 */
export function pairedDifference(c: PairedCounts, z = Z95): Interval {
  const n = c.both + c.onlyA + c.onlyB + c.neither;
  if (n === 0) return { estimate: 0, lower: -1, upper: 1 };
  const kA = c.both + c.onlyA, kB = c.both + c.onlyB;
  const a = wilson(kA, n, z), b = wilson(kB, n, z);
  const margins = kA * (n - kA) * kB * (n - kB);
  let phi = 0;
  if (margins > 0) {
    const cross = c.both * c.neither - c.onlyA * c.onlyB;
    if (cross > n / 2) phi = (cross - n / 2) / Math.sqrt(margins);
    else if (cross < 0) phi = cross / Math.sqrt(margins);
  }
  const d = a.estimate - b.estimate;
  const spread = (x: number, y: number) => Math.sqrt(Math.max(0, x * x + y * y - 2 * phi * x * y));
  return {
    estimate: d,
    lower: Math.max(-1, d - spread(a.estimate - a.lower, b.upper - b.estimate)),
    upper: Math.min(1, d + spread(b.estimate - b.lower, a.upper - a.estimate)),
  };
}

/** Rounds v·100 to `digits` decimals, down or up: interval bounds are rounded outward, never inward. */
function percent(v: number, digits: number, direction: 'down' | 'up' | 'nearest'): string {
  const scale = 10 ** digits, x = 100 * v * scale;
  // 1e-9 absorbs floating-point noise such as 100 · 0.29 = 28.999999999999996.
  const r = direction === 'down' ? Math.floor(x + 1e-9) : direction === 'up' ? Math.ceil(x - 1e-9) : Math.round(x);
  return (r / scale).toFixed(digits);
}

/** "54 % (48–60)": a proportion with its Wilson interval, bounds rounded outward (the sample size goes in the table's header or text). */
export function formatProportion(k: number, n: number, digits = 0): string {
  const w = wilson(k, n);
  return `${percent(w.estimate, digits, 'nearest')} % (${percent(w.lower, digits, 'down')}–${percent(w.upper, digits, 'up')})`;
}

/** "+8.3 points (+2.9 to +13.5)": a paired difference of proportions in percentage points, bounds rounded outward. */
export function formatDifference(i: Interval, digits = 1): string {
  const signed = (v: number, direction: 'down' | 'up' | 'nearest') => {
    const t = percent(v, digits, direction);
    return t.startsWith('-') ? `−${t.slice(1)}` : `+${t}`;
  };
  return `${signed(i.estimate, 'nearest')} points (${signed(i.lower, 'down')} to ${signed(i.upper, 'up')})`;
}
