/**
 * The model-free parts of the editing nodes: pixel geometry, PixelMan's manipulation, Cyclic
 * One-Way's re-noise (the forward transition of the schedule) and TALE's latent composition and
 * energy step.
 */
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { centroid, dilate, movePlane } from '../src/editing/geometry.ts';
import { manipulate } from '../src/editing/pixelman.ts';
import { renoise } from '../src/editing/cyclic-one-way.ts';
import { composeLatents, taleGuider } from '../src/editing/tale.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { seededNoise } from '../src/noise/noise-nodes.ts';
import type { Guider } from '../src/contracts/sampling.ts';

const P = { height: 8, width: 8 };
const square = (x0: number, y0: number, size: number, plane = P) => {
  const m = new Float64Array(plane.height * plane.width);
  for (let y = y0; y < y0 + size; y++) for (let x = x0; x < x0 + size; x++) m[y * plane.width + x] = 1;
  return m;
};

describe('editing geometry', () => {
  it('moves by an integer offset exactly, reads nothing from outside, and scales about the centroid', () => {
    const m = square(1, 2, 2);
    const c = centroid(m, P)!;
    expect(c).toEqual([2, 3]);
    expect(Array.from(movePlane(m, P, c, { dx: 3, dy: 1, scale: 1 }))).toEqual(Array.from(square(4, 3, 2)));
    expect(movePlane(m, P, c, { dx: -2, dy: 0, scale: 1 }).reduce((a, b) => a + b, 0)).toBe(2); // half left the plane
    const mid = square(3, 3, 2);
    const big = movePlane(mid, P, centroid(mid, P)!, { dx: 0, dy: 0, scale: 2 });
    // Twice the side: about four times the area (bilinear edges are soft), centred where it was.
    expect(Math.abs(big.reduce((a, b) => a + b, 0) - 16)).toBeLessThan(1.5);
    expect(centroid(big, P)![1]).toBeCloseTo(4, 6);
    expect(centroid(big, P)![0]).toBeCloseTo(4, 6);
  });

  it('dilates by a square of the given radius', () => {
    expect(Array.from(dilate(square(3, 3, 1), P, 1))).toEqual(Array.from(square(2, 2, 3)));
    expect(Array.from(dilate(square(3, 3, 1), P, 0))).toEqual(Array.from(square(3, 3, 1)));
  });
});

describe('PixelMan manipulation', () => {
  const image = (plane = P) => {
    const n = plane.height * plane.width;
    const t = Tensor.from([1, 3, plane.height, plane.width], new Array(3 * n).fill(0.9));
    const obj = square(1, 1, 3, plane);
    for (let p = 0; p < n; p++) if (obj[p]) { t.data[p] = 0.8; t.data[n + p] = 0.1 + 0.01 * p; t.data[2 * n + p] = 0.2; }
    return { image: t, object: obj };
  };

  it('copies the object exactly, fills its old place with the ring colour, and never regenerates the pasted core', () => {
    const { image: src, object } = image();
    const n = 64;
    const edit = manipulate(src, object, { dx: 4, dy: 4, scale: 1 }, 1);
    for (let y = 1; y < 4; y++) for (let x = 1; x < 4; x++) {
      for (let c = 0; c < 3; c++) expect(edit.image.data[c * n + (y + 4) * 8 + x + 4]).toBe(src.data[c * n + y * 8 + x]);
      expect(edit.regenerate[(y + 4) * 8 + x + 4]).toBe(0);
      expect(edit.regenerate[y * 8 + x]).toBe(1);
      expect(edit.image.data[y * 8 + x]).toBeCloseTo(0.9, 6); // the background colour around it
    }
    expect(edit.regenerate[4 * 8 + 4]).toBe(1); // the seam band
  });

  it('refuses an empty mask, naming the node and the input', () => {
    expect(() => manipulate(image().image, new Float64Array(64), { dx: 1, dy: 0, scale: 1 }, 1)).toThrow('PixelMan input "mask": the mask is empty');
  });
});

