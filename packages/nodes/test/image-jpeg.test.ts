/** JPEG input: LoadImage, LoadMask and LearnTPM's image folders read it; corrupt files fail clearly. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import jpeg from 'jpeg-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import { createRegistry, decodeRgba, encodePng } from '../src/index.ts';
import { loadImageFolder } from '../src/tpm/training-data.ts';
import { isolatedServices } from './services.ts';

const LEFT = [200, 40, 60];
const RIGHT = [30, 90, 220];

/** A 24×16 JPEG: the left half one colour, the right half another. */
export function twoColourJpeg(width = 24, height = 16, quality = 95): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = x < width / 2 ? LEFT : RIGHT;
      data.set([r, g, b, 255], 4 * (y * width + x));
    }
  }
  return jpeg.encode({ width, height, data }, quality).data;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-jpeg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function run(workflow: Workflow) {
  const result = await new Executor(createRegistry()).run(workflow, { services: { ...isolatedServices(), inputRoots: [dir] } });
  return result.outputs;
}

/** Mean colour (0–255) of the pixels a few columns inside one half, away from the edge JPEG blurs. */
function meanColour(image: Tensor, half: 'left' | 'right'): number[] {
  const [, , h, w] = image.shape;
  const xs = half === 'left' ? [2, w / 2 - 3] : [w / 2 + 2, w - 3];
  return [0, 1, 2].map((c) => {
    let sum = 0, n = 0;
    for (let y = 0; y < h; y++) for (let x = xs[0]; x <= xs[1]; x++, n++) sum += image.data[c * h * w + y * w + x];
    return (255 * sum) / n;
  });
}

describe('JPEG input', () => {
  it('LoadImage reads a JPEG: its size, its colours (within JPEG error), an empty mask and no workflow', async () => {
    writeFileSync(path.join(dir, 'photo.jpg'), twoColourJpeg());
    const outputs = await run({ format: 'diffgraph/workflow@1', nodes: { load: { type: 'LoadImage', inputs: { path: 'photo.jpg' } } }, outputs: ['load'] });
    const load = outputs.load;
    expect(load.status).toBe('succeeded');
    if (load.status !== 'succeeded') return;
    const image = load.values.image as Tensor;
    expect(image.shape).toEqual([1, 3, 16, 24]);
    for (const [half, want] of [['left', LEFT], ['right', RIGHT]] as const) {
      meanColour(image, half).forEach((v, c) => expect(Math.abs(v - want[c])).toBeLessThan(6));
    }
    expect((load.values.mask as Tensor).shape).toEqual([1, 1, 16, 24]);
    expect(Math.max(...(load.values.mask as Tensor).data)).toBe(0);
    expect(load.values.workflow).toBe('');
  });

  it('LoadMask takes a channel of a JPEG', async () => {
    writeFileSync(path.join(dir, 'mask.jpeg'), twoColourJpeg());
    const outputs = await run({ format: 'diffgraph/workflow@1', nodes: { m: { type: 'LoadMask', inputs: { path: 'mask.jpeg', channel: 'blue' } } }, outputs: ['m'] });
    const m = outputs.m;
    expect(m.status).toBe('succeeded');
    if (m.status !== 'succeeded') return;
    const mask = m.values.mask as Tensor;
    expect(mask.shape).toEqual([1, 1, 16, 24]);
    expect(Math.abs(255 * mask.data[8 * 24 + 2] - LEFT[2])).toBeLessThan(10);
    expect(Math.abs(255 * mask.data[8 * 24 + 21] - RIGHT[2])).toBeLessThan(10);
  });

  it('a corrupt or truncated JPEG (and a PNG with garbage after its signature) fails naming the node and input', async () => {
    const good = twoColourJpeg();
    writeFileSync(path.join(dir, 'garbage.jpg'), Buffer.concat([good.subarray(0, 3), Buffer.alloc(400, 0x5a)]));
    writeFileSync(path.join(dir, 'truncated.jpg'), good.subarray(0, Math.floor(good.length / 2)));
    writeFileSync(path.join(dir, 'garbage.png'), Buffer.concat([encodePng(Tensor.zeros([1, 3, 2, 2])).subarray(0, 8), Buffer.alloc(200, 7)]));
    const outputs = await run({
      format: 'diffgraph/workflow@1',
      nodes: {
        a: { type: 'LoadImage', inputs: { path: 'garbage.jpg' } },
        b: { type: 'LoadImage', inputs: { path: 'truncated.jpg' } },
        c: { type: 'LoadMask', inputs: { path: 'garbage.png' } },
      },
      outputs: ['a', 'b', 'c'],
    });
    const failure = (id: string) => {
      const r = outputs[id];
      expect(r.status).toBe('failed');
      return r.status === 'failed' ? r.error : undefined;
    };
    expect(failure('a')).toMatchObject({ nodeId: 'a', message: expect.stringMatching(/^LoadImage input "path": cannot read "garbage.jpg": not a readable JPEG/) });
    expect(failure('b')).toMatchObject({ nodeId: 'b', message: expect.stringMatching(/^LoadImage input "path": cannot read "truncated.jpg": not a readable JPEG/) });
    expect(failure('c')).toMatchObject({ nodeId: 'c', message: expect.stringMatching(/^LoadMask input "path": cannot read "garbage.png": /) });
  });

  it('the size in the header is checked before pixels are decoded', () => {
    expect(decodeRgba(twoColourJpeg()).width).toBe(24);
    expect(() => decodeRgba(twoColourJpeg(), 100)).toThrow(/more than the 100 pixels/);
    expect(() => decodeRgba(encodePng(Tensor.zeros([1, 3, 6, 8])), 40)).toThrow(/8×6; at most 40 pixels/);
  });

  it('LearnTPM image folders take JPEGs too', () => {
    const folder = path.join(dir, 'train');
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'a.jpg'), twoColourJpeg(8, 8));
    writeFileSync(path.join(folder, 'b.png'), encodePng(Tensor.zeros([1, 3, 8, 8])));
    expect(loadImageFolder(folder).shape).toEqual([2, 3, 8, 8]);
  });
});
