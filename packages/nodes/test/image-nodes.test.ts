/** LoadImage / SaveImage / PreviewImage / mask nodes through the executor, with real files. */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Executor, Tensor, type EngineEvent, type RunResult, type Workflow } from '@diffgraph/engine';
import { createRegistry, type HostServices } from '../src/index.ts';
import { decodePng, encodePng } from '../src/image/png.ts';
import { readPngText } from '../src/image/png-chunks.ts';
import { sanitizePrefix } from '../src/image/filenames.ts';
import { runParameters } from '../src/image/metadata.ts';
import type { PngPreview } from '../src/image/image-nodes.ts';

const link = (from: string, output: string) => ({ from, output });

let root: string, inDir: string, outDir: string;

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'diffgraph-image-'));
  inDir = path.join(root, 'in');
  outDir = path.join(root, 'out');
  mkdirSync(inDir);
  mkdirSync(outDir);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A 2-item gradient image, quantized to 1/255 so PNG round trips are exact. */
function gradient(batch = 1, h = 6, w = 8): Tensor {
  const t = Tensor.zeros([batch, 3, h, w]);
  for (let i = 0; i < t.size; i++) t.data[i] = Math.fround(((i * 7) % 256) / 255);
  return t;
}

async function run(workflow: Workflow, services: Partial<HostServices> = {}) {
  const executor = new Executor(createRegistry());
  const events: EngineEvent[] = [];
  executor.events.subscribe((e) => events.push(e));
  const result = await executor.run(workflow, { services: { inputRoots: [inDir, outDir], outputDir: outDir, modelRoots: [], workflow: null, ...services } });
  return { result, events, executor };
}

function valuesOf(result: RunResult, id: string): Record<string, unknown> {
  const r = result.outputs[id];
  if (r.status !== 'succeeded') throw new Error(`${id}: ${JSON.stringify(r)}`);
  return r.values;
}

function saveWorkflow(prefix: string, meta: Record<string, unknown> = {}): Workflow {
  return {
    format: 'diffgraph/workflow@1',
    nodes: {
      load: { type: 'LoadImage', inputs: { path: 'source.png' } },
      noise: { type: 'RandomNoise', inputs: { seed: 42 } },
      save: { type: 'SaveImage', inputs: { images: link('load', 'image'), filename_prefix: prefix, parameters: { note: 'extra' } } },
    },
    outputs: ['save'],
    meta,
  };
}

