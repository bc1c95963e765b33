/**
 * Feynman–Kac steering as a sampling driver (DESIGN §5 "Potential"): k particles per latent item run
 * as one batch; at scheduled steps the reward of each particle's x0-prediction gives a potential, and
 * a group whose effective sample size falls below the threshold is resampled (seeded multinomial).
 * Weights not consumed by a resampling are carried to the next one (strict SMC; the FK code drops
 * them), and the final potential makes the product exp(λ·r(x0)), so as k grows the selected sample
 * follows p(x0)·exp(λ·r(x0)) under the base sampler.
 *
 * The solver is run one grid interval at a time, so particles can be reordered between steps. Each
 * step's first model call — the x0-prediction the reward was computed on — is reused, so a one-call
 * solver (DDIM, Euler) costs nothing extra. Single-step solvers (DDIM, Euler, Heun, ancestral) give
 * exactly the unsteered run when nothing is resampled; multistep solvers (DPM-Solver++ 2M, UniPC)
 * lose their history and step at first order. FK uses DDIM with eta = 1: particles that were
 * duplicated by resampling need fresh noise to spread out again.
 */
import { Tensor, throttledYield } from '@diffgraph/engine';
import { startState, type SampleRequest } from '../contracts/start-state.ts';
import { segmentOrders } from '../schedules/grids.ts';
import { checkSolvesInParts } from '../solvers/catalog.ts';
import { effectiveSampleSize, normalizedWeights, stepPotential } from './potentials.ts';
import { isScheduled, type Potential } from '../contracts/potential.ts';
import { multinomial, resampleUniforms } from './resample.ts';

export interface SteerEvent {
  step: number;
  t: number;
  /** ESS of each group before resampling. */
  ess: number[];
  resampled: number;
}

export interface SteerRequest extends Omit<SampleRequest, 'onStep'> {
  potential: Potential;
  onStep?: (step: number, steps: number) => void;
}

export interface SteerResult {
  /** One sample per latent item (the selected particle). */
  samples: Tensor;
  /** x0-prediction of each selected sample at the last time of the grid. */
  denoised: Tensor;
  /** All final particles, item g's at rows g·k … g·k + k − 1. */
  particles: Tensor;
  /** Final reward of every particle. */
  rewards: Float64Array;
  /** Final log-weight of every particle (fk; 0 for best_of_n). */
  logWeights: Float64Array;
  /** Index (within its group) of the selected particle, per item. */
  selected: Int32Array;
  trace: SteerEvent[];
}

/** Each item repeated k times, contiguously. */
export function repeatRows(x: Tensor, k: number): Tensor {
  const per = x.size / x.batch;
  const out = Tensor.zeros([x.batch * k, ...x.shape.slice(1)], x.dtype);
  for (let b = 0; b < x.batch; b++) for (let j = 0; j < k; j++) out.data.set(x.data.subarray(b * per, (b + 1) * per), (b * k + j) * per);
  return out;
}

/** Rows of x in the order of idx. */
export function gatherRows(x: Tensor, idx: Int32Array): Tensor {
  const per = x.size / x.batch;
  const out = Tensor.zeros([idx.length, ...x.shape.slice(1)], x.dtype);
  idx.forEach((src, dst) => out.data.set(x.data.subarray(src * per, (src + 1) * per), dst * per));
  return out;
}

