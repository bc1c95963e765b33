/**
 * Preview images as binary WebSocket frames:
 *
 *   bytes 0..3   header length N (uint32, big-endian)
 *   bytes 4..4+N header, UTF-8 JSON: { type: "node.preview", runId, nodeId, time, mime, width, height, index }
 *   the rest     the image file (PNG or JPEG, as `mime` says)
 */
import { PNG } from 'pngjs';

export interface EncodedImage {
  mime: 'image/png' | 'image/jpeg';
  width: number | null;
  height: number | null;
  /** Index of the image in its batch, when the node says. */
  index?: number;
  bytes: Buffer;
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).equals(PNG_MAGIC);
}

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

function pngSize(bytes: Uint8Array): { width: number; height: number } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/**
 * What a node passes to ctx.preview(): PNG/JPEG bytes as they are, or an IMAGE tensor
 * ([B, 3, H, W] or [3, H, W], RGB in [0, 1]; the first item of a batch). Anything else: null.
 */
export function encodePreview(image: unknown): EncodedImage | null {
  // The nodes' PngPreview: { format: 'png' | 'jpeg', width, height, index, data: bytes }.
  const p = image as { format?: unknown; data?: unknown; index?: unknown } | null;
  if (p && typeof p === 'object' && (p.format === 'png' || p.format === 'jpeg') && p.data instanceof Uint8Array) {
    const encoded = encodePreview(p.data);
    return encoded && { ...encoded, ...(typeof p.index === 'number' ? { index: p.index } : {}) };
  }
  if (image instanceof Uint8Array) {
    if (isPng(image)) return { mime: 'image/png', ...pngSize(image), bytes: Buffer.from(image) };
    if (isJpeg(image)) return { mime: 'image/jpeg', width: null, height: null, bytes: Buffer.from(image) };
    return null;
  }
  const t = image as { shape?: readonly number[]; data?: ArrayLike<number> } | null;
  if (!t || !Array.isArray(t.shape) || !t.data) return null;
  const shape = t.shape.length === 3 ? [1, ...t.shape] : t.shape;
  if (shape.length !== 4 || (shape[1] !== 3 && shape[1] !== 1)) return null;
  const [, c, h, w] = shape;
  if (h * w === 0 || h > 4096 || w > 4096) return null;
  const png = new PNG({ width: w, height: h });
  const plane = h * w;
  for (let i = 0; i < plane; i++) {
    for (let k = 0; k < 3; k++) {
      const v = t.data[(c === 3 ? k : 0) * plane + i];
      png.data[4 * i + k] = Math.max(0, Math.min(255, Math.round(v * 255)));
    }
    png.data[4 * i + 3] = 255;
  }
  return { mime: 'image/png', width: w, height: h, bytes: PNG.sync.write(png) };
}

export function previewFrame(header: Record<string, unknown>, image: EncodedImage): Buffer {
  const json = Buffer.from(JSON.stringify({ ...header, mime: image.mime, width: image.width, height: image.height, index: image.index ?? 0 }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length, 0);
  return Buffer.concat([length, json, image.bytes]);
}

export function parsePreviewFrame(frame: Buffer): { header: Record<string, unknown>; image: Buffer } {
  const n = frame.readUInt32BE(0);
  return { header: JSON.parse(frame.subarray(4, 4 + n).toString('utf8')), image: frame.subarray(4 + n) };
}