describe('Cyclic One-Way re-noise', () => {
  it('is the forward transition: a state at t_lo re-noised to t_hi has the marginal of t_hi', () => {
    const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
    const [tLo, tHi] = [0.3, 0.7];
    const n = 40_000;
    const x0 = 0.8;
    const eps = seededNoise(1).sample(Tensor.zeros([1, n]), 0);
    const z = seededNoise(2).sample(Tensor.zeros([1, n]), 0);
    const lo = new Tensor([1, n], eps.data.map((e) => schedule.alpha(tLo) * x0 + schedule.sigma(tLo) * e));
    const hi = Array.from(renoise(lo, schedule, tLo, tHi, z).data);
    const mean = hi.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(hi.reduce((a, b) => a + (b - mean) ** 2, 0) / n);
    // Within 4 standard errors of the forward marginal N(a_hi·x0, s_hi²).
    const s = schedule.sigma(tHi);
    expect(Math.abs(mean - schedule.alpha(tHi) * x0)).toBeLessThan((4 * s) / Math.sqrt(n));
    expect(Math.abs(sd - s)).toBeLessThan((4 * s) / Math.sqrt(2 * n));
    // Not the identity: the re-noised state is far from the state it came from.
    expect(Math.abs(schedule.sigma(tHi) - schedule.sigma(tLo))).toBeGreaterThan(20 * s / Math.sqrt(n));
  });
});

describe('TALE', () => {
  const latent = (f: (i: number) => number) => new Tensor([1, 4, 8, 8], Float32Array.from({ length: 256 }, (_, i) => f(i)));
  const objectMask = square(8, 8, 8, { height: 32, width: 32 });

  it('shifts the source latent by whole cells exactly when the offset is a multiple of the VAE factor', () => {
    const source = latent((i) => i);
    const targets = composeLatents(latent(() => -1), source, objectMask, { height: 32, width: 32 }, 8, 4, 2);
    // 8 px right, 4 px down = 2 cells right, 1 down.
    for (let c = 0; c < 4; c++) for (let y = 2; y < 4; y++) for (let x = 2; x < 4; x++) {
      const at = c * 64 + (y + 1) * 8 + x + 2;
      expect(targets.object.data[at]).toBe(source.data[c * 64 + y * 8 + x]);
      expect(targets.objectMask[at]).toBe(1);
      expect(targets.composite.data[at]).toBe(source.data[c * 64 + y * 8 + x]);
    }
    expect(targets.composite.data[0]).toBe(-1);
  });

  it('pulls x0 to the background and the object at high noise, leaves the seam band to the model, and is the inner guider at scale 0', async () => {
    const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
    const inner: Guider = { schedule, denoise: async (x) => new Tensor(x.shape, x.data.map((v) => 0.5 * v)) };
    const targets = composeLatents(latent(() => 2), latent(() => -3), objectMask, { height: 32, width: 32 }, 0, 0, 4);
    const x = latent((i) => Math.sin(i));
    const options = { manipulateFrom: Infinity, energyScale: 1e6, backgroundWeight: 1, objectWeight: 1 };
    const strong = await taleGuider(inner, targets, seededNoise(0), options).denoise(x, 0.9);
    const plain = await inner.denoise(x, 0.9);
    for (let i = 0; i < 256; i++) {
      if (targets.band[i] === 0) expect(strong.data[i]).toBeCloseTo(2, 4);
      else if (targets.objectMask[i] === 1) expect(strong.data[i]).toBeCloseTo(-3, 4);
      else if (targets.band[i] === 1 && targets.objectMask[i] === 0) expect(strong.data[i]).toBe(plain.data[i]);
    }
    const off = await taleGuider(inner, targets, seededNoise(0), { ...options, energyScale: 0 }).denoise(x, 0.9);
    expect(Array.from(off.data)).toEqual(Array.from(plain.data));
    // Adaptive latent manipulation: the object region of the model's input is the noised object latent.
    let fed: Tensor | undefined;
    const spy: Guider = { schedule, denoise: async (s) => (fed = s) };
    await taleGuider(spy, targets, seededNoise(0), { ...options, manipulateFrom: 0.5, energyScale: 0 }).denoise(x, 0.9);
    const eps = seededNoise(0).sample(x.zerosLike(), 0);
    const at = 2 * 64 + 3 * 8 + 3; // inside the object
    expect(fed!.data[at]).toBeCloseTo(schedule.alpha(0.9) * -3 + schedule.sigma(0.9) * eps.data[at], 5);
    expect(fed!.data[0]).toBe(x.data[0]);
  });
});
