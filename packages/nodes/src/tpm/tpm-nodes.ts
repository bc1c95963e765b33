/** Workflow nodes for tractable probabilistic models: LearnTPM, LoadTPM, TPMConstraint. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { defineNode, jsonInput, Tensor } from '@diffgraph/engine';
import { resolveInput, resolveOutput } from '../io/services.ts';
import { TreeCircuit, type CircuitJSON } from './circuit.ts';
import { patchGroups } from './groups.ts';
import { learnCircuit } from './learn.ts';
import { TPM_CONSTRAINT_DEFAULTS, tpmConstraint } from './tpm-constraint.ts';
import { loadImageFolder, loadTensorFile } from './training-data.ts';

export function saveCircuit(circuit: TreeCircuit, file: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(circuit.toJSON()));
}

export function loadCircuit(file: string): TreeCircuit {
  let doc: CircuitJSON;
  try {
    doc = JSON.parse(readFileSync(file, 'utf8')) as CircuitJSON;
  } catch (e) {
    throw new Error(`LoadTPM: cannot read "${file}": ${(e as Error).message}`);
  }
  return TreeCircuit.fromJSON(doc);
}

export const LearnTPM = defineNode({
  type: 'LearnTPM',
  category: 'tpm',
  description: 'Learns a probabilistic circuit by EM: a hidden Chow–Liu tree (hclt) or a mixture of factorised Gaussians (mofg) over pixels or p×p latent patches, from a tensor, a tensor file (.npy/.json, [N, ...]) or a folder of PNGs. Optionally saves it (JSON) to the output folder.',
  version: 1,
  inputs: {
    structure: { type: 'STRING', enum: ['hclt', 'mofg'], default: 'hclt' },
    data: { type: 'TENSOR', optional: true, tooltip: '[N, ...item] training items' },
    tensor_file: { type: 'STRING', default: '', optional: true, path: 'inputs', tooltip: 'Or: a .npy/.json file in the input folders' },
    images_folder: { type: 'STRING', default: '', optional: true, path: 'inputs', tooltip: 'Or: a folder of same-size PNGs in the input folders' },
    states: { type: 'INT', default: 8, min: 1, max: 256, tooltip: 'K hidden states per group (mixture components for mofg)' },
    iterations: { type: 'INT', default: 20, min: 0, max: 1000 },
    patch: { type: 'INT', default: 1, min: 1, max: 64, tooltip: 'Group size: 1 = pixels, p = all channels of p×p patches' },
    leaf: { type: 'STRING', enum: ['gaussian', 'categorical'], default: 'gaussian' },
    categories: jsonInput<number[]>({ default: [0, 1], schema: { type: 'array', items: { type: 'number' }, minItems: 2 }, tooltip: 'categorical leaves: the category values' }),
    min_variance: { type: 'FLOAT', default: 1e-3, min: 1e-9, max: 10 },
    seed: { type: 'INT', default: 0, min: 0, max: 2 ** 31 - 1, role: 'seed' },
    save_as: { type: 'STRING', default: '', optional: true, path: 'outputs', tooltip: 'File name in the output folder (.json); empty = do not save' },
  },
  outputs: { tpm: { type: 'TPM' }, log_likelihood: { type: 'FLOAT', tooltip: 'Mean log-likelihood per item after training' }, path: { type: 'STRING' } },
  run(i, ctx) {
    const sources = [i.data !== undefined, i.tensor_file !== '', i.images_folder !== ''].filter(Boolean).length;
    if (sources !== 1) throw new Error('LearnTPM: give exactly one of "data", "tensor_file" or "images_folder"');
    // Each image of the folder is confined too: a file in it may be a link that points elsewhere.
    const data: Tensor = i.data ?? (i.tensor_file !== ''
      ? loadTensorFile(resolveInput(ctx, i.tensor_file))
      : loadImageFolder(resolveInput(ctx, i.images_folder), (f) => resolveInput(ctx, path.join(i.images_folder, f))));
    if (!(data instanceof Tensor) || data.shape.length < 2) throw new Error('LearnTPM: the data must be a tensor [N, ...item]');
    const itemShape = data.shape.slice(1);
    const { circuit, logLikelihoods } = learnCircuit(Float64Array.from(data.data), {
      structure: i.structure, itemShape, groups: patchGroups(itemShape, i.patch), K: i.states, iterations: i.iterations,
      seed: i.seed, minVariance: i.min_variance,
      leaf: i.leaf === 'categorical' ? { type: 'categorical', values: i.categories } : { type: 'gaussian' },
      signal: ctx.signal,
      onIteration: (it, ll) => {
        ctx.progress(it, i.iterations);
        ctx.log(`EM iteration ${it}: mean log-likelihood ${ll.toFixed(4)}`);
      },
    });
    let file = '';
    if (i.save_as !== '') {
      file = resolveOutput(ctx, i.save_as.endsWith('.json') ? i.save_as : `${i.save_as}.json`);
      saveCircuit(circuit, file);
      ctx.log(`saved TPM to ${file}`);
    }
    return { tpm: circuit, log_likelihood: logLikelihoods[logLikelihoods.length - 1], path: file };
  },
});

export const LoadTPM = defineNode({
  type: 'LoadTPM',
  category: 'tpm',
  description: 'Reads a circuit saved by LearnTPM (diffgraph/tpm@1 JSON) from the input folders.',
  version: 1,
  inputs: { path: { type: 'STRING', path: 'inputs', tooltip: 'A circuit saved by LearnTPM (.json), in the input folders' } },
  outputs: { tpm: { type: 'TPM' } },
  run: ({ path: name }, ctx) => ({ tpm: loadCircuit(resolveInput(ctx, name)) }),
});

export const TPMConstraint = defineNode({
  type: 'TPMConstraint',
  category: 'sampling/guiders',
  description: 'Tiramisu-style inpainting: during the first `until` fraction of the schedule, fuses the TPM\'s exact conditional of the unknown region (given the known pixels and the current state) with the inner guider\'s x0 by a weighted geometric mean of Gaussians; known values are set to the observation. Wrap an InpaintGuider to keep them afterwards.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER' },
    tpm: { type: 'TPM' },
    latent: { type: 'LATENT', tooltip: 'The observed latent (its known region is used)' },
    mask: { type: 'MASK', tooltip: '1 = unknown (repaint), 0 = known' },
    strength: { type: 'FLOAT', default: TPM_CONSTRAINT_DEFAULTS.strength, min: 0, max: 1, step: 0.05, tooltip: 'TPM weight 1 − α in the fusion (Tiramisu: 0.2; the default was tuned on the default pack)' },
    until: { type: 'FLOAT', default: TPM_CONSTRAINT_DEFAULTS.until, min: 0, max: 1, step: 0.05, tooltip: 'Active while (tMax − t)/tMax ≤ until (Tiramisu: 0.1)' },
  },
  outputs: { guider: { type: 'GUIDER' } },
  run: (i) => ({ guider: tpmConstraint(i.guider, i.tpm, i.latent, i.mask, { strength: i.strength, until: i.until }) }),
});
