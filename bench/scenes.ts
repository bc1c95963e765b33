/**
 * The pack's procedural scenes (models/build/common.py: make_scenes, render_scene, caption_for) redrawn
 * in TypeScript, for held-out test images and the example inputs in workflows/data. Same geometry,
 * colours, positions, jitter ranges and label layout; drawn at 4× (128×128) with one sample per
 * pixel centre and box-downsampled to 32×32. Not byte-identical to PIL's rasteriser (its edge pixel
 * rules differ), so these are new images from the same distribution, not the training set.
 */
import { Tensor } from '../packages/engine/src/tensor.ts';

export const SHAPES = ['circle', 'square', 'triangle'] as const;
export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'] as const;
export const POSITIONS = ['center', 'left', 'right', 'top', 'bottom'] as const;
export const SIZES = ['small', 'medium', 'large'] as const;
export type Shape = (typeof SHAPES)[number];
export type Colour = (typeof COLOURS)[number];
export type Position = (typeof POSITIONS)[number];
export type Size = (typeof SIZES)[number];

export const COLOUR_RGB: Record<Colour, [number, number, number]> = {
  red: [220, 40, 40], green: [40, 170, 60], blue: [40, 80, 220],
  yellow: [235, 200, 30], purple: [140, 60, 180], orange: [245, 130, 20],
};
const POS_XY: Record<Position, [number, number]> = { center: [16, 16], left: [8, 16], right: [24, 16], top: [16, 8], bottom: [16, 24] };
const POS_PHRASE: Record<Position, string> = { center: 'in the center', left: 'on the left', right: 'on the right', top: 'at the top', bottom: 'at the bottom' };
const SIZE_R: Record<Size, number> = { small: 4, medium: 5, large: 7 };
const BG = 245;

export interface SceneObject {
  shape: Shape;
  colour: Colour;
  position: Position;
  /** 'medium' for both objects of a two-object scene. */
  size: Size;
}

export interface Scene {
  /** One object, or two (left/right or top/bottom; the first is the left / top one). */
  objects: SceneObject[];
  /** Per object: x, y jitter in pixels (±1.5) and radius jitter (±0.4). */
  jitter?: { dx: number; dy: number; dr: number }[];
}

/** Inside test of one shape (centre cx, cy, radius r, all in 128-px units) at point (x, y). */
function inside(shape: Shape, cx: number, cy: number, r: number, x: number, y: number): boolean {
  if (shape === 'circle') return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  if (shape === 'square') {
    const h = r * 0.88;
    return Math.abs(x - cx) <= h && Math.abs(y - cy) <= h;
  }
  // Equilateral triangle pointing up, circumradius 1.15 r, centred on its bounding box.
  const R = r * 1.15;
  const h = R * 1.5;
  const top = cy - h / 2, bot = cy + h / 2, half = (R * Math.sqrt(3)) / 2;
  if (y < top || y > bot) return false;
  return Math.abs(x - cx) <= (half * (y - top)) / h;
}

/** Draws scenes into an IMAGE [B, 3, 32, 32] in [0, 1] (8-bit quantised, like the dataset's PNG-free uint8 arrays). */
export function drawScenes(scenes: readonly Scene[]): Tensor {
  const S = 4, N = 32, big = N * S;
  const out = new Float32Array(scenes.length * 3 * N * N);
  const canvas = new Uint8Array(big * big * 3);
  scenes.forEach((scene, b) => {
    canvas.fill(BG);
    const two = scene.objects.length === 2;
    scene.objects.forEach((o, k) => {
      let [x, y] = POS_XY[o.position];
      if (two) {
        if (o.position === 'left') x = 9;
        if (o.position === 'right') x = 23;
        if (o.position === 'top') y = 9;
        if (o.position === 'bottom') y = 23;
      }
      const j = scene.jitter?.[k] ?? { dx: 0, dy: 0, dr: 0 };
      const cx = (x + j.dx) * S, cy = (y + j.dy) * S, r = (SIZE_R[o.size] + j.dr) * S;
      const rgb = COLOUR_RGB[o.colour];
      const x0 = Math.max(0, Math.floor(cx - 1.2 * r)), x1 = Math.min(big - 1, Math.ceil(cx + 1.2 * r));
      const y0 = Math.max(0, Math.floor(cy - 1.2 * r)), y1 = Math.min(big - 1, Math.ceil(cy + 1.2 * r));
      for (let py = y0; py <= y1; py++) {
        for (let px = x0; px <= x1; px++) {
          if (!inside(o.shape, cx, cy, r, px + 0.5, py + 0.5)) continue;
          const p = 3 * (py * big + px);
          canvas[p] = rgb[0]; canvas[p + 1] = rgb[1]; canvas[p + 2] = rgb[2];
        }
      }
    });
    const plane = N * N;
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let dy = 0; dy < S; dy++) for (let dx = 0; dx < S; dx++) sum += canvas[3 * ((y * S + dy) * big + x * S + dx) + c];
          out[b * 3 * plane + c * plane + y * N + x] = Math.round(sum / (S * S)) / 255;
        }
      }
    }
  });
  return new Tensor([scenes.length, 3, N, N], out);
}

/** The fully specified caption of a scene ("a big red circle on the left", "… and …"). */
export function captionOf(scene: Scene): string {
  const phrase = (o: SceneObject, withSize: boolean) => {
    const words = [...(withSize ? [o.size === 'large' ? 'big' : o.size] : []), o.colour, o.shape];
    return `${/^[aeiou]/.test(words[0]) ? 'an' : 'a'} ${words.join(' ')} ${POS_PHRASE[o.position]}`;
  };
  if (scene.objects.length === 1) return phrase(scene.objects[0], true);
  return `${phrase(scene.objects[0], false)} and ${phrase(scene.objects[1], false)}`;
}

/** Labels of a scene in the classifier's layout: shape, colour, position, size of the first object, count. */
export function labelsOf(scene: Scene): { shape: number; colour: number; position: number; size: number; count: number } {
  const o = scene.objects[0];
  return {
    shape: SHAPES.indexOf(o.shape), colour: COLOURS.indexOf(o.colour), position: POSITIONS.indexOf(o.position),
    size: SIZES.indexOf(o.size), count: scene.objects.length - 1,
  };
}

/** A small deterministic PRNG (mulberry32) for scene sampling. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random scenes with the dataset's proportions: 60 % one object (small/large, 5 positions), 40 % two. */
export function randomScenes(n: number, seed: number): Scene[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  const u = (a: number) => (2 * r() - 1) * a;
  return Array.from({ length: n }, () => {
    const jitter = [0, 1].map(() => ({ dx: u(1.5), dy: u(1.5), dr: u(0.4) }));
    if (r() < 0.4) {
      const [p0, p1] = r() < 0.5 ? (['left', 'right'] as const) : (['top', 'bottom'] as const);
      return {
        objects: [
          { shape: pick(SHAPES), colour: pick(COLOURS), position: p0, size: 'medium' as const },
          { shape: pick(SHAPES), colour: pick(COLOURS), position: p1, size: 'medium' as const },
        ],
        jitter,
      };
    }
    return { objects: [{ shape: pick(SHAPES), colour: pick(COLOURS), position: pick(POSITIONS), size: r() < 0.5 ? 'small' as const : 'large' as const }], jitter };
  });
}
