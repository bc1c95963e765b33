/**
 * What the editing nodes share: input checks that name the node and the input, a solver run over one
 * segment of a time grid (cancellable, with progress), and the exact pixel paste-back that makes a
 * kept region exact after decoding.
 */
import { Tensor, throttledYield } from '@diffgraph/engine';
import type { Guider, NoiseGenerator, Solver } from '../contracts/sampling.ts';
import type { OnnxVae } from '../models/onnx/vae.ts';
import type { Plane } from './geometry.ts';

/** An IMAGE of one picture: its plane size (the editing nodes edit one image at a time). */
export function singleImage(image: unknown, node: string, input: string): Plane {
  if (!(image instanceof Tensor) || image.shape.length !== 4 || image.shape[1] !== 3) {
    throw new Error(`${node} input "${input}": expected an IMAGE [1, 3, H, W], got ${image instanceof Tensor ? String(image) : typeof image}`);
  }
  if (image.shape[0] !== 1) throw new Error(`${node} input "${input}": edits one image at a time, got a batch of ${image.shape[0]} (${image})`);
  return { height: image.shape[2], width: image.shape[3] };
}

/** A MASK [1, 1, H, W] at the image's resolution, as a plane of values clamped to [0, 1]. */
export function maskPlane(mask: unknown, plane: Plane, node: string, input: string, imageInput: string): Float64Array {
  if (!(mask instanceof Tensor) || mask.shape.length !== 4 || mask.shape[1] !== 1) {
    throw new Error(`${node} input "${input}": expected a MASK [1, 1, H, W], got ${mask instanceof Tensor ? String(mask) : typeof mask}`);
  }
  const [b, , h, w] = mask.shape;
  if (b !== 1) throw new Error(`${node} input "${input}": expected one mask, got a batch of ${b}`);
  if (h !== plane.height || w !== plane.width) {
    throw new Error(`${node} input "${input}": the mask is ${w}×${h} but input "${imageInput}" is ${plane.width}×${plane.height}; they must match`);
  }
  return Float64Array.from(mask.data, (v) => (v > 0 ? Math.min(1, v) : 0));
}

export function requireVae(vae: unknown, node: string): OnnxVae {
  const v = vae as OnnxVae | undefined;
  if (!v || typeof v.decode !== 'function' || typeof v.encode !== 'function' || typeof v.scalingFactor !== 'number') {
    throw new Error(`${node} input "vae": expected a VAE from LoadPipeline`);
  }
  return v;
}

export function requireGuider(guider: unknown, node: string): Guider {
  const g = guider as Guider | undefined;
  if (!g || typeof g.denoise !== 'function' || !g.schedule) throw new Error(`${node} input "guider": expected a GUIDER`);
  return g;
}

/** A plane as a MASK tensor [1, 1, H, W]. */
export function planeMask(plane: Float64Array, { height, width }: Plane): Tensor {
  return new Tensor([1, 1, height, width], Float32Array.from(plane));
}

/** The index of a fraction of the way along a grid of `steps` steps (0 = its first time, 1 = its last). */
export function gridIndex(fraction: number, steps: number): number {
  return Math.min(steps, Math.max(0, Math.round(fraction * steps)));
}

export interface SegmentRun {
  solver: Solver;
  guider: Guider;
  x: Tensor;
  /** Decreasing times of this segment (at least two). */
  times: readonly number[];
  spacing?: string;
  /** The grid's per-step orders of this segment's intervals (segmentOrders). */
  orders?: readonly number[];
  noise: NoiseGenerator;
  /** First noise stream of this segment's stochastic steps (segments must not reuse streams). */
  stream: number;
  signal?: AbortSignal;
  onStep?: () => void;
}

/** Runs the solver over one segment of a grid; a cancel lands within one model call. */
export async function solveSegment(r: SegmentRun): Promise<Tensor> {
  if (r.times.length < 2) return r.x.clone();
  const letEventsIn = throttledYield();
  return r.solver.solve({
    denoiser: async (state, t) => {
      await letEventsIn();
      if (r.signal?.aborted) throw r.signal.reason;
      return r.guider.denoise(state, t);
    },
    schedule: r.guider.schedule,
    x: r.x,
    times: r.times,
    spacing: r.spacing,
    orders: r.orders,
    noise: (like, step) => r.noise.sample(like, r.stream + step),
    hooks: { signal: r.signal, onStep: () => r.onStep?.() },
  });
}

/**
 * out = R·generated + (1 − R)·kept per pixel, R a plane broadcast over the channels: where R = 0 the
 * result IS the kept image (a copy, not a VAE round trip), which is how the nodes keep their promise
 * of an exact preserved region.
 */
export function pasteBack(generated: Tensor, kept: Tensor, regenerate: Float64Array): Tensor {
  const out = kept.clone();
  const plane = regenerate.length;
  const g = generated.data, d = out.data;
  for (let i = 0; i < d.length; i++) {
    const r = regenerate[i % plane];
    if (r > 0) d[i] = r * g[i] + (1 - r) * d[i];
  }
  return out;
}

/** Throws if any value is not finite, naming the node: a diverged solver should not decode to a grey image. */
export function assertFiniteLatent(x: Tensor, node: string): void {
  for (let i = 0; i < x.size; i++) {
    if (!Number.isFinite(x.data[i])) throw new Error(`${node}: the sampler produced a non-finite latent value (${x.data[i]}); try another solver or spacing`);
  }
}
