/**
 * Every node that reads or writes a file named by a workflow stays inside its root after following
 * symlinks: a link planted inside the input, output or model root that points elsewhere is refused by
 * the NODE (not only by the server's guard), and nothing outside is read or written.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { encodePng } from '../src/image/png.ts';
import { buildModel } from './fixtures/onnx-builder.ts';
import { writeTinyPipeline } from './fixtures/tiny-pipeline.ts';
import { tempRoot } from './fixtures/onnx-helpers.ts';

const base = tempRoot('dg-confine-');
const inputs = path.join(base, 'inputs');
const outputs = path.join(base, 'outputs');
const models = path.join(base, 'models');
const secret = path.join(base, 'secret');
afterAll(() => rmSync(base, { recursive: true, force: true }));

for (const dir of [inputs, outputs, models, path.join(models, 'mine'), path.join(secret, 'images'), path.join(secret, 'classifier')]) mkdirSync(dir, { recursive: true });
// Valid files outside every root, so a node that followed the link would succeed (not merely fail to parse).
const SECRET_TENSOR = { shape: [2, 1, 2, 2], dtype: 'float32', data: [0, 0.25, 0.5, 1, 1, 0.5, 0.25, 0] };
writeFileSync(path.join(secret, 'tensor.json'), JSON.stringify(SECRET_TENSOR));
const png = encodePng(Tensor.from([1, 3, 2, 2], new Array(12).fill(0.5)));
writeFileSync(path.join(secret, 'image.png'), png);
writeFileSync(path.join(secret, 'images', 'a.png'), png);
writeFileSync(path.join(secret, 'images', 'b.png'), png);
// A toy denoiser (out = 0.5·x) with its sidecar, outside and inside the model root.
const toyOnnx = buildModel({
  inputs: [{ name: 'x', type: 'float32', dims: ['n', 2] }, { name: 't', type: 'float32', dims: ['n'] }],
  outputs: [{ name: 'y', type: 'float32', dims: ['n', 2] }],
  inits: [{ name: 'A', dims: [], floats: [0.5] }],
  nodes: [{ op: 'Mul', inputs: ['x', 'A'], outputs: ['y'] }],
});
const sidecar = JSON.stringify({ parameterization: 'x0', schedule: { kind: 'discrete', betaSchedule: 'linear' }, sample_shape: [2], inputs: { sample: 'x', timestep: 't', context: null }, output: 'y' });
for (const dir of [secret, path.join(models, 'mine')]) {
  writeFileSync(path.join(dir, 'toy.onnx'), toyOnnx);
  writeFileSync(path.join(dir, 'toy.json'), sidecar);
}
writeTinyPipeline(path.join(secret, 'pipeline'));

// The planted links: a folder link and a file link in each root.
for (const root of [inputs, outputs, models]) symlinkSync(secret, path.join(root, 'escape'));
symlinkSync(path.join(secret, 'tensor.json'), path.join(inputs, 'linked.json'));
symlinkSync(path.join(secret, 'toy.json'), path.join(models, 'mine', 'linked.json'));

const secretFiles = () => readdirSync(secret).sort();
const filesBefore = secretFiles();

writeFileSync(path.join(inputs, 'inside.json'), JSON.stringify(SECRET_TENSOR));
/** A tensor input for the writers: read from a file inside the input root. */
const INSIDE_TENSOR = { from: 'inside', output: 'tensor' };

async function runNode(type: string, nodeInputs: Record<string, unknown>) {
  const workflow: Workflow = {
    format: 'diffgraph/workflow@1',
    nodes: { inside: { type: 'LoadTensor', inputs: { path: 'inside.json' } }, node: { type, inputs: nodeInputs } },
    outputs: ['node'],
  };
  const executor = new Executor(createRegistry());
  return (await executor.run(workflow, { services: { inputRoots: [inputs], outputDir: outputs, modelRoots: [models], workflow } })).outputs.node;
}

describe('nodes refuse symlinks that lead out of their roots', () => {
  it.each([
    ['LoadTensor', { path: 'escape/tensor.json' }],
    ['LoadTensor', { path: 'linked.json' }],
    ['LoadImage', { path: 'escape/image.png' }],
    ['LoadMask', { path: 'escape/image.png' }],
    ['LoadTPM', { path: 'escape/tensor.json' }],
    ['LearnTPM', { tensor_file: 'escape/tensor.json', iterations: 1, states: 2 }],
    ['LearnTPM', { images_folder: 'escape/images', iterations: 1, states: 2 }],
    ['LearnTPM', { tensor_file: 'linked.json', iterations: 1, states: 2, save_as: 'escape/stolen' }],
    ['SaveTensor', { tensor: INSIDE_TENSOR, filename: 'escape/stolen' }],
    ['LoadOnnxModel', { path: 'escape/toy.onnx' }],
    ['LoadOnnxModel', { path: 'mine/toy.onnx', config: 'escape/toy.json' }],
    ['LoadOnnxModel', { path: 'mine/toy.onnx', config: 'mine/linked.json' }],
    ['LoadPipeline', { path: 'escape/pipeline' }],
    ['LoadClassifier', { path: 'escape/classifier' }],
  ] as const)('%s %j', async (type, nodeInputs) => {
    const result = await runNode(type, nodeInputs);
    expect(result.status, JSON.stringify(result)).toBe('failed');
    if (result.status !== 'failed') return;
    expect(result.error.message).toMatch(/outside/i);
    expect(secretFiles()).toEqual(filesBefore);
  });

  it('still reads and writes through links that stay inside the root', async () => {
    mkdirSync(path.join(inputs, 'real'), { recursive: true });
    writeFileSync(path.join(inputs, 'real', 't.json'), JSON.stringify(SECRET_TENSOR));
    symlinkSync(path.join(inputs, 'real'), path.join(inputs, 'alias'));
    const loaded = await runNode('LoadTensor', { path: 'alias/t.json' });
    expect(loaded.status).toBe('succeeded');
    const model = await runNode('LoadOnnxModel', { path: 'mine/toy.onnx' });
    expect(model.status, JSON.stringify(model)).toBe('succeeded');
    mkdirSync(path.join(outputs, 'sub'), { recursive: true });
    symlinkSync(path.join(outputs, 'sub'), path.join(outputs, 'subalias'));
    const saved = await runNode('SaveTensor', { tensor: INSIDE_TENSOR, filename: 'subalias/kept', format: 'json' });
    expect(saved.status, JSON.stringify(saved)).toBe('succeeded');
    expect(existsSync(path.join(outputs, 'sub', 'kept.json'))).toBe(true);
  });
});
