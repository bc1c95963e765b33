/**
 * Input images, PNG or JPEG, decoded from their content (never their name). PNG pixels go through
 * pngjs and its text chunks through png-chunks.ts; JPEG (baseline and progressive) through jpeg-js,
 * strictly: a truncated or corrupt file is an error, not a partly grey picture. The size in the header
 * is checked before any pixel is decoded, so a small file cannot claim a huge image (a decompression
 * bomb) and exhaust memory.
 */
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { Tensor, type NodeContext } from '@diffgraph/engine';
import { resolveInput } from '../io/services.ts';
import { PNG_SIGNATURE, readPngText } from './png-chunks.ts';

const { PNG } = pngjs;

export type ImageFormat = 'png' | 'jpeg';

/** Most pixels decoded from one file: 4096 × 4096 (its IMAGE tensor is 192 MiB of float32). */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

export function isPngData(bytes: Uint8Array): boolean {
  return bytes.length >= PNG_SIGNATURE.length && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

export function isJpegData(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

export function imageFormat(bytes: Uint8Array): ImageFormat | undefined {
  return isPngData(bytes) ? 'png' : isJpegData(bytes) ? 'jpeg' : undefined;
}

export interface RgbaImage {
  format: ImageFormat;
  width: number;
  height: number;
  /** 8-bit RGBA, row-major. */
  rgba: Uint8Array;
  hasAlpha: boolean;
  /** PNG text entries (tEXt, zTXt, iTXt); none for JPEG. */
  text: Record<string, string>;
}

/** Width and height from a PNG's IHDR chunk, which the format requires first. */
function pngHeaderSize(bytes: Uint8Array): { width: number; height: number } {
  if (bytes.length < 24) throw new Error('the PNG ends inside its header');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function checkPixels(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    throw new Error(`the image is ${width}×${height}; at most ${maxPixels} pixels (e.g. ${Math.floor(Math.sqrt(maxPixels))}×${Math.floor(Math.sqrt(maxPixels))}) are read`);
  }
}

/** Pixels (and PNG text) of a PNG or JPEG; throws with the reason when the content is not a readable image. */
export function decodeRgba(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): RgbaImage {
  const format = imageFormat(bytes);
  if (format === 'png') {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const text = readPngText(buffer); // also validates the structure and every CRC, so the header is trustworthy
    const { width, height } = pngHeaderSize(bytes);
    checkPixels(width, height, maxPixels);
    const png = PNG.sync.read(buffer);
    return { format, width: png.width, height: png.height, rgba: png.data, hasAlpha: png.alpha, text };
  }
  if (format === 'jpeg') {
    let decoded;
    try {
      // jpeg-js checks the frame size against maxResolutionInMP before it allocates any pixel.
      decoded = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false, maxResolutionInMP: maxPixels / 1e6 });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      if (reason.includes('maxResolutionInMP')) throw new Error(`the image has more than the ${maxPixels} pixels that are read`);
      throw new Error(`not a readable JPEG (${reason})`);
    }
    return { format, width: decoded.width, height: decoded.height, rgba: decoded.data, hasAlpha: false, text: {} };
  }
  throw new Error('not a PNG or JPEG image');
}

export interface DecodedImage {
  format: ImageFormat;
  /** [1, 3, H, W] float32 in [0, 1], quantized to 1/255. */
  image: Tensor;
  /** [1, 1, H, W] float32: 1 − alpha (1 where transparent = repaint); all zeros without alpha. */
  mask: Tensor;
  /** Whether the file had an alpha channel (or tRNS transparency); never for JPEG. */
  hasAlpha: boolean;
  /** PNG text entries (tEXt, zTXt, iTXt); none for JPEG. */
  text: Record<string, string>;
}

/**
 * A PNG or JPEG as an IMAGE plus a mask from its alpha. The mask is 1 − alpha because MASK means
 * "1 = repaint": the transparent part of an image is the part an inpainting run fills in, as in
 * ComfyUI's LoadImage.
 */
export function decodeImage(bytes: Uint8Array, maxPixels = MAX_IMAGE_PIXELS): DecodedImage {
  const { format, width, height, rgba, hasAlpha, text } = decodeRgba(bytes, maxPixels);
  const plane = width * height;
  const image = Tensor.zeros([1, 3, height, width]);
  const mask = Tensor.zeros([1, 1, height, width]);
  const d = image.data, m = mask.data;
  for (let p = 0; p < plane; p++) {
    d[p] = rgba[4 * p] / 255;
    d[plane + p] = rgba[4 * p + 1] / 255;
    d[2 * plane + p] = rgba[4 * p + 2] / 255;
    m[p] = 1 - rgba[4 * p + 3] / 255;
  }
  return { format, image, mask, hasAlpha, text };
}

/** The image a loader's "path" input names, decoded; errors name the node type and the input. */
export function readInputImage(ctx: NodeContext, nodeType: string, name: unknown): DecodedImage {
  if (typeof name !== 'string' || name === '') throw new Error(`${nodeType}: input "path" must name a PNG or JPEG file`);
  const file = resolveInput(ctx, name);
  try {
    return decodeImage(readFileSync(file));
  } catch (e) {
    throw new Error(`${nodeType} input "path": cannot read "${name}": ${(e as Error).message}`);
  }
}
