/**
 * Shared by bench/pack-quality.ts, bench/models.ts and the pack smoke test: the attribute classifier
 * (models/shapes-32/attribute_classifier), a model store on the repository's models/ folder, and an
 * upscaled image montage for the docs.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../packages/engine/src/tensor.ts';
import { ModelStore } from '../packages/nodes/src/runtime/model-store.ts';
import { toOrt } from '../packages/nodes/src/runtime/ort-tensors.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const MODELS = join(ROOT, 'models');

export function modelStore(intraOpThreads = 1): ModelStore {
  return new ModelStore({ roots: [MODELS], intraOpThreads, interOpThreads: 1, executionProvider: 'cpu' });
}

export interface Head { name: string; offset: number; size: number; labels: string[] }

export const ATTRIBUTE_CLASSIFIER = join(MODELS, 'shapes-32', 'attribute_classifier');

export function attributeHeads(): Head[] {
  return (JSON.parse(readFileSync(join(ATTRIBUTE_CLASSIFIER, 'config.json'), 'utf8')) as { heads: Head[] }).heads;
}

export type Attributes = Record<string, string>;

/** Classifies an IMAGE [B, 3, 32, 32] in [0, 1]: per item, the argmax label of every head. */
export async function classifyImages(store: ModelStore, image: Tensor): Promise<Attributes[]> {
  const heads = attributeHeads();
  const session = await store.open(join(ATTRIBUTE_CLASSIFIER, 'model.onnx'));
  const input = new Float32Array(image.size);
  for (let i = 0; i < input.length; i++) input[i] = 2 * image.data[i] - 1;
  const out = await session.run({ sample: toOrt(new Tensor(image.shape, input)) }, ['logits']);
  const logits = out.logits.data as Float32Array;
  const n = logits.length / image.shape[0];
  return Array.from({ length: image.shape[0] }, (_, b) => {
    const row = logits.subarray(b * n, (b + 1) * n);
    const attrs: Attributes = {};
    for (const h of heads) {
      let best = 0;
      for (let j = 1; j < h.size; j++) if (row[h.offset + j] > row[h.offset + best]) best = j;
      attrs[h.name] = h.labels[best];
    }
    return attrs;
  });
}

/**
 * Images (each an IMAGE batch, or one item of it) as one RGB montage [1, 3, H, W]: `cols` per row,
 * each upscaled `scale`× (nearest), `gap` pixels of white between them.
 */
export function montage(images: Tensor[], cols: number, scale = 4, gap = 2): Tensor {
  const items: { t: Tensor; b: number }[] = images.flatMap((t) => Array.from({ length: t.shape[0] }, (_, b) => ({ t, b })));
  const h = items[0].t.shape[2], w = items[0].t.shape[3];
  const rows = Math.ceil(items.length / cols);
  const H = rows * h * scale + (rows - 1) * gap, W = cols * w * scale + (cols - 1) * gap;
  const out = new Float32Array(3 * H * W).fill(1);
  items.forEach(({ t, b }, k) => {
    const oy = Math.floor(k / cols) * (h * scale + gap), ox = (k % cols) * (w * scale + gap);
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < h * scale; y++) {
        for (let x = 0; x < w * scale; x++) {
          out[c * H * W + (oy + y) * W + ox + x] = t.data[((b * 3 + c) * h + Math.floor(y / scale)) * w + Math.floor(x / scale)];
        }
      }
    }
  });
  return new Tensor([1, 3, H, W], out);
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.round(q * (s.length - 1))))];
}
