/**
 * The integrals DPM-Solver-v3 takes over its empirical model statistics (contracts/model-statistics.ts).
 * With u = x/alpha the probability-flow ODE reads du/dlambda = −l·u − f, and the v3 step from lambda_s
 * to lambda_t (Zheng et al. 2023) needs, per dimension,
 *   L = ∫l, S = ∫s, B = ∫e^(−S)·b                       (cumulative from the grid's first point)
 *   J0 = ∫_s^t e^(E(r)) dr, Jb = ∫_s^t e^(E(r))·e^(S_s)·(B_r − B_s) dr, Jk = ∫_s^t e^(E(r))·(r − lambda_s)^k dr
 * with E(r) = (L_r − L_t) + (S_r − S_s). (The official code stores I = ∫e^(L+S) and C = ∫e^(L+S)·B
 * cumulatively and subtracts; integrating each step directly gives the same values without the
 * cancellation of differences of large exponentials, and at any lambda, not only grid points.)
 *
 * Quadrature: l, s, b are linear between grid points, so L and S are exact. Each e^(E)·w integral is taken
 * piece by piece (a piece ends at a grid point or at lambda_s / lambda_t) with E linear between its
 * end values and w a polynomial there, integrated exactly (the functions chi_m below). It is second-order
 * accurate like the official trapezoid rule, and exact when l + s is constant per piece — so neutral
 * statistics (l = 1, s = b = 0) give DPM-Solver++(1)'s coefficients to rounding.
 */
import type { ModelStatistics } from '../contracts/model-statistics.ts';

/** chi_m(z) = ∫_0^1 u^m·e^(z·u) du: a power series near 0, the recursion chi_m = (e^z − m·chi_{m−1})/z elsewhere. */
export function chi(m: number, z: number): number {
  if (Math.abs(z) < 0.5) {
    let sum = 0;
    let term = 1; // z^k/k!
    for (let k = 0; k < 40 && Math.abs(term) > 1e-18; k++) {
      sum += term / (m + k + 1);
      term *= z / (k + 1);
    }
    return sum;
  }
  const ez = Math.exp(z);
  let c = Math.expm1(z) / z;
  for (let j = 1; j <= m; j++) c = (ez - j * c) / z;
  return c;
}

/** Statistics l = 1, s = b = 0 over [lambdaStart, lambdaEnd], shared by every dimension. */
export function neutralStatistics(lambdaStart: number, lambdaEnd: number): ModelStatistics {
  return {
    lambdaStart, lambdaEnd, steps: 1, size: 1,
    l: Float64Array.of(1, 1), s: new Float64Array(2), b: new Float64Array(2),
    info: { kind: 'neutral' },
  };
}

/** The statistics' values at one lambda, per dimension. */
export interface EmsPoint {
  lambda: number;
  l: Float64Array;
  L: Float64Array;
  S: Float64Array;
  B: Float64Array;
}

/** Coefficients of one step from lambda_s to lambda_t, per dimension (see the file comment). */
export interface EmsStep {
  /** e^(L_s − L_t): u_t's share of u_s. */
  decay: Float64Array;
  J0: Float64Array;
  Jb: Float64Array;
  /** Jk for k = 1 .. maxPower. */
  J: Float64Array[];
}

/** Checks a statistics object's shape and the consistency of its arrays, or throws naming what is wrong. */
export function checkStatistics(st: ModelStatistics): void {
  if (!(Number.isInteger(st.steps) && st.steps >= 1)) throw new Error(`statistics: steps must be an integer >= 1, got ${st.steps}`);
  if (!(Number.isInteger(st.size) && st.size >= 1)) throw new Error(`statistics: size must be an integer >= 1, got ${st.size}`);
  if (!(Number.isFinite(st.lambdaStart) && Number.isFinite(st.lambdaEnd) && st.lambdaEnd > st.lambdaStart)) {
    throw new Error(`statistics: need finite lambdaStart < lambdaEnd, got ${st.lambdaStart} .. ${st.lambdaEnd}`);
  }
  const n = (st.steps + 1) * st.size;
  for (const [name, a] of [['l', st.l], ['s', st.s], ['b', st.b]] as const) {
    if (a.length !== n) throw new Error(`statistics: "${name}" has ${a.length} values, expected (steps + 1)·size = ${n}`);
    if (!a.every(Number.isFinite)) throw new Error(`statistics: "${name}" holds a non-finite value`);
  }
}

/** Statistics with their cumulative integrals, ready for a solver. */
export class PreparedStatistics {
  readonly H: number;
  readonly D: number;
  readonly M: number;
  private readonly L: Float64Array;
  private readonly S: Float64Array;
  private readonly B: Float64Array;

  constructor(readonly stats: ModelStatistics) {
    checkStatistics(stats);
    const { steps: M, size: D, l, s, b } = stats;
    this.M = M;
    this.D = D;
    this.H = (stats.lambdaEnd - stats.lambdaStart) / M;
    const H = this.H;
    this.L = new Float64Array((M + 1) * D);
    this.S = new Float64Array((M + 1) * D);
    this.B = new Float64Array((M + 1) * D);
    for (let j = 0; j < M; j++) {
      for (let d = 0; d < D; d++) {
        const a = j * D + d, c = a + D;
        this.L[c] = this.L[a] + (H * (l[a] + l[c])) / 2;
        this.S[c] = this.S[a] + (H * (s[a] + s[c])) / 2;
        const z = this.S[a] - this.S[c];
        this.B[c] = this.B[a] + H * Math.exp(-this.S[a]) * (b[a] * chi(0, z) + (b[c] - b[a]) * chi(1, z));
      }
    }
  }

