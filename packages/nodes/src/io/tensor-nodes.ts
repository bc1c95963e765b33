import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defineNode, jsonInput, Tensor } from '@diffgraph/engine';
import { decodeNpy, encodeNpy } from './npy.ts';
import { tensorFromJson, tensorToJson } from './tensor-json.ts';
import { resolveInput, resolveOutput } from './services.ts';

export const LoadTensor = defineNode({
  type: 'LoadTensor',
  category: 'io',
  description: 'Reads a tensor from a .npy file (numpy) or a .json file ({shape, dtype, data} or nested arrays).',
  version: 1,
  inputs: {
    path: { type: 'STRING', path: 'inputs', tooltip: 'File name, resolved inside the input folders' },
    key: { type: 'STRING', default: '', tooltip: 'For .json: a dot path to the tensor inside the document (e.g. "x_T.values")' },
  },
  outputs: { tensor: { type: 'TENSOR' } },
  run({ path: name, key }, ctx) {
    const file = resolveInput(ctx, name);
    const bytes = readFileSync(file);
    if (file.endsWith('.npy')) return { tensor: decodeNpy(bytes) };
    let doc: unknown = JSON.parse(bytes.toString('utf8'));
    for (const part of key.split('.').filter(Boolean)) {
      if (typeof doc !== 'object' || doc === null || !Object.hasOwn(doc, part)) throw new Error(`"${name}" has no key "${key}"`);
      doc = (doc as Record<string, unknown>)[part];
    }
    return { tensor: tensorFromJson(doc) };
  },
});

export const SaveTensor = defineNode({
  type: 'SaveTensor',
  category: 'io',
  description: 'Writes a tensor to the output folder as .npy (numpy) or .json.',
  version: 1,
  output: true,
  sideEffects: true,
  inputs: {
    tensor: { type: 'TENSOR' },
    filename: { type: 'STRING', default: 'tensor', path: 'outputs', tooltip: 'File name without extension, inside the output folder' },
    format: { type: 'STRING', enum: ['npy', 'json'], default: 'npy' },
  },
  outputs: { path: { type: 'STRING' } },
  run({ tensor, filename, format }, ctx) {
    const file = resolveOutput(ctx, `${filename}.${format}`);
    mkdirSync(path.dirname(file), { recursive: true });
    const t = tensor;
    writeFileSync(file, format === 'npy' ? encodeNpy(t) : JSON.stringify(tensorToJson(t)));
    ctx.log(`saved ${t} to ${file}`);
    return { path: file };
  },
});

export const EmptyLatent = defineNode({
  type: 'EmptyLatent',
  category: 'latent',
  description: 'A zero latent: the start of a text-to-image (or unconditional) run. Its item shape and dtype come from the model, or are given.',
  version: 1,
  inputs: {
    batch: { type: 'INT', default: 1, min: 1, max: 4096, role: 'batch' },
    model: { type: 'MODEL', optional: true, tooltip: 'Takes the sample shape and dtype from this model' },
    shape: jsonInput<number[]>({ optional: true, role: 'shape', schema: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 8 }, tooltip: 'Shape of one item, e.g. [4, 64, 64], when no model is linked' }),
    dtype: { type: 'STRING', enum: ['auto', 'float32', 'float64'], default: 'auto', tooltip: 'auto: the model\'s dtype, else float32' },
  },
  outputs: { latent: { type: 'LATENT' } },
  run({ batch, model, shape, dtype }) {
    const item = shape ?? model?.sampleShape;
    if (!item) throw new Error('EmptyLatent needs either a linked "model" or a "shape"');
    const resolved = dtype === 'auto' ? (model?.dtype ?? 'float32') : dtype;
    return { latent: Tensor.zeros([batch, ...item], resolved) };
  },
});
