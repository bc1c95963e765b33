import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry, decodeNpy, encodeNpy } from '@diffgraph/nodes';
import { defineNode, Tensor } from '@diffgraph/engine';
import { routesOf, createApp } from '../src/app.ts';
import { ComfyBridge } from '../src/comfy/bridge.ts';
import { startServer, ConfigError } from '../src/server.ts';
import { api, slowWorkflow, smallWorkflow, submit, tempServer, waitFor, waitForStatus, WsClient } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

let server: RunningServer & { dataDir: string };
let base: string;

beforeAll(async () => {
  server = await tempServer({ limits: { maxSteps: 200, maxBatch: 4096, maxParticles: 8, bodyBytes: 256 * 1024, uploadBytes: 64 * 1024 } });
  base = server.url;
});
afterAll(() => server.close());

function pngBytes(w = 4, h = 3): Buffer {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) png.data.set([i * 20, 100, 200, 255], 4 * i);
  return PNG.sync.write(png);
}

/** A raw HTTP request with exactly the headers given (fetch would normalize Host and Origin). */
function raw(method: string, route: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string }> {
  const url = new URL(route, base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname + url.search, method, headers, setHost: false }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

describe('runs', () => {
  it('submit, poll, complete: per-node state, outputs, the output file and the event log', async () => {
    const runId = await submit(base, smallWorkflow(1), { clientId: 'test-a' });
    const run = await waitForStatus(base, runId, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect(run.attempts).toBe(1);
    expect(Object.keys(run.nodes).sort()).toEqual(['guider', 'latent', 'model', 'noise', 'sample', 'save', 'schedule', 'solver']);
    for (const node of Object.values<any>(run.nodes)) expect(['finished', 'cached']).toContain(node.state);
    const file = run.results.save.values.path;
    expect(file.file).toBe(`${runId}/samples.npy`);
    const res = await fetch(`${base}${file.url}`);
    expect(res.status).toBe(200);
    const tensor = decodeNpy(Buffer.from(await res.arrayBuffer()));
    expect(tensor.shape).toEqual([16, 2]);
    const log = await api(base, `/api/runs/${runId}/events`);
    const types = log.body.events.map((e: any) => e.type);
    expect(types[0]).toBe('run.queued');
    expect(types.at(-1)).toBe('run.finished');
    expect(types).toContain('node.finished');
    expect(log.body.events.map((e: any) => e.seq)).toEqual(types.map((_: unknown, i: number) => i + 1));
    const withWorkflow = await api(base, `/api/runs/${runId}?workflow=1`);
    expect(withWorkflow.body.workflow.nodes.noise.inputs.seed).toBe(1);
  });

  it('an invalid workflow: 400 with every coded error, nothing queued', async () => {
    const before = (await api(base, '/api/runs?limit=1')).body.total;
    const w = smallWorkflow();
    w.nodes.solver.inputs.kind = 'nope';
    w.nodes.schedule.inputs.stepz = 3;
    w.nodes.sample.inputs.sigmas = { from: 'schedul', output: 'sigmas' };
    const r = await api(base, '/api/runs', { json: { workflow: w } });
    expect(r.status).toBe(400);
    expect(r.body.errors.map((e: any) => e.code).sort()).toEqual(['LINK_MISSING_NODE', 'NOT_IN_ENUM', 'UNKNOWN_INPUT']);
    expect(r.body.errors.find((e: any) => e.code === 'UNKNOWN_INPUT')).toMatchObject({ nodeId: 'schedule', input: 'stepz' });
    const bad = await api(base, '/api/runs', { json: { workflow: { format: 'nope', nodes: {} } } });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].code).toBe('INVALID_FORMAT');
    const envelope = await api(base, '/api/runs', { json: { workflow: smallWorkflow(), extra: 1 } });
    expect(envelope.status).toBe(400);
    expect(envelope.body.errors[0].code).toBe('INVALID_REQUEST');
    const notJson = await api(base, '/api/runs', { method: 'POST', body: '{"workflow":', headers: { 'Content-Type': 'application/json' } });
    expect(notJson.status).toBe(400);
    expect(notJson.body.errors[0].code).toBe('INVALID_JSON');
    const wrongType = await api(base, '/api/runs', { method: 'POST', body: JSON.stringify({ workflow: smallWorkflow() }), headers: { 'Content-Type': 'text/plain' } });
    expect(wrongType.status).toBe(415);
    expect((await api(base, '/api/runs?limit=1')).body.total).toBe(before);
  });

  it('limits on steps, batch and particles: a clear LIMIT_EXCEEDED error naming the node and input', async () => {
    const w = smallWorkflow();
    w.nodes.schedule.inputs.steps = 500;
    const r = await api(base, '/api/runs', { json: { workflow: w } });
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([expect.objectContaining({ nodeId: 'schedule', input: 'steps', code: 'LIMIT_EXCEEDED' })]);
    expect(r.body.errors[0].message).toMatch(/at most 200 steps \(--max-steps\)/);
  });

  it('an oversized body is refused with 413', async () => {
    const w = smallWorkflow();
    w.meta.padding = 'x'.repeat(300 * 1024);
    const r = await api(base, '/api/runs', { json: { workflow: w } });
    expect(r.status).toBe(413);
    expect(r.body.errors[0].code).toBe('BODY_TOO_LARGE');
  });

  it('lists runs with status and client filters and paging', async () => {
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(base, smallWorkflow(100 + i), { clientId: 'pager' }));
    for (const id of ids) await waitForStatus(base, id, ['succeeded']);
    const page1 = await api(base, '/api/runs?clientId=pager&limit=2&offset=0');
    expect(page1.body.total).toBe(3);
    expect(page1.body.runs.map((r: any) => r.id)).toEqual([ids[2], ids[1]]);
    const page2 = await api(base, '/api/runs?clientId=pager&limit=2&offset=2');
    expect(page2.body.runs.map((r: any) => r.id)).toEqual([ids[0]]);
    const succeeded = await api(base, '/api/runs?status=succeeded,failed&clientId=pager');
    expect(succeeded.body.total).toBe(3);
    expect((await api(base, '/api/runs?status=queued&clientId=pager')).body.total).toBe(0);
    expect((await api(base, '/api/runs?status=bogus')).status).toBe(400);
    expect((await api(base, '/api/runs?limit=100000')).status).toBe(400);
  });

  it('cancel is POST /api/runs/:id/cancel and idempotent: a cancel storm on finished runs deletes and changes nothing', async () => {
    const ids = [];
    for (let i = 0; i < 10; i++) ids.push(await submit(base, smallWorkflow(300 + i), { clientId: 'storm' }));
    const before = [];
    for (const id of ids) before.push(await waitForStatus(base, id, ['succeeded']));
    const answers = await Promise.all(ids.flatMap((id) => Array.from({ length: 5 }, () => api(base, `/api/runs/${id}/cancel`, { method: 'POST' }))));
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toMatchObject({ result: 'unchanged', status: 'succeeded' });
    }
    expect((await api(base, '/api/runs?clientId=storm')).body.total).toBe(10);
    for (const [i, id] of ids.entries()) expect((await api(base, `/api/runs/${id}`)).body).toEqual(before[i]);
    expect((await api(base, '/api/runs/nope/cancel', { method: 'POST' })).status).toBe(404);
  });

  it('DELETE refuses a queued or running run with 409 RUN_ACTIVE and the run goes on; cancel twice is fine; then DELETE removes it', async () => {
    const running = await submit(base, slowWorkflow(150, 31));
    const queued = await submit(base, smallWorkflow(32));
    const started = await waitFor('the slow run to sample', async () => {
      const r = (await api(base, `/api/runs/${running}`)).body;
      return (r.nodes.sample.progress?.value ?? 0) >= 1 ? r : undefined;
    });
    for (const id of [running, queued]) {
      const refused = await api(base, `/api/runs/${id}`, { method: 'DELETE' });
      expect(refused.status).toBe(409);
      expect(refused.body.errors[0]).toMatchObject({ nodeId: null, code: 'RUN_ACTIVE' });
      expect(refused.body.errors[0].message).toMatch(/cancel/);
    }
    // The refused run keeps sampling.
    await waitFor('progress after the refused DELETE', async () => {
      const r = (await api(base, `/api/runs/${running}`)).body;
      return r.status === 'running' && r.nodes.sample.progress.value > started.nodes.sample.progress.value + 1 ? true : undefined;
    });
    const first = await api(base, `/api/runs/${running}/cancel`, { method: 'POST' });
    const second = await api(base, `/api/runs/${running}/cancel`, { method: 'POST' });
    expect(first.status).toBe(202);
    expect(first.body).toEqual({ id: running, result: 'cancelling', status: 'running' });
    expect([200, 202]).toContain(second.status);
    await waitForStatus(base, running, ['cancelled']);
    expect((await api(base, `/api/runs/${running}/cancel`, { method: 'POST' })).body).toEqual({ id: running, result: 'unchanged', status: 'cancelled' });
    // The queued run was refused deletion, not cancelled: it runs once the queue reaches it.
    await waitForStatus(base, queued, ['succeeded']);
    expect((await api(base, `/api/runs/${running}`, { method: 'DELETE' })).body).toEqual({ id: running, result: 'deleted' });
    expect((await api(base, `/api/runs/${running}`)).status).toBe(404);
  });

  it('deletes a finished run from the history; unknown ids are 404', async () => {
    const id = await submit(base, smallWorkflow(5));
    await waitForStatus(base, id, ['succeeded']);
    const del = await api(base, `/api/runs/${id}`, { method: 'DELETE' });
    expect(del.body).toEqual({ id, result: 'deleted' });
    expect((await api(base, `/api/runs/${id}`)).status).toBe(404);
    expect((await api(base, '/api/runs/nope', { method: 'DELETE' })).status).toBe(404);
  });
});