describe('SaveImage → LoadImage', () => {
  it('writes PNGs whose embedded workflow (non-ASCII included) LoadImage recovers exactly', async () => {
    const source = gradient();
    writeFileSync(path.join(inDir, 'source.png'), encodePng(source));
    const wf = saveWorkflow('run', { title: 'Inpainting — “ciel étoilé” 星空 🌌' });
    const { result } = await run(wf, { workflow: wf });
    const paths = valuesOf(result, 'save').paths as string[];
    expect(paths).toEqual([path.join(realOut(), 'run_00001.png')]);

    const text = readPngText(readFileSync(paths[0]));
    expect(JSON.parse(text.parameters)).toEqual({ seed: 42, note: 'extra' });

    const reload: Workflow = { format: 'diffgraph/workflow@1', nodes: { load: { type: 'LoadImage', inputs: { path: 'run_00001.png' } } }, outputs: ['load'] };
    const back = valuesOf((await run(reload)).result, 'load');
    expect(back.workflow).toBe(JSON.stringify(wf));
    expect(JSON.parse(back.workflow as string)).toEqual(wf);
    expect(Array.from((back.image as Tensor).data)).toEqual(Array.from(source.data));
    expect((back.mask as Tensor).data.every((v) => v === 0)).toBe(true);
  });

  it('gives "" for a PNG without a workflow, and embeds nothing when embed_metadata is off', async () => {
    writeFileSync(path.join(inDir, 'source.png'), encodePng(gradient()));
    const wf = saveWorkflow('plain');
    wf.nodes.save.inputs!.embed_metadata = false;
    const { result } = await run(wf, { workflow: wf });
    const [file] = valuesOf(result, 'save').paths as string[];
    expect(readPngText(readFileSync(file))).toEqual({});
    const back = valuesOf((await run({ format: 'diffgraph/workflow@1', nodes: { l: { type: 'LoadImage', inputs: { path: 'plain_00001.png' } } }, outputs: ['l'] })).result, 'l');
    expect(back.workflow).toBe('');
  });

  it('saves every batch item, numbers files past existing ones and never overwrites (even through a planted link)', async () => {
    writeFileSync(path.join(inDir, 'source.png'), encodePng(gradient()));
    writeFileSync(path.join(outDir, 'shot_00007.png'), 'keep me');
    const victim = path.join(root, 'victim.txt');
    writeFileSync(victim, 'untouched');
    symlinkSync(victim, path.join(outDir, 'shot_00008.png'));
    const wf = saveWorkflow('shot');
    const first = valuesOf((await run(wf)).result, 'save').paths as string[];
    // SaveImage is never a cache hit: a second identical run writes a new file.
    const second = valuesOf((await run(wf)).result, 'save').paths as string[];
    expect([first, second].map((p) => path.basename(p[0]))).toEqual(['shot_00009.png', 'shot_00010.png']);
    expect(readFileSync(path.join(outDir, 'shot_00007.png'), 'utf8')).toBe('keep me');
    expect(readFileSync(victim, 'utf8')).toBe('untouched');
  });

  it('writes one file per batch item', async () => {
    const wf: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        t: { type: 'LoadTensor', inputs: { path: 'mask.json' } },
        img: { type: 'MaskToImage', inputs: { mask: link('t', 'tensor') } },
        save: { type: 'SaveImage', inputs: { images: link('img', 'image'), filename_prefix: 'batch' } },
      },
    };
    const registry = createRegistry();
    registry.declareSubtype('TENSOR', 'MASK');
    writeFileSync(path.join(inDir, 'mask.json'), JSON.stringify({ shape: [3, 1, 2, 2], dtype: 'float32', data: [0, 1, 0, 1, 1, 1, 0, 0, 0.5, 0.5, 0.5, 0.5] }));
    const executor = new Executor(registry);
    const paths = valuesOf(await executor.run(wf, { services: { inputRoots: [inDir], outputDir: outDir, modelRoots: [], workflow: null } }), 'save').paths as string[];
    expect(paths.map((p) => path.basename(p))).toEqual(['batch_00001.png', 'batch_00002.png', 'batch_00003.png']);
    expect(Array.from(decodePng(readFileSync(paths[1])).image.data)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]);
  });

  it('sanitizes prefixes so files land directly in the output folder', async () => {
    expect(sanitizePrefix('../../etc/passwd')).toBe('etc_passwd');
    expect(sanitizePrefix('my run/../../x')).toBe('my_run_x');
    expect(sanitizePrefix('C:\\Windows\\win.ini')).toBe('C_Windows_win.ini');
    expect(sanitizePrefix('..')).toBe('diffgraph');
    expect(sanitizePrefix('')).toBe('diffgraph');
    expect(sanitizePrefix('bild-äö')).toBe('bild');
    expect(sanitizePrefix('x'.repeat(500)).length).toBe(80);

    writeFileSync(path.join(inDir, 'source.png'), encodePng(gradient()));
    const [file] = valuesOf((await run(saveWorkflow('../../escape/../x'))).result, 'save').paths as string[];
    expect(path.dirname(file)).toBe(realOut());
    expect(path.basename(file)).toBe('escape_x_00001.png');
    expect(readdirSync(root).sort()).toEqual(['in', 'out']);
  });

  it('refuses input paths outside the input folders and reports unreadable files by node and name', async () => {
    writeFileSync(path.join(root, 'secret.png'), encodePng(gradient()));
    writeFileSync(path.join(inDir, 'broken.png'), 'not a png at all');
    const wf: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        up: { type: 'LoadImage', inputs: { path: '../secret.png' } },
        abs: { type: 'LoadImage', inputs: { path: path.join(root, 'secret.png') } },
        bad: { type: 'LoadImage', inputs: { path: 'broken.png' } },
      },
      outputs: ['up', 'abs', 'bad'],
    };
    const { result } = await run(wf);
    for (const id of ['up', 'abs']) {
      const r = result.outputs[id];
      expect(r.status).toBe('failed');
      expect(r.status === 'failed' && r.error.message).toMatch(/outside the allowed folder/);
    }
    const bad = result.outputs.bad;
    expect(bad.status === 'failed' && bad.error.message).toMatch(/LoadImage input "path": cannot read "broken.png": not a PNG or JPEG image/);
  });
});

