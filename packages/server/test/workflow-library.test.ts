/** The workflow library handler over real HTTP. */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { workflowLibrary } from '../src/workflow-library.ts';

describe('workflow library routes', () => {
  let server: Server;
  let base = '';
  let dir = '';
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-lib-'));
    const handler = workflowLibrary({ dir, maxBytes: 4096 });
    server = createServer((req, res) => {
      if (!req.url?.startsWith('/api/workflows')) return void res.writeHead(404).end();
      req.url = req.url.slice('/api/workflows'.length) || '/';
      handler(req, res, (err) => res.writeHead(err ? 500 : 404).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/workflows`;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const wf = { format: 'diffgraph/workflow@1', nodes: { a: { type: 'RandomNoise' } }, meta: { title: 'Noise' } };

  it('saves, lists, reads, replaces and deletes', async () => {
    expect(await (await fetch(base)).json()).toEqual({ workflows: [] });
    const put = await fetch(`${base}/my%20flow`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(wf) });
    expect(put.status).toBe(201);
    expect((await fetch(`${base}/my%20flow`, { method: 'PUT', body: JSON.stringify(wf) })).status).toBe(200);
    const list = (await (await fetch(base)).json()) as { workflows: { name: string; title: string }[] };
    expect(list.workflows.map((w) => [w.name, w.title])).toEqual([['my flow', 'Noise']]);
    expect(await (await fetch(`${base}/my%20flow`)).json()).toEqual(wf);
    expect((await fetch(`${base}/my%20flow`, { method: 'DELETE' })).status).toBe(200);
    expect((await fetch(`${base}/my%20flow`)).status).toBe(404);
  });

  it('refuses bad names, non-workflows and oversized bodies', async () => {
    for (const name of ['..%2Fx', '.hidden', '%00', 'a%2Fb']) {
      const res = await fetch(`${base}/${name}`, { method: 'PUT', body: JSON.stringify(wf) });
      expect([400, 404]).toContain(res.status);
    }
    const notWf = await fetch(`${base}/x`, { method: 'PUT', body: JSON.stringify({ nodes: {} }) });
    expect(notWf.status).toBe(400);
    expect(((await notWf.json()) as { errors: { code: string }[] }).errors[0].code).toBe('INVALID_FORMAT');
    const big = await fetch(`${base}/x`, { method: 'PUT', body: JSON.stringify({ ...wf, meta: { pad: 'x'.repeat(5000) } }) });
    expect(big.status).toBe(413);
  });
});

