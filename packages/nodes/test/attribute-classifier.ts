/**
 * The pack's clean-image attribute classifier (models/shapes-32/attribute_classifier, 100 % on
 * held-out data) for tests that check what an image shows: shape, colour, position and size of the
 * first object (the only one, or the left one of two) and the object count.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '@diffgraph/engine';
import * as ort from 'onnxruntime-node';
import type { ModelStore } from '../src/runtime/model-store.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const classifierDir = path.join(repoRoot, 'models', 'shapes-32', 'attribute_classifier');

interface Head { name: string; offset: number; size: number; labels: string[] }

/** The attributes of every image of an IMAGE batch [B, 3, 32, 32] in [0, 1]. */
export async function classify(store: ModelStore, image: Tensor): Promise<Record<string, string>[]> {
  const heads = (JSON.parse(readFileSync(path.join(classifierDir, 'config.json'), 'utf8')) as { heads: Head[] }).heads;
  const session = await store.open(path.join(classifierDir, 'model.onnx'));
  const input = Float32Array.from(image.data, (v) => 2 * v - 1);
  const { logits } = await session.run({ sample: new ort.Tensor('float32', input, image.shape) }, ['logits']);
  const data = logits.data as Float32Array;
  const n = data.length / image.shape[0];
  return Array.from({ length: image.shape[0] }, (_, b) => Object.fromEntries(heads.map((h) => {
    const row = data.subarray(b * n + h.offset, b * n + h.offset + h.size);
    return [h.name, h.labels[row.indexOf(Math.max(...row))]];
  })));
}

/** The left–right mirror of an IMAGE batch: a left/right scene's right-hand object becomes its first. */
export function mirror(image: Tensor): Tensor {
  const [b, c, h, w] = image.shape;
  const out = image.clone();
  for (let i = 0; i < b * c * h; i++) for (let x = 0; x < w; x++) out.data[i * w + x] = image.data[i * w + (w - 1 - x)];
  return out;
}
