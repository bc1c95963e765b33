/**
 * Writes the example inputs of the editing workflows (workflows/pixelman-shapes.json,
 * tale-compose-shapes.json, cyclic-one-way-shapes.json) into workflows/data/editing/: scenes drawn
 * like the pack's training data (bench/scenes.ts) and their object masks (white = the object, read
 * with LoadMask channel "red"). Deterministic.
 * Run: pnpm exec tsx --conditions=@diffgraph/source bench/editing-data.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../packages/engine/src/tensor.ts';
import { encodePng } from '../packages/nodes/src/image/png.ts';
import { drawScenes, type Scene } from './scenes.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'workflows', 'data', 'editing');
const BACKGROUND = 245 / 255;

/** White where a drawn scene differs from its plain background (the objects, antialiased edges included), grown by `grow` pixels. */
export function objectMask(image: Tensor, grow = 0): Tensor {
  const [, , h, w] = image.shape;
  const n = h * w;
  const on = (x: number, y: number) => x >= 0 && y >= 0 && x < w && y < h && [0, 1, 2].some((c) => Math.abs(image.data[c * n + y * w + x] - BACKGROUND) > 1.5 / 255);
  const out = new Float32Array(3 * n);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let hit = false;
    for (let dy = -grow; dy <= grow && !hit; dy++) for (let dx = -grow; dx <= grow && !hit; dx++) hit = on(x + dx, y + dy);
    if (hit) for (let c = 0; c < 3; c++) out[c * n + y * w + x] = 1;
  }
  return new Tensor([1, 3, h, w], out);
}

/** The same mask with black and white swapped. */
const inverted = (mask: Tensor) => new Tensor(mask.shape, mask.data.map((v) => 1 - v));

function main(): void {
  mkdirSync(dir, { recursive: true });
  const write = (name: string, image: Tensor) => {
    writeFileSync(join(dir, name), encodePng(image, 0, { deflateLevel: 9 }));
    console.log(`wrote workflows/data/editing/${name}`);
  };
  const scene = (s: Scene) => drawScenes([s]);

  // PixelMan: a big red circle on the left, to be moved to the right.
  const circle = scene({ objects: [{ shape: 'circle', colour: 'red', position: 'left', size: 'large' }] });
  write('pixelman-source.png', circle);
  write('pixelman-mask.png', objectMask(circle));

  // TALE: a green triangle (from the centre of its own picture) composed right of a blue square.
  write('tale-background.png', scene({ objects: [{ shape: 'square', colour: 'blue', position: 'left', size: 'medium' }] }));
  const triangle = scene({ objects: [{ shape: 'triangle', colour: 'green', position: 'center', size: 'medium' }] });
  write('tale-source.png', triangle);
  write('tale-mask.png', objectMask(triangle));

  // Cyclic One-Way: the red circle on the left of a two-object scene is the visual condition; the
  // rest (white in the mask) is generated around it.
  const pair = scene({ objects: [{ shape: 'circle', colour: 'red', position: 'left', size: 'medium' }, { shape: 'square', colour: 'blue', position: 'right', size: 'medium' }] });
  write('cow-canvas.png', pair);
  const left = new Tensor(pair.shape, pair.data.slice());
  const [, , h, w] = pair.shape;
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 16; x < w; x++) left.data[c * h * w + y * w + x] = BACKGROUND;
  write('cow-mask.png', inverted(objectMask(left, 2)));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