function sameState(a: Tensor, b: Tensor): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  for (let i = 0; i < a.size; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

export async function steeredSample(r: SteerRequest): Promise<SteerResult> {
  checkSolvesInParts('SteeredSample', r.solver);
  const p = r.potential;
  const { times } = r.grid;
  const steps = times.length - 1;
  const k = p.particles;
  if (!(Number.isInteger(k) && k >= 1)) throw new Error(`steering: particles must be a positive integer, got ${k}`);
  if (!(Number.isInteger(p.resampleEvery) && p.resampleEvery >= 1)) throw new Error(`steering: resample_every must be ≥ 1, got ${p.resampleEvery}`);
  const { schedule } = r.guider;
  const groups = r.latent.batch;
  const N = groups * k;
  const letEventsIn = throttledYield();
  const checkAbort = async () => {
    await letEventsIn();
    if (r.signal?.aborted) throw r.signal.reason;
  };

  let x = startState({ ...r, latent: repeatRows(r.latent, k) });
  // max starts from −∞ so the first potential is exp(λ·r) (a 0 start would clip negative rewards,
  // e.g. log-probabilities, to 0); diff and sum start from 0, so diff telescopes to λ·r.
  let carried: Float64Array = new Float64Array(N).fill(p.kind === 'max' ? -Infinity : 0);
  let logProd: Float64Array = new Float64Array(N);
  const logW = new Float64Array(N);
  const trace: SteerEvent[] = [];
  let event = 0;

  for (let i = 0; i < steps; i++) {
    await checkAbort();
    const [s, t] = [times[i], times[i + 1]];
    let x0 = await r.guider.denoise(x, s);
    if (isScheduled(p, i, steps)) {
      const rewards = await p.reward.evaluate(x0);
      const { logG, carried: next } = stepPotential(p.kind, p.lambda, rewards, carried);
      for (let n = 0; n < N; n++) {
        logW[n] += logG[n];
        logProd[n] += logG[n];
      }
      carried = next;
      const idx = Int32Array.from({ length: N }, (_, n) => n);
      const ess: number[] = [];
      let resampled = 0;
      for (let g = 0; g < groups; g++) {
        const w = normalizedWeights(logW, g * k, k);
        ess.push(effectiveSampleSize(w));
        if (!(p.essThreshold >= 1 || ess[g] < p.essThreshold * k)) continue;
        const draws = multinomial(w, resampleUniforms(p.seed, g, event, k));
        draws.forEach((d, j) => (idx[g * k + j] = g * k + d));
        logW.fill(0, g * k, (g + 1) * k);
        resampled++;
      }
      trace.push({ step: i, t: s, ess, resampled });
      event++;
      if (resampled > 0) {
        x = gatherRows(x, idx);
        x0 = gatherRows(x0, idx);
        carried = Float64Array.from(idx, (n) => carried[n]);
        logProd = Float64Array.from(idx, (n) => logProd[n]);
      }
    }
    // The step's first model call is the prediction just made (and maybe reordered): reuse it.
    let cached: Tensor | undefined = x0;
    const state = x;
    x = await r.solver.solve({
      denoiser: async (v, time) => {
        if (cached && time === s && sameState(v, state)) {
          const c = cached;
          cached = undefined;
          return c;
        }
        await checkAbort();
        return r.guider.denoise(v, time);
      },
      schedule,
      x: state,
      times: [s, t],
      spacing: r.grid.spacing,
      orders: segmentOrders(r.grid, i, i + 1),
      noise: (like, step) => r.noise.sample(like, i + step + 1),
      hooks: { signal: r.signal },
    });
    r.onStep?.(i, steps);
  }

  await checkAbort();
  const tEnd = times[steps];
  const denoisedAll = schedule.sigma(tEnd) === 0 ? x : await r.guider.denoise(x, tEnd);
  const rewards = await p.reward.evaluate(denoisedAll);
  if (p.method === 'fk') for (let n = 0; n < N; n++) logW[n] += p.lambda * rewards[n] - logProd[n];
  else logW.fill(0);

  const selected = new Int32Array(groups);
  for (let g = 0; g < groups; g++) {
    if (p.selection === 'best' || p.method === 'best_of_n') {
      let best = 0;
      for (let j = 1; j < k; j++) if (rewards[g * k + j] > rewards[g * k + best]) best = j;
      selected[g] = best;
    } else {
      selected[g] = multinomial(normalizedWeights(logW, g * k, k), resampleUniforms(p.seed, g, event, 1))[0];
    }
  }
  const rows = Int32Array.from(selected, (j, g) => g * k + j);
  return {
    samples: gatherRows(x, rows),
    denoised: gatherRows(denoisedAll, rows),
    particles: x,
    rewards,
    logWeights: logW,
    selected,
    trace,
  };
}
