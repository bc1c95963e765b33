/**
 * The model catalog through its front doors: GET /api/models and `diffgraph models` list the bundled
 * packs with the fields a UI needs, and never list or leak what a symlink out of the models root
 * points at.
 */
import { cpSync, mkdirSync, mkdtempSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelCatalogSchema } from '../src/openapi.ts';
import { api, repoRoot, tempServer } from './helpers.ts';
import { cli } from './subprocess.ts';

let root: string;
let outside: string;
let server: Awaited<ReturnType<typeof tempServer>>;

const shapes = {
  name: 'shapes-32', kind: 'pipeline', layout: 'diffusers-onnx-sd', loader: 'LoadPipeline', predictionType: 'epsilon',
  latentChannels: 4, nativeSize: [32, 32], precision: 'float32', scheduler: 'DDIMScheduler', problems: [],
};
const flow = { ...shapes, name: 'shapes-32-flow', predictionType: 'flow', scheduler: 'FlowMatchEulerDiscreteScheduler' };

beforeAll(async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'diffgraph-catalog-'));
  root = path.join(base, 'models');
  outside = path.join(base, 'private-elsewhere');
  mkdirSync(root);
  for (const pack of ['shapes-32', 'shapes-32-flow']) cpSync(path.join(repoRoot, 'models', pack), path.join(root, pack), { recursive: true });
  // A pipeline and a single model outside the root, reachable only through planted links.
  cpSync(path.join(repoRoot, 'models', 'shapes-32-flow'), path.join(outside, 'secret-pipeline'), { recursive: true });
  cpSync(path.join(repoRoot, 'models', 'shapes-32', 'unet', 'model.onnx'), path.join(outside, 'secret.onnx'));
  symlinkSync(path.join(outside, 'secret-pipeline'), path.join(root, 'linked-out'));
  symlinkSync(path.join(outside, 'secret.onnx'), path.join(root, 'linked-out.onnx'));
  mkdirSync(path.join(root, 'loose'));
  symlinkSync(outside, path.join(root, 'loose', 'everything'));
  // A link that stays inside the root is an ordinary alias, as the loaders treat it.
  symlinkSync(path.join(root, 'shapes-32-flow'), path.join(root, 'flow-alias'));
  symlinkSync(root, path.join(root, 'shapes-32', 'loop'));
  // Single ONNX models: one with the sidecar LoadOnnxModel reads, one whose sidecar is a link out.
  const unet = path.join(repoRoot, 'models', 'shapes-32', 'unet', 'model.onnx');
  mkdirSync(path.join(root, 'single'));
  cpSync(unet, path.join(root, 'single', 'toy.onnx'));
  writeFileSync(path.join(root, 'single', 'toy.json'), JSON.stringify({ parameterization: 'eps', schedule: { kind: 'discrete' }, sample_shape: [4, 8, 12] }));
  cpSync(unet, path.join(root, 'single', 'leaky.onnx'));
  writeFileSync(path.join(outside, 'secret-sidecar.json'), JSON.stringify({ parameterization: 'v', padding: 'x'.repeat(100_000) }));
  symlinkSync(path.join(outside, 'secret-sidecar.json'), path.join(root, 'single', 'leaky.json'));
  server = await tempServer({ modelsDir: root });
});

afterAll(async () => {
  await server?.close();
});

