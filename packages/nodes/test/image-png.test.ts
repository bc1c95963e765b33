/** PNG encoding/decoding of IMAGE tensors and PNG text chunks. */
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import pngjs from 'pngjs';
import { Tensor } from '@diffgraph/engine';
import { decodePng, encodePng } from '../src/image/png.ts';
import { crc32, insertPngText, readChunks, readPngText, textChunk, writeChunks } from '../src/image/png-chunks.ts';

const { PNG } = pngjs;

/** A deterministic [B, 3, H, W] image with values spread over [0, 1] and some out of range. */
function testImage(batch: number, h: number, w: number): Tensor {
  const t = Tensor.zeros([batch, 3, h, w]);
  for (let i = 0; i < t.size; i++) t.data[i] = ((i * 37) % 101) / 100 - 0.005;
  return t;
}

describe('CRC-32', () => {
  it('matches the standard check value and the IEND chunk CRC', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('IEND'))).toBe(0xae426082);
  });
});

describe('encodePng / decodePng', () => {
  it('round-trips pixels to within 1/255 quantization, per batch item, clamping out-of-range values', () => {
    const image = testImage(2, 5, 7);
    for (const index of [0, 1]) {
      const { image: back, hasAlpha, mask } = decodePng(encodePng(image, index));
      expect(back.shape).toEqual([1, 3, 5, 7]);
      expect(hasAlpha).toBe(false);
      expect(mask.data.every((v) => v === 0)).toBe(true);
      const plane = 3 * 5 * 7;
      for (let i = 0; i < plane; i++) {
        const v = Math.min(1, Math.max(0, image.data[index * plane + i]));
        expect(Math.abs(back.data[i] - v)).toBeLessThanOrEqual(0.5 / 255 + 1e-7);
        expect(Math.round(back.data[i] * 255) / 255).toBeCloseTo(back.data[i], 7); // exactly k/255
      }
    }
  });

  it('is idempotent on already-quantized images', () => {
    const once = decodePng(encodePng(testImage(1, 4, 4))).image;
    const twice = decodePng(encodePng(once)).image;
    expect(Array.from(twice.data)).toEqual(Array.from(once.data));
  });

  it('writes a mask as alpha = 1 − mask and reads it back as the mask (transparent = repaint)', () => {
    const image = testImage(1, 3, 4);
    const mask = Tensor.from([1, 1, 3, 4], [0, 0, 1, 1, 0, 0.5, 1, 0, 1, 1, 0, 0]);
    const decoded = decodePng(encodePng(image, 0, { mask }));
    expect(decoded.hasAlpha).toBe(true);
    decoded.mask.data.forEach((v, i) => expect(Math.abs(v - mask.data[i])).toBeLessThanOrEqual(0.5 / 255 + 1e-7));
  });

  it('rejects non-IMAGE tensors and corrupt files with clear errors', () => {
    expect(() => encodePng(Tensor.zeros([1, 4, 2, 2]))).toThrow(/IMAGE \[B, 3, H, W\]/);
    expect(() => encodePng(testImage(1, 2, 2), 1)).toThrow(/no item 1/);
    const png = encodePng(testImage(1, 2, 2));
    const corrupt = Buffer.from(png);
    corrupt[20] ^= 0xff; // inside IHDR
    expect(() => decodePng(corrupt)).toThrow(/bad CRC in chunk "IHDR"/);
    expect(() => decodePng(Buffer.from('not a png'))).toThrow(/signature/);
  });
});

describe('PNG text chunks', () => {
  const png = encodePng(testImage(1, 6, 6));

  it('round-trips short ASCII (tEXt), non-ASCII (iTXt) and long JSON (compressed iTXt)', () => {
    const longJson = JSON.stringify({ nodes: Array.from({ length: 300 }, (_, i) => ({ id: `n${i}`, text: 'a red circle' })) });
    const entries = { parameters: '{"seed":42}', title: 'Ünïcødé ✓ 日本語 🎨', workflow: longJson };
    const withText = insertPngText(png, entries);
    const types = readChunks(withText).map((c) => c.type);
    expect(types).toEqual(['IHDR', 'tEXt', 'iTXt', 'iTXt', ...readChunks(png).slice(1).map((c) => c.type)]);
    // The long one is compressed: the file is smaller than its text.
    expect(withText.length).toBeLessThan(png.length + longJson.length / 4);
    expect(readPngText(withText)).toEqual(entries);
  });

  it('leaves a PNG that pngjs still decodes to the same pixels', () => {
    const withText = insertPngText(png, { workflow: '{"format":"diffgraph/workflow@1","nodes":{}}', note: 'ü' });
    const a = PNG.sync.read(png), b = PNG.sync.read(withText);
    expect([b.width, b.height]).toEqual([6, 6]);
    expect(Buffer.compare(a.data, b.data)).toBe(0);
  });

  it('reads zTXt and uncompressed iTXt written by other tools', () => {
    const chunks = readChunks(png);
    const zTXt = { type: 'zTXt', data: Buffer.concat([Buffer.from('Comment\0\0', 'latin1'), deflateSync(Buffer.from('zipped', 'latin1'))]) };
    const iTXt = { type: 'iTXt', data: Buffer.concat([Buffer.from('Title\0\0\0en\0Titel\0', 'latin1'), Buffer.from('grüße', 'utf8')]) };
    const file = writeChunks([chunks[0], zTXt, iTXt, ...chunks.slice(1)]);
    expect(readPngText(file)).toEqual({ Comment: 'zipped', Title: 'grüße' });
  });

  it('rejects invalid keywords', () => {
    expect(() => textChunk('', 'x')).toThrow(/keyword/);
    expect(() => textChunk(' lead', 'x')).toThrow(/keyword/);
    expect(() => textChunk('k'.repeat(80), 'x')).toThrow(/keyword/);
    expect(textChunk('k'.repeat(79), 'x').type).toBe('tEXt');
  });
});
