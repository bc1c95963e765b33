import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NodeDefinition } from '@diffgraph/engine';
import { Tensor } from '@diffgraph/engine';
import { decodeNpy, encodeNpy } from './npy.ts';
import { tensorFromJson, tensorToJson } from './tensor-json.ts';
import { resolveInput, resolveOutput } from './services.ts';

export const LoadTensor: NodeDefinition = {
  type: 'LoadTensor',
  category: 'io',
  description: 'Reads a tensor from a .npy file (numpy) or a .json file ({shape, dtype, data} or nested arrays).',
  version: 1,
  inputs: {
    path: { type: 'STRING', tooltip: 'File name, resolved inside the input folders' },
    key: { type: 'STRING', default: '', tooltip: 'For .json: a dot path to the tensor inside the document (e.g. "x_T.values")' },
  },
  outputs: { tensor: { type: 'TENSOR' } },
  run({ path: name, key }, ctx) {
    const file = resolveInput(ctx, name);
    const bytes = readFileSync(file);
    if (file.endsWith('.npy')) return { tensor: decodeNpy(bytes) };
    let doc: unknown = JSON.parse(bytes.toString('utf8'));
    for (const part of (key as string).split('.').filter(Boolean)) {
      if (typeof doc !== 'object' || doc === null || !Object.hasOwn(doc, part)) throw new Error(`"${name}" has no key "${key}"`);
      doc = (doc as Record<string, unknown>)[part];
    }
    return { tensor: tensorFromJson(doc) };
  },
};

export const SaveTensor: NodeDefinition = {
  type: 'SaveTensor',
  category: 'io',
  description: 'Writes a tensor to the output folder as .npy (numpy) or .json.',
  version: 1,
  output: true,
  inputs: {
    tensor: { type: 'TENSOR' },
    filename: { type: 'STRING', default: 'tensor', tooltip: 'File name without extension, inside the output folder' },
    format: { type: 'STRING', enum: ['npy', 'json'], default: 'npy' },
  },
  outputs: { path: { type: 'STRING' } },
  run({ tensor, filename, format }, ctx) {
    const file = resolveOutput(ctx, `${filename}.${format}`);
    mkdirSync(path.dirname(file), { recursive: true });
    const t = tensor as Tensor;
    writeFileSync(file, format === 'npy' ? encodeNpy(t) : JSON.stringify(tensorToJson(t)));
    ctx.log(`saved ${t} to ${file}`);
    return { path: file };
  },
};

export const EmptyLatent: NodeDefinition = {
  type: 'EmptyLatent',
  category: 'latent',
  description: 'A zero latent of the given shape: the start of a text-to-image (or unconditional) run.',
  version: 1,
  inputs: {
    shape: { type: 'JSON', default: [1, 4, 8, 8], schema: { type: 'array', items: { type: 'integer', minimum: 1 }, minItems: 1, maxItems: 8 }, tooltip: 'Batch first, e.g. [batch, channels, height, width]' },
    dtype: { type: 'STRING', enum: ['float32', 'float64'], default: 'float32' },
  },
  outputs: { latent: { type: 'LATENT' } },
  run({ shape, dtype }) {
    return { latent: Tensor.zeros(shape as number[], dtype) };
  },
};
