/**
 * Writes the small inputs of the guidance workflows into workflows/data/guidance/ (run once:
 * `npx tsx --conditions=@diffgraph/source bench/guidance-data.ts`; deterministic). All made with the shapes-32 pack itself:
 * - tpm-latents.npy: 48 scaled latents [48, 4, 8, 8] float32 of one-object prompts (LearnTPM data);
 * - inpaint-source.png: "a big red circle in the center" with the right half transparent (alpha 0 =
 *   the MASK LoadImage gives: repaint);
 * - sr-source.png: "a big green triangle at the top" (the high-resolution ground truth the
 *   super-resolution workflow downsamples and observes);
 * - recolour-source.png: "a big red square on the left" (the DPM-Encoder source).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../packages/engine/src/tensor.ts';
import { encodeNpy, encodePng } from '../packages/nodes/src/index.ts';
import { openPack, run, grid, solver, decode, attributeLogits, argmaxHead, cfg, type Pack } from './guidance-lib.ts';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const out = path.join(root, 'workflows/data/guidance');

export const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];
export const SHAPES = ['circle', 'square', 'triangle'];
export const POSITIONS: Record<string, string> = { center: 'in the center', left: 'on the left', right: 'on the right', top: 'at the top', bottom: 'at the bottom' };

/** Deterministic i-th one-object prompt and its labels. */
export function oneObject(i: number): { text: string; labels: { shape: string; colour: string; position: string; size: string } } {
  const shape = SHAPES[i % 3], colour = COLOURS[Math.floor(i / 3) % 6], position = Object.keys(POSITIONS)[Math.floor(i / 18) % 5];
  const size = (i * 7) % 2 === 0 ? 'big' : 'small';
  return { text: `a ${size} ${colour} ${shape} ${POSITIONS[position]}`, labels: { shape, colour, position, size: size === 'big' ? 'large' : 'small' } };
}

/** One clean image of a prompt whose attributes the attribute classifier confirms (tries seeds). */
export async function cleanImage(pack: Pack, text: string, want: Record<string, string>): Promise<{ image: Tensor; latent: Tensor }> {
  const latent = await run(cfg(pack, await pack.cond(text), 4), solver('dpmsolver++'), grid(pack, 20), 8, 100);
  const image = await decode(pack, latent);
  const logits = await attributeLogits(pack, image);
  for (let b = 0; b < 8; b++) {
    if (Object.entries(want).every(([h, l]) => argmaxHead(logits, b, h as never) === l)) {
      return { image: new Tensor([1, 3, 32, 32], image.data.slice(b * 3072, (b + 1) * 3072)), latent: new Tensor([1, 4, 8, 8], latent.data.slice(b * 256, (b + 1) * 256)) };
    }
  }
  throw new Error(`no clean sample of "${text}"`);
}

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const pack = await openPack(root);
  const n = 48;
  const latents: Tensor[] = [];
  for (let i = 0; i < n; i += 16) {
    // 16 prompts per batch: CFG 4, 20 steps; one sample each.
    for (let j = i; j < i + 16; j++) latents.push(await run(cfg(pack, await pack.cond(oneObject(j * 5 + 1).text), 4), solver('dpmsolver++'), grid(pack, 20), 1, 1000 + j));
  }
  const all = new Tensor([n, 4, 8, 8], Float32Array.from(latents.flatMap((l) => Array.from(l.data))));
  writeFileSync(path.join(out, 'tpm-latents.npy'), encodeNpy(all));

  const circle = await cleanImage(pack, 'a big red circle in the center', { shape: 'circle', colour: 'red', position: 'center', count: 'one' });
  const mask = Tensor.zeros([1, 1, 32, 32]);
  for (let y = 0; y < 32; y++) for (let x = 16; x < 32; x++) mask.data[y * 32 + x] = 1;
  writeFileSync(path.join(out, 'inpaint-source.png'), encodePng(circle.image, 0, { mask }));
  const tri = await cleanImage(pack, 'a big green triangle at the top', { shape: 'triangle', colour: 'green', position: 'top' });
  writeFileSync(path.join(out, 'sr-source.png'), encodePng(tri.image, 0));
  const sq = await cleanImage(pack, 'a big red square on the left', { shape: 'square', colour: 'red', position: 'left' });
  writeFileSync(path.join(out, 'recolour-source.png'), encodePng(sq.image, 0));
  console.log(`wrote ${out}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) await main();
