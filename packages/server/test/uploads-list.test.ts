/**
 * The inputs folder through the API: GET /api/uploads lists what the loaders can open, GET
 * /api/uploads/<name> serves it (confined to the folder), and a fresh data folder already holds the
 * example workflows' inputs, so an example that loads an image runs on a new server as it is.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { encodePng } from '@diffgraph/nodes';
import { api, repoRoot, submit, tempServer, waitForStatus } from './helpers.ts';

type Server = Awaited<ReturnType<typeof tempServer>>;
const EXAMPLE_INPUTS = ['data/red-circle.png', 'data/right-half-mask.png', 'data/two-shapes.png', 'data/guidance/inpaint-source.png', 'data/guidance/recolour-source.png', 'data/guidance/sr-source.png', 'data/guidance/tpm-latents.npy'];

describe('the inputs folder over HTTP', () => {
  let server: Server;
  let outside: string;

  beforeAll(async () => {
    server = await tempServer({ modelsDir: path.join(repoRoot, 'models') });
    outside = mkdtempSync(path.join(tmpdir(), 'diffgraph-outside-'));
  });
  afterAll(async () => {
    await server?.close();
    rmSync(server.dataDir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it('a fresh data folder holds the examples\' inputs, byte for byte, listed with name, bytes, type and mtime', async () => {
    const r = await api(server.url, '/api/uploads');
    expect(r.status).toBe(200);
    const names = r.body.uploads.map((u: { name: string }) => u.name);
    expect(names).toEqual(expect.arrayContaining(EXAMPLE_INPUTS));
    const circle = r.body.uploads.find((u: { name: string }) => u.name === 'data/red-circle.png');
    const original = readFileSync(path.join(repoRoot, 'workflows/data/red-circle.png'));
    expect(circle).toEqual({ name: 'data/red-circle.png', bytes: original.length, type: 'image/png', mtime: expect.any(Number) });
    expect(r.body.uploads.find((u: { name: string }) => u.name.endsWith('.npy')).type).toBe('application/x-npy');
    const file = await fetch(`${server.url}/api/uploads/data/red-circle.png`);
    expect(file.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await file.arrayBuffer()).equals(original)).toBe(true);
  });

  it('an upload is listed first and served back under its name', async () => {
    const png = encodePng(Tensor.zeros([1, 3, 4, 4]));
    const up = await api(server.url, '/api/uploads', { method: 'POST', body: png });
    expect(up.status).toBe(201);
    const list = await api(server.url, '/api/uploads');
    expect(list.body.uploads[0]).toEqual({ name: up.body.name, bytes: png.length, type: 'image/png', mtime: expect.any(Number) });
    const back = await fetch(`${server.url}/api/uploads/${up.body.name}`);
    expect(back.status).toBe(200);
    expect(Buffer.from(await back.arrayBuffer()).equals(png)).toBe(true);
  });

  it('stays inside the inputs folder: no escapes, no links out, no unfinished or unknown files', async () => {
    writeFileSync(path.join(outside, 'secret.png'), 'not for you');
    symlinkSync(path.join(outside, 'secret.png'), path.join(server.roots.inputs, 'link-out.png'));
    symlinkSync(outside, path.join(server.roots.inputs, 'dir-out'));
    writeFileSync(path.join(server.roots.inputs, 'notes.txt'), 'text');
    writeFileSync(path.join(server.roots.inputs, 'x.png.123.456.part'), 'half');
    const names = (await api(server.url, '/api/uploads')).body.uploads.map((u: { name: string }) => u.name);
    for (const hidden of ['link-out.png', 'dir-out/secret.png', 'notes.txt', 'x.png.123.456.part']) expect(names).not.toContain(hidden);
    for (const route of ['/api/uploads/link-out.png', '/api/uploads/dir-out/secret.png', '/api/uploads/..%2Fdiffgraph.db']) {
      const r = await api(server.url, route);
      expect(r.status, route).toBe(403);
      expect(r.body.errors[0].code, route).toBe('PATH_OUTSIDE_ROOT');
    }
    const missing = await api(server.url, '/api/uploads/nope.png');
    expect(missing.status).toBe(404);
    expect(missing.body.errors[0].code).toBe('NOT_FOUND');
    expect((await api(server.url, '/api/uploads/notes.txt')).status).toBe(404);
  });

  it('runs the inpaint example, which names two of those inputs, exactly as the repository has it', async () => {
    const workflow = JSON.parse(readFileSync(path.join(repoRoot, 'workflows/inpaint.json'), 'utf8'));
    const run = await waitForStatus(server.url, await submit(server.url, workflow), ['succeeded', 'failed'], 60_000);
    expect(run.status, JSON.stringify(run.results)).toBe('succeeded');
  }, 90_000);
});

describe('seeding the examples\' inputs', () => {
  it('leaves a file a user changed alone, and seeds nothing when told not to', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'diffgraph-seed-'));
    try {
      mkdirSync(path.join(dataDir, 'inputs', 'data'), { recursive: true });
      writeFileSync(path.join(dataDir, 'inputs', 'data', 'red-circle.png'), 'mine');
      const seeded = await tempServer({ dataDir });
      await seeded.close();
      expect(readFileSync(path.join(dataDir, 'inputs', 'data', 'red-circle.png'), 'utf8')).toBe('mine');
      expect(readFileSync(path.join(dataDir, 'inputs', 'data', 'two-shapes.png')).equals(readFileSync(path.join(repoRoot, 'workflows/data/two-shapes.png')))).toBe(true);

      const bare = await tempServer({ exampleInputs: false });
      expect((await api(bare.url, '/api/uploads')).body.uploads).toEqual([]);
      await bare.close();
      rmSync(bare.dataDir, { recursive: true, force: true });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
