/** Training data for LearnTPM: a folder of PNG or JPEG images or a tensor file, as [N, ...item] float64. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Tensor } from '@diffgraph/engine';
import { decodeImage } from '../image/decode-image.ts';
import { decodeNpy } from '../io/npy.ts';
import { tensorFromJson } from '../io/tensor-json.ts';

/**
 * Every *.png, *.jpg and *.jpeg of a folder (sorted by name), stacked into [N, 3, H, W]; all must share one size.
 * `confine` maps each file name to the path to read, refusing one that leads out of the allowed roots.
 */
export function loadImageFolder(dir: string, confine: (name: string) => string = (name) => path.join(dir, name)): Tensor {
  if (!statSync(dir).isDirectory()) throw new Error(`LearnTPM: "${dir}" is not a folder`);
  const files = readdirSync(dir).filter((f) => /\.(png|jpe?g)$/i.test(f)).sort();
  if (files.length === 0) throw new Error(`LearnTPM: no .png or .jpg files in "${dir}"`);
  const images = files.map((f) => {
    try {
      return decodeImage(readFileSync(confine(f))).image;
    } catch (e) {
      throw new Error(`LearnTPM: cannot read "${f}": ${(e as Error).message}`);
    }
  });
  const [, C, H, W] = images[0].shape;
  const per = C * H * W;
  const out = Tensor.zeros([images.length, C, H, W], 'float64');
  images.forEach((img, i) => {
    if (img.shape[2] !== H || img.shape[3] !== W) throw new Error(`LearnTPM: "${files[i]}" is ${img.shape[3]}×${img.shape[2]}, the first image ${W}×${H} (resize them to one size)`);
    out.data.set(img.data, i * per);
  });
  return out;
}

/** A .npy or .json tensor file. */
export function loadTensorFile(file: string): Tensor {
  const bytes = readFileSync(file);
  if (file.endsWith('.npy')) return decodeNpy(bytes);
  if (file.endsWith('.json')) return tensorFromJson(JSON.parse(bytes.toString('utf8')));
  throw new Error(`LearnTPM: "${file}" is neither .npy nor .json`);
}
