/**
 * A time grid as free parameters, so an optimiser can move its steps without ever breaking the order:
 * n log-SNR increments from the grid's first time to its last positive time,
 *   lambda_i = lambda_start + (lambda_end − lambda_start)·cumsum(softmax(theta))_i,
 * so every theta ∈ R^n is a strictly increasing lambda (decreasing t) between the fixed ends, and
 * theta = 0 is the logSNR grid. A grid that ends at t = 0 (sigma = 0, k-diffusion style) keeps that final
 * point fixed: only the steps before it are parameters.
 */
import type { NoiseSchedule } from '../contracts/sampling.ts';

export interface GridFrame {
  readonly schedule: NoiseSchedule;
  readonly tStart: number;
  /** The last positive time: the grid's end, or the point before its final t = 0. */
  readonly tEnd: number;
  readonly lambdaStart: number;
  readonly lambdaEnd: number;
  /** The grid continues to t = 0 after tEnd (one more interval, not a parameter). */
  readonly toZero: boolean;
  /** Parameterised intervals between tStart and tEnd. */
  readonly intervals: number;
}

/** The frame of a start grid, with `intervals` parameterised steps between its ends. */
export function frameOf(schedule: NoiseSchedule, times: readonly number[], intervals: number): GridFrame {
  const toZero = times[times.length - 1] === 0;
  const tStart = times[0];
  const tEnd = toZero ? times[times.length - 2] : times[times.length - 1];
  const lambdaStart = schedule.lambda(tStart);
  const lambdaEnd = schedule.lambda(tEnd);
  if (!(Number.isFinite(lambdaStart) && Number.isFinite(lambdaEnd) && lambdaEnd > lambdaStart)) {
    throw new Error(`the grid from t = ${tStart} to t = ${tEnd} has no finite, increasing log-SNR range to search in`);
  }
  return { schedule, tStart, tEnd, lambdaStart, lambdaEnd, toZero, intervals };
}

/** How many times `times` spends on parameterised intervals (all but a final step to t = 0). */
export function parameterisedIntervals(times: readonly number[]): number {
  return times.length - 1 - (times[times.length - 1] === 0 ? 1 : 0);
}

/** The grid of theta: its n + 1 times (+ the final 0). The ends are the frame's exactly. */
export function timesOf(frame: GridFrame, theta: readonly number[]): number[] {
  if (theta.length !== frame.intervals) throw new Error(`expected ${frame.intervals} parameters, got ${theta.length}`);
  const top = Math.max(...theta);
  const weights = theta.map((v) => Math.exp(v - top));
  const total = weights.reduce((a, b) => a + b, 0);
  const times = [frame.tStart];
  let cumulative = 0;
  for (let i = 0; i < frame.intervals - 1; i++) {
    cumulative += weights[i] / total;
    times.push(frame.schedule.tOfLambda(frame.lambdaStart + (frame.lambdaEnd - frame.lambdaStart) * cumulative));
  }
  times.push(frame.tEnd);
  if (frame.toZero) times.push(0);
  return times;
}

/**
 * Parameters that reproduce a grid between the frame's ends. A grid with another number of intervals
 * is resampled first: lambda as a piecewise-linear function of the fractional step index, read at
 * n + 1 equally spaced indices, so its shape (where it crowds its steps) carries over.
 */
export function thetaOf(frame: GridFrame, times: readonly number[]): number[] {
  const positive = frame.toZero ? times.slice(0, -1) : [...times];
  const lambdas = positive.map((t) => frame.schedule.lambda(t));
  const m = lambdas.length - 1;
  const resampled = Array.from({ length: frame.intervals + 1 }, (_, i) => {
    const u = (i / frame.intervals) * m;
    const j = Math.min(Math.floor(u), m - 1);
    return lambdas[j] + (u - j) * (lambdas[j + 1] - lambdas[j]);
  });
  const theta: number[] = [];
  for (let i = 0; i < frame.intervals; i++) theta.push(Math.log(Math.max(resampled[i + 1] - resampled[i], 1e-300)));
  const mean = theta.reduce((a, b) => a + b, 0) / theta.length;
  return theta.map((v) => v - mean);
}