describe('GET /api/models', () => {
  it('lists the bundled packs with their layout, prediction type, latent channels, native size, precision and size', async () => {
    const r = await api(server.url, '/api/models');
    expect(r.status).toBe(200);
    const byName = new Map(r.body.models.map((m: any) => [m.name, m]));
    expect(byName.get('shapes-32')).toMatchObject(shapes);
    expect(byName.get('shapes-32-flow')).toMatchObject(flow);
    // The pack's files once (its link back to the root is not counted).
    expect((byName.get('shapes-32') as any).sizeBytes).toBeGreaterThan(12_000_000);
    expect((byName.get('shapes-32') as any).sizeBytes).toBeLessThan(14_000_000);
    expect(byName.get('shapes-32/classifier')).toMatchObject({ kind: 'classifier', loader: 'LoadClassifier', precision: 'float32' });
    expect(byName.get('flow-alias')).toMatchObject({ ...flow, name: 'flow-alias' });
    // The link back to the root is not walked again (no loop, no shapes-32/loop/shapes-32/...).
    expect([...byName.keys()].filter((n) => (n as string).includes('loop'))).toEqual([]);
    const validate = new Ajv({ strict: false }).compile(modelCatalogSchema);
    expect(validate(r.body), JSON.stringify(validate.errors)).toBe(true);
  });

  it('lists single ONNX models with their sidecar\'s prediction type and sample shape', async () => {
    const models = (await api(server.url, '/api/models')).body.models;
    const onnxBytes = statSync(path.join(root, 'single', 'toy.onnx')).size;
    expect(models.find((m: any) => m.name === 'single/toy.onnx')).toMatchObject({
      kind: 'onnx-model', layout: 'single', loader: 'LoadOnnxModel', predictionType: 'eps', latentChannels: 4, nativeSize: [8, 12],
      precision: 'float32', scheduler: 'discrete', sizeBytes: onnxBytes + statSync(path.join(root, 'single', 'toy.json')).size, problems: [],
    });
    // A sidecar that leads out is neither read nor counted; the model is listed with the reason.
    expect(models.find((m: any) => m.name === 'single/leaky.onnx')).toMatchObject({
      kind: 'onnx', loader: null, predictionType: null, sizeBytes: onnxBytes, problems: ['single/leaky.json is missing or leads outside the model root'],
    });
  });

  it('does not list or follow a symlink leading out of the root, and names no server path', async () => {
    const r = await api(server.url, '/api/models');
    const names = r.body.models.map((m: any) => m.name);
    expect(names.filter((n: string) => n.startsWith('linked-out') || n.startsWith('loose'))).toEqual([]);
    const text = JSON.stringify(r.body);
    for (const leak of ['secret', 'private-elsewhere', root, tmpdir()]) expect(text).not.toContain(leak);
  });

  it('sees a model copied in after the first call (no restart, no stale cache)', async () => {
    const before = (await api(server.url, '/api/models')).body.models.map((m: any) => m.name);
    expect(before).not.toContain('added/later');
    cpSync(path.join(repoRoot, 'models', 'shapes-32-flow'), path.join(root, 'added', 'later'), { recursive: true });
    const after = (await api(server.url, '/api/models')).body.models;
    expect(after.find((m: any) => m.name === 'added/later')).toMatchObject({ ...flow, name: 'added/later' });
  });

  it('lists a pipeline whose configs cannot be read, with the problem named relative to the root', async () => {
    mkdirSync(path.join(root, 'broken', 'scheduler'), { recursive: true });
    writeFileSync(path.join(root, 'broken', 'model_index.json'), '{ not json');
    const entry = (await api(server.url, '/api/models')).body.models.find((m: any) => m.name === 'broken');
    expect(entry).toMatchObject({ kind: 'pipeline', precision: null });
    expect(entry.problems.join('\n')).toMatch(/broken\/model_index\.json is not valid JSON/);
    expect(entry.problems.join('\n')).toMatch(/broken\/scheduler\/scheduler_config\.json is missing/);
    expect(entry.problems.join('\n')).not.toContain(root);
  });
});

describe('diffgraph models', () => {
  it('--json prints what the API answers; the table names each pack', async () => {
    const json = await cli(['models', '--models', root, '--json'], repoRoot);
    expect(json.code).toBe(0);
    const served = (await api(server.url, '/api/models')).body;
    expect(JSON.parse(json.stdout)).toEqual(served);
    const table = await cli(['models', '--models', path.join(repoRoot, 'models')], repoRoot);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^shapes-32\s+pipeline\s+diffusers-onnx-sd\s+epsilon\s+4\s+32x32\s+float32\s+12\.\d MiB$/m);
    expect(table.stdout).toMatch(/^shapes-32-flow\s+pipeline\s+diffusers-onnx-sd\s+flow\s+4\s+32x32\s+float32/m);
  });

  it('says so when the folder holds no models', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'diffgraph-empty-models-'));
    const r = await cli(['models', '--models', empty], repoRoot);
    expect(r).toMatchObject({ code: 0, stdout: `no models found in ${empty}\n` });
  });
});
