/** Which loaders get the inputs dropdown and which files each lists, and which image a mask is painted over. */
import { describe, expect, it } from 'vitest';
import type { Workflow } from '@diffgraph/engine';
import { createRegistry } from '@diffgraph/nodes';
import { Catalog, widgetKind } from '../src/catalog.ts';
import { isJpeg, maskBackground } from '../src/input-files.ts';

const registry = createRegistry();
const catalog = new Catalog({ nodes: registry.list().map(({ run: _run, ...def }) => def) });
catalog.inputs = [
  { name: 'b.png', bytes: 1, type: 'image/png', mtime: 3 },
  { name: 'latents.npy', bytes: 1, type: 'application/x-npy', mtime: 2 },
  { name: 'data/a.jpg', bytes: 1, type: 'image/jpeg', mtime: 1 },
  { name: 'circuit.json', bytes: 1, type: 'application/json', mtime: 0 },
];

describe('input files', () => {
  it('every loader whose path lies in the inputs folder gets the inputs dropdown; model paths and other inputs do not', () => {
    const kinds = Object.fromEntries(['LoadImage', 'LoadMask', 'LoadTensor', 'LoadPipeline'].map((t) => [t, widgetKind(catalog.get(t)!.inputs.path!)]));
    expect(kinds).toEqual({ LoadImage: 'input', LoadMask: 'input', LoadTensor: 'input', LoadPipeline: 'model' });
  });

  it('image loaders list images, the others the rest, in the server\'s order', () => {
    expect(catalog.inputChoices('LoadImage')).toEqual(['b.png', 'data/a.jpg']);
    expect(catalog.inputChoices('LoadMask')).toEqual(['b.png', 'data/a.jpg']);
    expect(catalog.inputChoices('LoadTensor')).toEqual(['latents.npy', 'circuit.json']);
  });

  it('a mask is painted over the image that feeds a node the mask feeds, else the first LoadImage\'s, else any image', () => {
    const available = new Set(['one.png', 'two.png', 'three.png']);
    const wf = {
      format: 'diffgraph/workflow@1',
      nodes: {
        first: { type: 'LoadImage', inputs: { path: 'one.png' } },
        second: { type: 'LoadImage', inputs: { path: 'two.png' } },
        mask: { type: 'LoadMask', inputs: { path: 'm.png' } },
        use: { type: 'InpaintComposite', inputs: { original: { from: 'second', output: 'image' }, mask: { from: 'mask', output: 'mask' } } },
      },
    } as unknown as Workflow;
    expect(maskBackground(wf, 'mask', available)).toBe('two.png');
    delete (wf.nodes.use.inputs as Record<string, unknown>).original;
    expect(maskBackground(wf, 'mask', available)).toBe('one.png');
    expect(maskBackground({ format: 'diffgraph/workflow@1', nodes: {} } as unknown as Workflow, 'mask', available)).toBe('one.png');
    expect(maskBackground({ format: 'diffgraph/workflow@1', nodes: {} } as unknown as Workflow, 'mask', new Set())).toBeUndefined();
  });

  it('tells a JPEG by its first bytes', () => {
    expect(isJpeg(new Uint8Array([0xff, 0xd8, 0xff, 0xe0]))).toBe(true);
    expect(isJpeg(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBe(false);
  });
});
