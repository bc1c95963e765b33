/**
 * No absolute server path reaches a client: node errors, log lines, results and the event log name
 * files relative to their folder; written files are {file, url} items that download.
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy } from '@diffgraph/nodes';
import { Tensor } from '@diffgraph/engine';
import { api, submit, tempServer, waitForStatus, WsClient } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';
import { cli } from './subprocess.ts';

let server: RunningServer & { dataDir: string };
let base: string;

beforeAll(async () => {
  server = await tempServer();
  base = server.url;
  mkdirSync(server.roots.models, { recursive: true });
  writeFileSync(path.join(server.roots.models, 'broken.onnx'), 'not an onnx file');
  writeFileSync(path.join(server.roots.models, 'broken.json'), JSON.stringify({ parameterization: 'eps', schedule: { kind: 'discrete', betaSchedule: 'scaled_linear' } }));
});
afterAll(() => server.close());

/** Everything a client can learn about a run: its state, results and event log. */
async function everythingAbout(runId: string): Promise<string> {
  const [run, events] = await Promise.all([api(base, `/api/runs/${runId}?workflow=1`), api(base, `/api/runs/${runId}/events`)]);
  return JSON.stringify([run.body, events.body]);
}

function expectNoServerPath(text: string): void {
  // The data and model folders sit under the temporary folder: no path of it may appear, real or not.
  for (const dir of new Set([tmpdir(), realpathSync(tmpdir()), server.dataDir, realpathSync(server.dataDir)])) {
    expect(text).not.toContain(dir);
  }
}

const flow = (nodes: Record<string, unknown>, outputs: string[]) => ({ format: 'diffgraph/workflow@1', nodes, outputs });

/** Two small PNGs (and a tensor) from a latent, no model needed. */
const imagesFlow = () => flow({
  latent: { type: 'EmptyLatent', inputs: { batch: 2, shape: [4, 4, 4] } },
  preview: { type: 'LatentPreview', inputs: { latent: { from: 'latent', output: 'latent' }, scale: 2 } },
  images: { type: 'SaveImage', inputs: { images: { from: 'preview', output: 'image' }, filename_prefix: 'pic' } },
  save: { type: 'SaveTensor', inputs: { tensor: { from: 'latent', output: 'latent' }, filename: 'latent' } },
}, ['images', 'save']);

describe('paths over the API', () => {
  it('a missing input file fails the node with a message that names the file, not the server\'s folders', async () => {
    const runId = await submit(base, flow({
      image: { type: 'LoadImage', inputs: { path: 'missing.png' } },
      save: { type: 'SaveImage', inputs: { images: { from: 'image', output: 'image' } } },
    }, ['save']));
    const run = await waitForStatus(base, runId, ['failed']);
    expect(run.nodes.image.error.message).toBe('file "missing.png" not found in <inputs>');
    expectNoServerPath(await everythingAbout(runId));
  });

  it('a missing model and a corrupt one: errors relative to the model folder, onnxruntime\'s own message included', async () => {
    const runId = await submit(base, flow({
      missing: { type: 'LoadPipeline', inputs: { path: 'no-such-pack' } },
      broken: { type: 'LoadOnnxModel', inputs: { path: 'broken.onnx' } },
    }, ['missing', 'broken']));
    const run = await waitForStatus(base, runId, ['failed']);
    expect(run.nodes.missing.error.message).toBe('LoadPipeline: pipeline "no-such-pack" was not found in the model roots (<models>)');
    expect(run.nodes.broken.error.message).toMatch(/^LoadOnnxModel: cannot load ONNX model broken\.onnx: /);
    expectNoServerPath(await everythingAbout(runId));
  });

  it('SaveImage results are {file, url} items that download; log lines name the run\'s files relatively', async () => {
    const client = await WsClient.connect(base);
    const runId = await submit(base, imagesFlow(), { clientId: 'paths' });
    client.send({ type: 'subscribe', runId, after: 0 });
    const run = await waitForStatus(base, runId, ['succeeded']);
    const refs = run.results.images.values.paths;
    expect(refs).toEqual([1, 2].map((i) => ({ file: `${runId}/pic_0000${i}.png`, url: `/api/files/${runId}/pic_0000${i}.png` })));
    for (const ref of refs) {
      const res = await fetch(`${base}${ref.url}`);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(path.join(server.roots.outputs, ref.file)))).toBe(true);
    }
    const finished = await client.next((m) => m.type === 'run.finished' && m.runId === runId);
    expect(finished.outputs.images.values.paths).toEqual(refs);
    const logs = (await api(base, `/api/runs/${runId}/events`)).body.events.filter((e: any) => e.type === 'node.log').map((e: any) => e.message);
    expect(logs).toContain(`saved 2 images to ${runId}`);
    expect(logs.some((m: string) => m.endsWith(` to ${runId}/latent.npy`))).toBe(true);
    expectNoServerPath(JSON.stringify(client.of(runId)));
    expectNoServerPath(await everythingAbout(runId));
    await client.close();
  });

  it('diffgraph run --server prints each saved image as a download URL', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-remote-images-'));
    writeFileSync(path.join(dir, 'wf.json'), JSON.stringify(imagesFlow()));
    const r = await cli(['run', 'wf.json', '--server', base], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/✓ images: paths = http:\/\/127\.0\.0\.1:\d+\/api\/files\/[\w-]+\/pic_00001\.png http:\/\/127\.0\.0\.1:\d+\/api\/files\/[\w-]+\/pic_00002\.png\n/);
  });

  it('a file whose name starts with ".." inside the folder is inside: read and written', async () => {
    writeFileSync(path.join(server.roots.inputs, '..x.npy'), encodeNpy(new Tensor([2], new Float32Array([1, 2]))));
    const workflow = flow({
      load: { type: 'LoadTensor', inputs: { path: '..x.npy' } },
      save: { type: 'SaveTensor', inputs: { tensor: { from: 'load', output: 'tensor' }, filename: '..y' } },
    }, ['save']);
    const runId = await submit(base, workflow);
    const run = await waitForStatus(base, runId, ['succeeded', 'failed']);
    expect(run.error).toBeNull();
    expect(run.results.save.values.path.file).toBe(`${runId}/..y.npy`);
    expect((await fetch(`${base}${run.results.save.values.path.url}`)).status).toBe(200);
    // `..` as a whole segment still leaves the folder.
    const out = await api(base, '/api/runs', { json: { workflow: { ...workflow, nodes: { ...workflow.nodes, load: { type: 'LoadTensor', inputs: { path: '../x.npy' } } } } } });
    expect(out.status).toBe(400);
    expect(out.body.errors[0]).toMatchObject({ nodeId: 'load', input: 'path', code: 'PATH_OUTSIDE_ROOT' });
  });

  it('an empty required path is PATH_EMPTY; an empty optional one names no file', async () => {
    const r = await api(base, '/api/runs', { json: { workflow: flow({ image: { type: 'LoadImage', inputs: { path: '' } } }, ['image']) } });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([{ nodeId: 'image', input: 'path', code: 'PATH_EMPTY', message: 'input path is empty' }]);
    const optional = await api(base, '/api/runs', { json: { workflow: flow({
      model: { type: 'LoadOnnxModel', inputs: { path: 'broken.onnx', config: '' } },
      tpm: { type: 'LearnTPM', inputs: { tensor_file: '..x.npy', images_folder: '', save_as: '' } },
    }, ['model', 'tpm']) } });
    expect(optional.body.errors ?? []).toEqual([]);
    expect(optional.status).toBe(202);
  });
});