describe('library, health, OpenAPI', () => {
  it('GET /api/nodes: definitions and the workflow JSON Schema', async () => {
    const r = await api(base, '/api/nodes');
    expect(r.body.nodes.map((n: any) => n.type)).toContain('Sample');
    expect(r.body.schema.definitions['SaveTensor.inputs']).toBeDefined();
  });

  it('GET /api/health: versions, execution provider, queue depth, cache bytes and budget', async () => {
    const r = await api(base, '/api/health');
    expect(r.body.status).toBe('ok');
    expect(r.body.versions).toMatchObject({ diffgraph: expect.any(String), node: process.versions.node, sqlite: expect.any(String) });
    expect(['cpu', 'cuda']).toContain(r.body.executionProvider.active);
    expect(r.body.queue).toEqual({ queued: expect.any(Number), running: expect.any(Number) });
    expect(r.body.cache.budgetBytes).toBe(1024 ** 3);
    expect(r.body.cache.usedBytes).toBeGreaterThan(0);
  });

  it('GET /api/workers in the embedded mode: no workers, the mode says why', async () => {
    expect((await api(base, '/api/workers')).body).toEqual({ mode: 'embedded', workers: [] });
  });

  it('the OpenAPI document lists exactly the router\'s routes, and its schemas are what the server validates with', async () => {
    const doc = (await api(base, '/api/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    const documented = Object.entries(doc.paths).flatMap(([p, ops]: [string, any]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)).sort();
    const bridge = new ComfyBridge(server.manager, path.join(server.dataDir, 'temp'));
    const { api: router, comfy } = createApp({
      registry: server.manager.executor.registry, manager: server.manager, security: { allowedHosts: null, allowedOrigins: [] },
      limits: {} as any, roots: server.roots, editorDir: '/nonexistent', version: '0', health: () => ({}), comfy: { bridge, device: () => 'cpu' },
    });
    bridge.close();
    const routed = [...routesOf(router), ...routesOf(comfy!, '')].map((r) => `${r.method.toUpperCase()} ${r.path}`).sort();
    expect(routed).toEqual(documented);
    // Every $ref resolves inside the document.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const target = ref.slice(8, -1).replace('#/components/schemas/', '');
      expect(doc.components.schemas[target], ref).toBeDefined();
    }
    // The submit body schema refuses what the server refuses (an unknown field), the workflow schema lists node types.
    expect(doc.components.schemas.SubmitRequest.additionalProperties).toBe(false);
    expect(doc.components.schemas['WorkflowNode.node'].properties.type.enum).toContain('Sample');
  });
});

describe('uploads and files', () => {
  it('stores uploads under their content hash, typed by content; refuses other content and oversized uploads', async () => {
    const png = pngBytes();
    const up = await api(base, '/api/uploads', { method: 'POST', body: png, headers: { 'Content-Type': 'application/octet-stream' } });
    expect(up.status).toBe(201);
    expect(up.body).toMatchObject({ type: 'image/png', bytes: png.length, name: `${up.body.sha256}.png` });
    const again = await api(base, '/api/uploads', { method: 'POST', body: png, headers: { 'Content-Type': 'text/plain' } });
    expect(again.status).toBe(200);
    expect(again.body.existed).toBe(true);
    const npy = encodeNpy(Tensor.from([2, 2], [1, 2, 3, 4], 'float64'));
    const upNpy = await api(base, '/api/uploads', { method: 'POST', body: npy });
    expect(upNpy.body.type).toBe('application/x-npy');
    const tensorJson = await api(base, '/api/uploads', { method: 'POST', body: JSON.stringify({ shape: [2], dtype: 'float32', data: [1, 2] }) });
    expect(tensorJson.body.type).toBe('application/json');
    // A file named .png that is not one, an HTML page, a broken npy: refused by content.
    const refused: [string | Buffer, string][] = [
      ['<html><script>alert(1)</script></html>', 'UNSUPPORTED_MEDIA_TYPE'],
      [Buffer.concat([Buffer.from([0x93]), Buffer.from('NUMPYgarbage')]), 'UNREADABLE_UPLOAD'],
      ['{"not": "a tensor"}', 'UNSUPPORTED_MEDIA_TYPE'],
    ];
    for (const [body, code] of refused) {
      const r = await api(base, '/api/uploads', { method: 'POST', body, headers: { 'Content-Type': 'image/png' } });
      expect(r.status).toBe(415);
      expect(r.body.errors[0].code).toBe(code);
    }
    const big = await api(base, '/api/uploads', { method: 'POST', body: Buffer.concat([pngBytes(), Buffer.alloc(70 * 1024)]) });
    expect(big.status).toBe(413);

    // The uploaded tensor is usable by name in a workflow.
    const id = await submit(base, {
      format: 'diffgraph/workflow@1',
      nodes: {
        load: { type: 'LoadTensor', inputs: { path: upNpy.body.name } },
        save: { type: 'SaveTensor', inputs: { tensor: { from: 'load', output: 'tensor' }, filename: 'copy', format: 'json' } },
      },
    });
    const run = await waitForStatus(base, id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    expect((await api(base, run.results.save.values.path.url)).body).toEqual({ shape: [2, 2], dtype: 'float64', data: [1, 2, 3, 4] });
  });

  it('path traversal in requests and workflow inputs is refused: ../, absolute, symlinks out, URL-encoded', async () => {
    const outside = path.join(tmpdir(), `diffgraph-secret-${process.pid}`);
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'secret.npy'), encodeNpy(Tensor.from([1], [42])));
    symlinkSync(outside, path.join(server.roots.inputs, 'escape'));
    symlinkSync(outside, path.join(server.roots.outputs, 'escape'));

    for (const name of ['../../../etc/passwd', '/etc/passwd', 'escape/secret.npy', '..%2F..%2Fetc%2Fpasswd', '%2Fetc%2Fpasswd', 'escape%2Fsecret.npy', `..\u0000/x`]) {
      const w = { format: 'diffgraph/workflow@1', nodes: { load: { type: 'LoadTensor', inputs: { path: name } }, save: { type: 'SaveTensor', inputs: { tensor: { from: 'load', output: 'tensor' } } } } };
      const r = await api(base, '/api/runs', { json: { workflow: w } });
      expect(r.status, name).toBe(400);
      expect(r.body.errors[0], name).toMatchObject({ nodeId: 'load', input: 'path', code: 'PATH_OUTSIDE_ROOT' });
    }
    for (const filename of ['../../escaped', '/tmp/escaped', '../escape/owned', '..%2F..%2Fescaped']) {
      const w = smallWorkflow();
      w.nodes.save.inputs.filename = filename;
      const r = await api(base, '/api/runs', { json: { workflow: w } });
      expect(r.status, filename).toBe(400);
      expect(r.body.errors[0], filename).toMatchObject({ nodeId: 'save', input: 'filename', code: 'PATH_OUTSIDE_ROOT' });
    }
    // The files route: raw paths (not normalized by a client), encoded and double-encoded variants, symlinks out.
    for (const route of ['/api/files/../../../etc/passwd', '/api/files/..%2f..%2f..%2fetc%2fpasswd', '/api/files/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/api/files/escape/secret.npy', '/api/files/%2Fetc%2Fpasswd', '/api/files/..%252f..%252fetc%252fpasswd']) {
      const r = await raw('GET', route, { Host: new URL(base).host });
      expect(r.status, route).toBeGreaterThanOrEqual(400);
      expect(r.body, route).not.toMatch(/root:|NUMPY/);
    }
    expect((await raw('GET', '/api/files/escape/secret.npy', { Host: new URL(base).host })).status).toBe(403);
  });
});

