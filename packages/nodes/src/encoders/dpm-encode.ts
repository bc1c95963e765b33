/**
 * DPM-Encoder (CycleDiffusion, arXiv 2210.05559; diffusers `posterior_sample` / `compute_noise`):
 * image x0 → the noises that make a stochastic DDIM(eta > 0) sampler reproduce it.
 *
 * On a grid t_0 > … > t_N:
 *  1. Start: with ε = stream 0 of `noise`, x_{t_0} is what Sample would start from with that noise —
 *     a_0·x0 + s_0·ε, or ε itself for a full denoise (t_0 ≥ tMax) under the 'unit' convention
 *     (sampling/start-state.ts, startState). Stream 0 of the code is ε.
 *  2. Step i (t_i → t_{i+1}): draw x_{i+1} from DDIM's posterior q_eta(· | x_i, x0) (ddim-step.ts) with
 *     fresh noise (stream i + 1), except the last step, whose target is x0 itself (DDPM's convention:
 *     the final sample IS the data). Record z_{i+1} = (x_{i+1} − [cx·x_i + cx0·x̂0_θ(x_i)])/σ_i.
 * Decoding with the same model, grid and eta — Sample(noise = the code, solver = DDIM(eta)) — then
 * retraces x_0 … x_N = x0 up to rounding; decoding with another model or conditioning (θ2) gives
 * CycleDiffusion's image-to-image translation.
 * Every step must carry noise (σ_i > 0): eta > 0 and a grid that ends above sigma = 0 (the final step
 * to t = 0 of karras/exponential grids is deterministic and could not absorb the residual).
 */
import { Tensor } from '@diffgraph/engine';
import type { Guider, NoiseGenerator, SolverHooks, TimeGrid } from '../contracts/sampling.ts';
import { startsFromNoise, type StartScale } from '../contracts/start-state.ts';
import { ddimStep } from './ddim-step.ts';
import { replayNoise } from '../noise/replay-noise.ts';

export interface DpmEncodeArgs {
  guider: Guider;
  /** The clean image/latent x0, [B, ...]. */
  x0: Tensor;
  times: readonly number[];
  eta: number;
  /** The encoder's own randomness: stream 0 = start noise, stream k = posterior draw of step k. */
  noise: NoiseGenerator;
  /** Sample's start convention (default 'unit'). */
  startScale?: StartScale;
  /** The grid's own start (TimeGrid.start), which start scale auto follows. */
  gridStart?: TimeGrid['start'];
  hooks?: SolverHooks;
}

export interface DpmEncoding {
  /** The state at times[0]. */
  start: Tensor;
  /** streams[0] = start noise, streams[k] = z of step k (k = 1..N). */
  streams: Tensor[];
  noise: NoiseGenerator;
}

export async function dpmEncode(r: DpmEncodeArgs): Promise<DpmEncoding> {
  const { guider, x0, times, eta, noise } = r;
  const ns = guider.schedule;
  const steps = times.length - 1;
  if (steps < 1) throw new Error('DPMEncode: the grid needs at least one step');
  if (!(eta > 0)) throw new Error(`DPMEncode: eta must be > 0 (every step must carry noise), got ${eta}`);
  const t0 = times[0];
  const eps = noise.sample(x0, 0);
  const start = startsFromNoise(r.startScale ?? 'unit', { times, start: r.gridStart }, ns.tMax) ? eps.clone() : combineInto(x0, ns.alpha(t0), eps, ns.sigma(t0));
  const streams: Tensor[] = [eps];
  let x = start;
  for (let i = 0; i < steps; i++) {
    if (r.hooks?.signal?.aborted) throw r.hooks.signal.reason;
    const [s, t] = [times[i], times[i + 1]];
    const { cx, cx0, sigmaEta } = ddimStep(ns, s, t, eta);
    if (!(sigmaEta > 0)) {
      throw new Error(`DPMEncode: step ${i + 1} (t ${s} → ${t}) carries no noise; use a grid that ends above sigma = 0 (e.g. logSNR/time_uniform to tMin)`);
    }
    const x0Hat = await guider.denoise(x, s);
    let next: Tensor;
    if (i === steps - 1) {
      next = x0.clone();
    } else {
      const draw = noise.sample(x0, i + 1);
      next = x0.zerosLike();
      for (let j = 0; j < next.size; j++) next.data[j] = cx * x.data[j] + cx0 * x0.data[j] + sigmaEta * draw.data[j];
    }
    // The sampler computes cx·x + cx0·x0_hat + sigmaEta·z in this order; z is what makes it land on next.
    const z = x0.zerosLike();
    for (let j = 0; j < z.size; j++) z.data[j] = (next.data[j] - (cx * x.data[j] + cx0 * x0Hat.data[j])) / sigmaEta;
    streams.push(z);
    r.hooks?.onStep?.({ step: i, steps, t, x: next, denoised: x0Hat });
    x = next;
  }
  return { start, streams, noise: replayNoise(streams, 'DPMEncode noise') };
}

function combineInto(x0: Tensor, a: number, eps: Tensor, s: number): Tensor {
  const out = new Tensor(x0.shape, x0.data.slice());
  for (let j = 0; j < out.size; j++) out.data[j] = a * x0.data[j] + s * eps.data[j];
  return out;
}
