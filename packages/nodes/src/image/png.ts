/**
 * IMAGE tensors ([B, 3, H, W], RGB in [0, 1]) to and from 8-bit PNG, with text metadata.
 * Pixels go through pngjs; text chunks through png-chunks.ts (pngjs ignores them). Reading is
 * decode-image.ts's, which takes JPEG too.
 */
import pngjs from 'pngjs';
import { Tensor } from '@diffgraph/engine';
import { insertPngText } from './png-chunks.ts';
import { decodeImage, isPngData, type DecodedImage } from './decode-image.ts';

const { PNG } = pngjs;

/** Checks that a value is an IMAGE tensor and returns its dimensions; errors name the node and input. */
export function imageDims(image: unknown, where: string): { batch: number; height: number; width: number } {
  if (!(image instanceof Tensor)) throw new Error(`${where}: expected an IMAGE tensor, got ${typeof image}`);
  const s = image.shape;
  if (s.length !== 4 || s[1] !== 3) throw new Error(`${where}: expected an IMAGE [B, 3, H, W], got ${image}`);
  return { batch: s[0], height: s[2], width: s[3] };
}

const toByte = (v: number) => (v >= 1 ? 255 : v > 0 ? Math.round(v * 255) : 0); // NaN → 0

export interface EncodeOptions {
  /** Text chunks to embed (keyword → value). */
  text?: Readonly<Record<string, string>>;
  /** Optional MASK [B, 1, H, W]: written as alpha = 1 − mask, the inverse of decodePng's mask. */
  mask?: Tensor;
  /** zlib level (0–9); previews use a fast level. */
  deflateLevel?: number;
}

/** Item `index` of an IMAGE batch as an 8-bit RGB (or RGBA with a mask) PNG. Values are clamped to [0, 1]. */
export function encodePng(image: Tensor, index = 0, options: EncodeOptions = {}): Buffer {
  const { batch, height, width } = imageDims(image, 'encodePng');
  if (!Number.isInteger(index) || index < 0 || index >= batch) throw new RangeError(`encodePng: no item ${index} in a batch of ${batch}`);
  if (width === 0 || height === 0) throw new Error('encodePng: an image needs at least one pixel');
  const { mask } = options;
  if (mask && (mask.shape.length !== 4 || mask.shape[1] !== 1 || mask.shape[2] !== height || mask.shape[3] !== width || (mask.shape[0] !== 1 && mask.shape[0] !== batch))) {
    throw new Error(`encodePng: mask ${mask} does not match image ${image}`);
  }
  const plane = height * width;
  const src = image.data;
  const base = index * 3 * plane;
  const maskBase = mask ? (mask.shape[0] === 1 ? 0 : index * plane) : 0;
  const png = new PNG({ width, height });
  const rgba = png.data;
  for (let p = 0; p < plane; p++) {
    rgba[4 * p] = toByte(src[base + p]);
    rgba[4 * p + 1] = toByte(src[base + plane + p]);
    rgba[4 * p + 2] = toByte(src[base + 2 * plane + p]);
    rgba[4 * p + 3] = mask ? toByte(1 - mask.data[maskBase + p]) : 255;
  }
  const encoded = PNG.sync.write(png, {
    colorType: mask ? 6 : 2,
    inputColorType: 6,
    inputHasAlpha: true,
    deflateLevel: options.deflateLevel ?? 6,
  });
  return options.text && Object.keys(options.text).length > 0 ? insertPngText(encoded, options.text) : encoded;
}

export type DecodedPng = Omit<DecodedImage, 'format'>;

/** A PNG (palette, grey, 16-bit: pngjs normalizes to 8-bit RGBA) as an IMAGE and a mask; see decodeImage. */
export function decodePng(bytes: Buffer): DecodedPng {
  if (!isPngData(bytes)) throw new Error('not a PNG file (bad signature)');
  const { format: _format, ...decoded } = decodeImage(bytes);
  return decoded;
}
