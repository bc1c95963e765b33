/**
 * Image uploads are decoded, not just sniffed: a JPEG upload is usable by LoadImage in a run, and a
 * file with PNG or JPEG magic bytes and garbage (or a cut-off end) after them is refused with 415.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePng } from '@diffgraph/nodes';
import { api, submit, tempServer, waitForStatus } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let server: RunningServer & { dataDir: string };
beforeAll(async () => {
  server = await tempServer();
});
afterAll(() => server.close());

const upload = (body: Buffer) => api(server.url, '/api/uploads', { method: 'POST', body, headers: { 'Content-Type': 'application/octet-stream' } });

/** 20×10: green on the left half, magenta on the right. */
function jpegImage(): Buffer {
  const width = 20, height = 10;
  const data = Buffer.alloc(width * height * 4);
  for (let p = 0; p < width * height; p++) data.set((p % width) < width / 2 ? [40, 180, 60, 255] : [210, 50, 190, 255], 4 * p);
  return jpeg.encode({ width, height, data }, 95).data;
}

function pngImage(): Buffer {
  const png = new PNG({ width: 16, height: 16 });
  for (let p = 0; p < 256; p++) png.data.set([p, 255 - p, (p * 7) % 256, 255], 4 * p);
  return PNG.sync.write(png);
}

describe('image uploads', () => {
  it('a JPEG upload is stored as image/jpeg and LoadImage reads it in a run (size and colours)', async () => {
    const up = await upload(jpegImage());
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ type: 'image/jpeg', name: `${up.body.sha256}.jpg` });
    const runId = await submit(server.url, {
      format: 'diffgraph/workflow@1',
      nodes: {
        load: { type: 'LoadImage', inputs: { path: up.body.name } },
        save: { type: 'SaveImage', inputs: { images: { from: 'load', output: 'image' }, filename_prefix: 'from-jpeg' } },
      },
    });
    const run = await waitForStatus(server.url, runId, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    const dir = path.join(server.dataDir, 'outputs', runId);
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.png'));
    const { image } = decodePng(readFileSync(path.join(dir, file)));
    expect(image.shape).toEqual([1, 3, 10, 20]);
    const at = (x: number, y: number) => [0, 1, 2].map((c) => Math.round(255 * image.data[c * 200 + y * 20 + x]));
    at(3, 5).forEach((v, c) => expect(Math.abs(v - [40, 180, 60][c])).toBeLessThan(12));
    at(16, 5).forEach((v, c) => expect(Math.abs(v - [210, 50, 190][c])).toBeLessThan(12));
  });

  it('PNG or JPEG magic with garbage after it, or a cut-off file, is refused with 415 UNREADABLE_UPLOAD and not stored', async () => {
    const good = { png: pngImage(), jpeg: jpegImage() };
    const bad: [string, Buffer][] = [
      ['PNG signature + garbage', Buffer.concat([good.png.subarray(0, 8), Buffer.alloc(300, 0x41)])],
      ['PNG cut in its image data', good.png.subarray(0, good.png.length - 40)],
      ['JPEG magic + garbage', Buffer.concat([good.jpeg.subarray(0, 3), Buffer.alloc(300, 0x41)])],
      ['JPEG cut in half', good.jpeg.subarray(0, Math.floor(good.jpeg.length / 2))],
    ];
    const stored = () => readdirSync(path.join(server.dataDir, 'inputs')).length;
    const before = stored();
    for (const [what, body] of bad) {
      const r = await upload(body);
      expect(r.status, what).toBe(415);
      expect(r.body.errors[0].code, what).toBe('UNREADABLE_UPLOAD');
      expect(r.body.errors[0].message, what).toMatch(/^Not a readable (PNG|JPEG) image: /);
    }
    expect(stored()).toBe(before);
  });
});
