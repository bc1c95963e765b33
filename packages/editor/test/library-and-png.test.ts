/**
 * The browser PNG text reader on PNGs written the way SaveImage writes them (tEXt for short values,
 * compressed iTXt for long ones), and the number prompt's arithmetic.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { encodePng, insertPngText } from '@diffgraph/nodes';
import { readPngText } from '../src/png-text.ts';
import { evaluateArithmetic } from '../src/graph/nodes.ts';

describe('PNG text chunks in the browser reader', () => {
  const image = new Tensor([1, 3, 4, 4], new Float32Array(48).fill(0.5));

  it('reads a short tEXt and a long compressed iTXt workflow', async () => {
    const workflow = JSON.stringify({ format: 'diffgraph/workflow@1', nodes: { n: { type: 'RandomNoise', inputs: { seed: 1 } } }, meta: { title: 'é ✓', pad: 'x'.repeat(3000) } });
    const png = insertPngText(encodePng(image, 0), { workflow, parameters: '{"seed":1}' });
    const text = await readPngText(new Uint8Array(png));
    expect(text.workflow).toBe(workflow);
    expect(text.parameters).toBe('{"seed":1}');
  });

  it('says a non-PNG is not a PNG and a PNG without text has none', async () => {
    await expect(readPngText(new Uint8Array([1, 2, 3]))).rejects.toThrow(/not a PNG/);
    expect(await readPngText(new Uint8Array(encodePng(image, 0)))).toEqual({});
  });
});

describe('number prompt arithmetic (no eval)', () => {
  it.each([
    ['42', 42], [' 2.5 ', 2.5], ['1+2*3', 7], ['(1+2)*3', 9], ['-4/2', -2], ['1e3', 1000], ['.5', 0.5],
  ])('%s = %s', (text, value) => expect(evaluateArithmetic(text)).toBe(value));
  it.each(['', 'alert(1)', '1+', '2**3', 'x', '1/0', '(1'])('%s is refused', (text) => expect(evaluateArithmetic(text)).toBeUndefined());
});