describe('security', () => {
  it('a cross-origin POST (and DELETE, and WebSocket upgrade) is refused; same-origin and no-origin pass', async () => {
    const host = new URL(base).host;
    const body = JSON.stringify({ workflow: smallWorkflow() });
    const evil = await raw('POST', '/api/runs', { Host: host, Origin: 'http://evil.example', 'Content-Type': 'application/json' }, body);
    expect(evil.status).toBe(403);
    expect(JSON.parse(evil.body).errors[0].code).toBe('CROSS_ORIGIN');
    const nullOrigin = await raw('POST', '/api/runs', { Host: host, Origin: 'null', 'Content-Type': 'application/json' }, body);
    expect(nullOrigin.status).toBe(403);
    const crossSite = await raw('POST', '/api/runs', { Host: host, 'Sec-Fetch-Site': 'cross-site', 'Content-Type': 'text/plain' }, body);
    expect(crossSite.status).toBe(403);
    const del = await raw('DELETE', '/api/runs/x', { Host: host, Origin: 'http://evil.example' });
    expect(del.status).toBe(403);
    const cancel = await raw('POST', '/api/runs/x/cancel', { Host: host, Origin: 'http://evil.example' });
    expect(cancel.status).toBe(403);
    const same = await raw('POST', '/api/runs', { Host: host, Origin: base, 'Content-Type': 'application/json' }, body);
    expect(same.status).toBe(202);
    await expect(WsClient.connect(base, { headers: { Origin: 'http://evil.example' } })).rejects.toThrow(/403/);
    const ok = await WsClient.connect(base, { headers: { Origin: base } });
    await ok.close();
  });

  it('a foreign Host header is refused on loopback (DNS rebinding)', async () => {
    const r = await raw('GET', '/api/health', { Host: 'attacker.example:8188' });
    expect(r.status).toBe(403);
    expect(JSON.parse(r.body).errors[0].code).toBe('BAD_HOST');
    expect((await raw('GET', '/api/health', { Host: `localhost:${server.port}` })).status).toBe(200);
  });

  it('security headers on the editor page', async () => {
    const r = await fetch(`${base}/`);
    expect(r.status).toBe(200);
    expect(await r.text()).toMatch(/editor is not built/);
    expect(r.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    expect(r.headers.get('x-frame-options')).toBe('SAMEORIGIN');
  });

  it('a non-loopback bind without a token refuses to start; with a token every route and the upgrade need it', async () => {
    await expect(startServer({ host: '0.0.0.0', port: 0, dataDir: server.dataDir, log: () => {} })).rejects.toThrow(ConfigError);
    await expect(startServer({ host: '0.0.0.0', port: 0, dataDir: server.dataDir, log: () => {} })).rejects.toThrow(/without a token/);
    const token = 'test-token-0123456789abcdef';
    const guarded = await tempServer({ token });
    try {
      for (const route of ['/api/health', '/api/runs', '/api/nodes', '/api/openapi.json', '/']) {
        expect((await api(guarded.url, route)).status, route).toBe(401);
        expect((await api(guarded.url, route, { headers: { Authorization: 'Bearer wrong-token-0123456789ab' } })).status, route).toBe(401);
        expect((await api(guarded.url, route, { headers: { Authorization: `Bearer ${token}` } })).status, route).toBe(200);
      }
      expect((await api(guarded.url, '/api/runs', { json: { workflow: smallWorkflow() } })).status).toBe(401);
      await expect(WsClient.connect(guarded.url)).rejects.toThrow(/401/);
      const ws = await WsClient.connect(guarded.url, { headers: { Authorization: `Bearer ${token}` } });
      await ws.close();
      const browser = await WsClient.connect(guarded.url, { protocols: ['diffgraph.v1', `diffgraph.bearer.${token}`] });
      await browser.close();
    } finally {
      await guarded.close();
    }
  });
});

describe('limits follow input roles, not input names', () => {
  // A node whose step count is called "iterations" and whose sizes are "cols" / "rows": named-based
  // checks would miss all three.
  const Grid = defineNode({
    type: 'RoleGrid', category: 'test', description: 'A grid sized by role-tagged inputs', version: 1,
    inputs: {
      iterations: { type: 'INT', default: 10, min: 1, max: 100_000, role: 'steps' },
      cols: { type: 'INT', default: 8, min: 1, max: 100_000, role: 'width' },
      rows: { type: 'INT', default: 8, min: 1, max: 100_000, role: 'height' },
      steps: { type: 'INT', default: 10, min: 1, max: 100_000, tooltip: 'Not a step count: no role, no limit' },
    },
    outputs: { cells: { type: 'INT' } },
    output: true,
    run: (i) => ({ cells: i.iterations * i.cols * i.rows }),
  });

  it('refuses a renamed steps / width / height input over the limit, and lets an untagged "steps" pass', async () => {
    const registry = createRegistry();
    registry.register(Grid, 'role-test');
    const roleServer = await tempServer({ registry, limits: { maxSteps: 50, maxResolution: 64 } });
    try {
      const workflow = (inputs: Record<string, number>) => ({ format: 'diffgraph/workflow@1', nodes: { grid: { type: 'RoleGrid', inputs } } });
      const over = await api(roleServer.url, '/api/runs', { json: { workflow: workflow({ iterations: 51, cols: 65, rows: 64, steps: 5000 }) } });
      expect(over.status).toBe(400);
      expect(over.body.errors.map((e: { input: string; code: string }) => [e.input, e.code])).toEqual([['iterations', 'LIMIT_EXCEEDED'], ['cols', 'LIMIT_EXCEEDED']]);
      expect(over.body.errors[0].message).toMatch(/"iterations" is 51; this server allows at most 50 steps \(--max-steps\)/);
      expect(over.body.errors[1].message).toMatch(/at most 64 resolution \(--max-resolution\)/);
      const within = await api(roleServer.url, '/api/runs', { json: { workflow: workflow({ iterations: 50, cols: 64, rows: 64, steps: 5000 }) } });
      expect(within.status).toBe(202);
    } finally {
      await roleServer.close();
    }
  });
});