  /** The node values of grid point j. */
  node(j: number): EmsPoint {
    const { D } = this;
    const at = (a: Float64Array) => a.slice(j * D, (j + 1) * D);
    return { lambda: this.stats.lambdaStart + j * this.H, l: at(this.stats.l), L: at(this.L), S: at(this.S), B: at(this.B) };
  }

  /** The values at any lambda inside the grid (l, s, b linear between grid points). */
  at(lambda: number): EmsPoint {
    const { D, M, H, stats } = this;
    const p = (lambda - stats.lambdaStart) / H;
    // Rounding of a grid's own end points may put them a hair outside.
    if (!(p >= -1e-9 && p <= M + 1e-9 * Math.max(1, M))) {
      throw new Error(`lambda = ${lambda} lies outside the statistics' log-SNR range [${stats.lambdaStart}, ${stats.lambdaEnd}]`);
    }
    const j = Math.min(Math.max(Math.floor(p), 0), M - 1);
    const theta = Math.min(Math.max(p - j, 0), 1);
    if (theta === 0) return { ...this.node(j), lambda };
    if (theta === 1) return { ...this.node(j + 1), lambda };
    const delta = theta * H;
    const point: EmsPoint = { lambda, l: new Float64Array(D), L: new Float64Array(D), S: new Float64Array(D), B: new Float64Array(D) };
    const { l, s, b } = stats;
    for (let d = 0; d < D; d++) {
      const a = j * D + d, c = a + D;
      const lv = l[a] + theta * (l[c] - l[a]);
      const sv = s[a] + theta * (s[c] - s[a]);
      const bv = b[a] + theta * (b[c] - b[a]);
      point.l[d] = lv;
      point.L[d] = this.L[a] + (delta * (l[a] + lv)) / 2;
      point.S[d] = this.S[a] + (delta * (s[a] + sv)) / 2;
      const z = this.S[a] - point.S[d];
      point.B[d] = this.B[a] + delta * Math.exp(-this.S[a]) * (b[a] * chi(0, z) + (bv - b[a]) * chi(1, z));
    }
    return point;
  }

  /** The coefficients of a step from point s to point t (lambda_t > lambda_s), with Jk up to k = maxPower. */
  step(ps: EmsPoint, pt: EmsPoint, maxPower: number): EmsStep {
    const { D, H } = this;
    if (!(pt.lambda > ps.lambda)) throw new Error(`a DPM-Solver-v3 step needs increasing lambda, got ${ps.lambda} → ${pt.lambda}`);
    // Breakpoints: s, every grid point strictly inside, t.
    const pieces: EmsPoint[] = [ps];
    const first = Math.floor((ps.lambda - this.stats.lambdaStart) / H) + 1;
    for (let j = Math.max(first, 0); j <= this.M; j++) {
      const lj = this.stats.lambdaStart + j * H;
      if (lj >= pt.lambda) break;
      if (lj > ps.lambda) pieces.push(this.node(j));
    }
    pieces.push(pt);
    const out: EmsStep = { decay: new Float64Array(D), J0: new Float64Array(D), Jb: new Float64Array(D), J: Array.from({ length: maxPower }, () => new Float64Array(D)) };
    // chi_0 and chi_1 for J0 and Jb, up to chi_maxPower for Jk.
    const chiCount = Math.max(maxPower, 1) + 1;
    const chis = new Float64Array(chiCount);
    for (let d = 0; d < D; d++) {
      const Lt = pt.L[d], Ss = ps.S[d], Bs = ps.B[d], eSs = Math.exp(Ss);
      out.decay[d] = Math.exp(ps.L[d] - Lt);
      for (let q = 0; q + 1 < pieces.length; q++) {
        const a = pieces[q], c = pieces[q + 1];
        const h = c.lambda - a.lambda;
        const Ea = a.L[d] - Lt + (a.S[d] - Ss);
        const z = c.L[d] - Lt + (c.S[d] - Ss) - Ea;
        const base = h * Math.exp(Ea);
        for (let m = 0; m < chiCount; m++) chis[m] = chi(m, z);
        out.J0[d] += base * chis[0];
        const wa = eSs * (a.B[d] - Bs), wc = eSs * (c.B[d] - Bs);
        out.Jb[d] += base * (wa * chis[0] + (wc - wa) * chis[1]);
        // (r − lambda_s)^k with r = a + h·u, expanded in powers of u.
        const offset = a.lambda - ps.lambda;
        for (let k = 1; k <= maxPower; k++) {
          let sum = 0;
          let binom = 1;
          for (let m = 0; m <= k; m++) {
            sum += binom * offset ** (k - m) * h ** m * chis[m];
            binom = (binom * (k - m)) / (m + 1);
          }
          out.J[k - 1][d] += base * sum;
        }
      }
    }
    return out;
  }
}

const preparedCache = new WeakMap<ModelStatistics, PreparedStatistics>();

/** The prepared form of a statistics object, computed once per object. */
export function prepareStatistics(stats: ModelStatistics): PreparedStatistics {
  let hit = preparedCache.get(stats);
  if (!hit) {
    hit = new PreparedStatistics(stats);
    preparedCache.set(stats, hit);
  }
  return hit;
}