describe('masks', () => {
  it('LoadImage and LoadMask give 1 − alpha (transparent = repaint); ImageToMask takes a channel', async () => {
    const image = gradient(1, 2, 3);
    const mask = Tensor.from([1, 1, 2, 3], [0, 1, 0, 1, 0, 1]);
    writeFileSync(path.join(inDir, 'rgba.png'), encodePng(image, 0, { mask }));
    const wf: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        load: { type: 'LoadImage', inputs: { path: 'rgba.png' } },
        alpha: { type: 'LoadMask', inputs: { path: 'rgba.png' } },
        green: { type: 'LoadMask', inputs: { path: 'rgba.png', channel: 'green', invert: true } },
        red: { type: 'ImageToMask', inputs: { image: link('load', 'image'), channel: 'red' } },
      },
      outputs: ['load', 'alpha', 'green', 'red'],
    };
    const { result } = await run(wf);
    expect(Array.from((valuesOf(result, 'load').mask as Tensor).data)).toEqual(Array.from(mask.data));
    expect(Array.from((valuesOf(result, 'alpha').mask as Tensor).data)).toEqual(Array.from(mask.data));
    const red = valuesOf(result, 'red').mask as Tensor;
    expect(red.shape).toEqual([1, 1, 2, 3]);
    red.data.forEach((v, i) => expect(v).toBeCloseTo(image.data[i], 6));
    const green = valuesOf(result, 'green').mask as Tensor;
    green.data.forEach((v, i) => expect(v).toBeCloseTo(1 - image.data[6 + i], 6));
  });
});

describe('PreviewImage', () => {
  it('sends a small PNG per image through ctx.preview and writes no file', async () => {
    writeFileSync(path.join(inDir, 'big.png'), encodePng(gradient(1, 40, 100)));
    const wf: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        load: { type: 'LoadImage', inputs: { path: 'big.png' } },
        preview: { type: 'PreviewImage', inputs: { images: link('load', 'image'), max_side: 50 } },
      },
    };
    const { result, events } = await run(wf);
    expect(result.outputs.preview.status).toBe('succeeded');
    const previews = events.filter((e): e is Extract<EngineEvent, { type: 'node.preview' }> => e.type === 'node.preview');
    expect(previews).toHaveLength(1);
    const p = previews[0].image as PngPreview;
    expect([p.format, p.width, p.height, p.index]).toEqual(['png', 50, 20, 0]);
    expect(decodePng(p.data).image.shape).toEqual([1, 3, 20, 50]);
    expect(existsSync(outDir) ? readdirSync(outDir) : []).toEqual([]);
  });
});

describe('run parameters', () => {
  const registry = createRegistry();
  const definitionOf = (type: string) => registry.get(type);

  it('summarizes literal settings, skipping links and listing distinct repeats', () => {
    const wf = {
      nodes: {
        a: { type: 'RandomNoise', inputs: { seed: 7 } },
        b: { type: 'Schedule', inputs: { steps: 20, spacing: 'karras', model: link('m', 'model') } },
        c: { type: 'Solver', inputs: { kind: 'dpmsolver++', order: 2 } },
        d: { type: 'TextEncode', inputs: { text: 'a cat' } },
        e: { type: 'TextEncode', inputs: { text: 'blurry' } },
        f: { type: 'Schedule', inputs: { steps: 20 } },
        g: { type: 'CFGGuider', inputs: { cfg: 7.5, model: link('m', 'model') } },
      },
    };
    expect(runParameters(wf, definitionOf)).toEqual({ seed: 7, steps: 20, spacing: 'karras', solver: 'dpmsolver++', order: 2, prompt: ['a cat', 'blurry'], cfg: 7.5 });
    expect(runParameters('not json', definitionOf)).toEqual({});
  });

  it('reads the summary keys from the specs: only inputs that exist, under the key their spec names', () => {
    // "scale" is not an input of CFGGuider, and unknown node types have no specs: neither is listed.
    const wf = { nodes: { g: { type: 'CFGGuider', inputs: { scale: 9 } }, x: { type: 'NoSuchNode', inputs: { seed: 1 } } } };
    expect(runParameters(wf, definitionOf)).toEqual({});
    for (const def of registry.list()) {
      for (const [name, spec] of Object.entries(def.inputs)) {
        if (spec.summary !== undefined) expect(spec.type, `${def.type}.${name}`).toMatch(/^(INT|FLOAT|STRING|BOOLEAN)$/);
      }
    }
    const custom = { inputs: { guidance_scale: { type: 'FLOAT', default: 1, summary: 'cfg' as const }, note: { type: 'STRING', default: '' } } };
    const mixed = { nodes: { a: { type: 'PackGuider', inputs: { guidance_scale: 3, note: 'x' } }, b: { type: 'CFGGuider', inputs: { cfg: 5 } } } };
    expect(runParameters(mixed, (type) => (type === 'PackGuider' ? custom : definitionOf(type)))).toEqual({ cfg: [3, 5] });
  });
});

// tmpdir() may itself be a symlink (macOS /var → /private/var); SaveImage reports real paths.
function realOut(): string {
  return realpathSync(outDir);
}
