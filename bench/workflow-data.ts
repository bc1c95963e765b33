/**
 * Writes the example inputs of workflows/img2img.json and workflows/inpaint.json into workflows/data/:
 * scenes drawn procedurally like the pack's training data (bench/scenes.ts), plus a mask PNG.
 * Run: pnpm exec tsx --conditions=@diffgraph/source bench/workflow-data.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../packages/engine/src/tensor.ts';
import { encodePng } from '../packages/nodes/src/image/png.ts';
import { drawScenes } from './scenes.ts';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'workflows', 'data');
mkdirSync(dir, { recursive: true });

const write = (name: string, image: Tensor) => {
  writeFileSync(join(dir, name), encodePng(image, 0, { deflateLevel: 9 }));
  console.log(`wrote workflows/data/${name}`);
};

write('red-circle.png', drawScenes([{ objects: [{ shape: 'circle', colour: 'red', position: 'center', size: 'large' }] }]));
write('two-shapes.png', drawScenes([{
  objects: [
    { shape: 'circle', colour: 'red', position: 'left', size: 'medium' },
    { shape: 'square', colour: 'blue', position: 'right', size: 'medium' },
  ],
}]));

// Inpainting mask: white (repaint) on the right half, black (keep) on the left; read with channel "red".
const mask = new Float32Array(3 * 32 * 32);
for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 16; x < 32; x++) mask[c * 1024 + y * 32 + x] = 1;
write('right-half-mask.png', new Tensor([1, 3, 32, 32], mask));
