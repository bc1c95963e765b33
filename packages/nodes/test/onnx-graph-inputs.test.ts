/**
 * The catalog's precision reader parses an ONNX file's protobuf for the graph inputs' element types.
 * It must agree with onnxruntime on real models (the bundled packs) and on hand-encoded graphs whose
 * inputs are float16 / bfloat16, with an initializer it has to skip.
 */
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { onnxGraphInputTypes } from '../src/runtime/onnx-graph-inputs.ts';
import { sessionOptionsFor, parseSessionOptions, toOrtSessionOptions } from '../src/runtime/session-options.ts';

const models = fileURLToPath(new URL('../../../models/', import.meta.url));

function onnxFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? onnxFiles(p) : name.endsWith('.onnx') ? [p] : [];
  });
}

async function ortInputTypes(file: string): Promise<Map<string, string>> {
  const session = await ort.InferenceSession.create(file);
  const types = new Map(session.inputMetadata.map((m) => [m.name, m.isTensor ? m.type : 'tensor?']));
  await session.release();
  return types;
}

// A minimal protobuf writer: enough to encode a ModelProto by hand.
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const field = (number: number, value: number | string | Uint8Array | number[]): number[] => {
  if (typeof value === 'number') return [...varint(number * 8), ...varint(value)];
  const bytes = typeof value === 'string' ? [...Buffer.from(value)] : [...value];
  return [...varint(number * 8 + 2), ...varint(bytes.length), ...bytes];
};
const valueInfo = (name: string, elemType: number) =>
  [...field(1, name), ...field(2, field(1, [...field(1, elemType), ...field(2, field(1, field(1, 2)))]))];

/** Identity(x) with input element type `elemType`, plus an unused 1 MiB float initializer before the inputs. */
function identityModel(elemType: number): Uint8Array {
  const initializer = [...field(1, 262_144), ...field(2, 1), ...field(8, 'unused_weights'), ...field(9, new Uint8Array(1 << 20))];
  const graph = [
    ...field(1, [...field(1, 'x'), ...field(2, 'y'), ...field(4, 'Identity')]),
    ...field(2, 'g'),
    ...field(5, initializer),
    ...field(11, valueInfo('x', elemType)),
    ...field(12, valueInfo('y', elemType)),
  ];
  return new Uint8Array([...field(1, 8), ...field(8, [...field(1, ''), ...field(2, 17)]), ...field(7, graph)]);
}

describe('onnxGraphInputTypes', () => {
  it('agrees with onnxruntime on every ONNX file of the bundled packs', async () => {
    const files = onnxFiles(models);
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) expect(onnxGraphInputTypes(file), file).toEqual(await ortInputTypes(file));
  });

  it.each([
    [10, 'float16'],
    [7, 'int64'],
  ])('reads element type %i as %s past an initializer, as onnxruntime does', async (elemType, name) => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'diffgraph-proto-')), 'model.onnx');
    writeFileSync(file, identityModel(elemType));
    expect(onnxGraphInputTypes(file)).toEqual(new Map([['x', name]]));
    expect(await ortInputTypes(file)).toEqual(new Map([['x', name]]));
  });

  it('reads bfloat16, which onnxruntime-node cannot open a session on (the catalog still says why)', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'diffgraph-proto-')), 'model.onnx');
    writeFileSync(file, identityModel(16));
    expect(onnxGraphInputTypes(file)).toEqual(new Map([['x', 'bfloat16']]));
    await expect(ortInputTypes(file)).rejects.toThrow(/Unsupported data type: 16/);
  });

  it('names the file when it is not an ONNX model', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'diffgraph-proto-')), 'bad.onnx');
    writeFileSync(file, Buffer.from([0x3a, 0xff, 0xff, 0xff, 0x0f, 1, 2]));
    expect(() => onnxGraphInputTypes(file)).toThrow(/bad\.onnx: cannot read the ONNX graph inputs/);
  });
});

describe('session options', () => {
  const config = parseSessionOptions({
    default: { intraOpThreads: 2, memoryArena: false },
    models: { sd: { graphOptimizationLevel: 'basic' }, 'sd/unet/': { intraOpThreads: 8, cudaDeviceId: 1 } },
  });

  it('merge the defaults, then the shorter model names, then the longer ones', () => {
    expect(sessionOptionsFor(config, 'sd/unet/model.onnx')).toEqual({ intraOpThreads: 8, memoryArena: false, graphOptimizationLevel: 'basic', cudaDeviceId: 1 });
    expect(sessionOptionsFor(config, 'sd/vae_decoder/model.onnx')).toEqual({ intraOpThreads: 2, memoryArena: false, graphOptimizationLevel: 'basic' });
    // A name is matched by whole path segments: "sdxl" is not under "sd".
    expect(sessionOptionsFor(config, 'sdxl/unet/model.onnx')).toEqual({ intraOpThreads: 2, memoryArena: false });
  });

  it('become onnxruntime options for the planned providers', () => {
    const ortOptions = toOrtSessionOptions(sessionOptionsFor(config, 'sd/unet/model.onnx'), ['cuda', 'cpu'], { intraOpThreads: 4, interOpThreads: 1 });
    expect(ortOptions).toMatchObject({
      executionProviders: [{ name: 'cuda', deviceId: 1 }, { name: 'cpu', useArena: false }],
      intraOpNumThreads: 8, interOpNumThreads: 1, graphOptimizationLevel: 'basic', enableCpuMemArena: false,
    });
  });

  it('are refused with a message naming the key when unknown or out of range', () => {
    expect(() => parseSessionOptions({ default: { fp16: true } })).toThrow(/unknown session option "fp16": precision is the exported model's/);
    expect(() => parseSessionOptions({ models: { sd: { intraOpThreads: -1 } } })).toThrow(/"models"."sd".intraOpThreads must be a whole number/);
    expect(() => parseSessionOptions({ models: { '../x': {} } })).toThrow(/not a model name inside the model roots/);
    expect(() => parseSessionOptions({ threads: 1 })).toThrow(/unknown key "threads"/);
  });
});
