/**
 * Workflows built to exhaust the server or the CLI: nesting 10,000 deep (which JSON.parse accepts but
 * every recursive walk overflows on), thousands of nodes, and thousands of errors. Each front door must
 * answer with a coded error (400/413 over HTTP, exit 1 from the CLI) and keep working.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_WORKFLOW_LIMITS } from '@diffgraph/engine';
import { api, smallWorkflow, submit, tempServer, waitForStatus, WsClient } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

const bin = fileURLToPath(new URL('../bin/diffgraph.js', import.meta.url));
const DEEP = `${'['.repeat(10_000)}1${']'.repeat(10_000)}`;
const MARK = '@@deep@@';

/** The small solver lab as JSON text with a value nested 10,000 deep at `where` (JSON.stringify cannot write it). */
function deepText(where: 'literal' | 'meta' | 'ui', envelope = false): string {
  const w = smallWorkflow();
  if (where === 'literal') w.nodes.noise.inputs.seed = MARK;
  else w[where] = { ...w[where], deep: MARK };
  return JSON.stringify(envelope ? { workflow: w } : w).replace(JSON.stringify(MARK), DEEP);
}

function unknownNodes(count: number): unknown {
  const nodes: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) nodes[`n${i}`] = { type: `Nope${i}` };
  return { format: 'diffgraph/workflow@1', nodes };
}

const post = (base: string, route: string, body: string, method = 'POST') =>
  api(base, route, { method, body, headers: { 'Content-Type': 'application/json' } });

describe('deep and huge workflows over HTTP', () => {
  let server: RunningServer & { dataDir: string };
  let base = '';
  beforeAll(async () => {
    server = await tempServer({ limits: { maxNodes: 20_000 } });
    base = server.url;
  });
  afterAll(() => server.close());

  it.each(['literal', 'meta', 'ui'] as const)('POST /api/runs with a %s nested 10,000 deep: 400 NESTING_TOO_DEEP, and the server stays up', async (where) => {
    const r = await post(base, '/api/runs', deepText(where, true));
    expect(r.status).toBe(400);
    expect(r.body.errors).toEqual([expect.objectContaining({ code: 'NESTING_TOO_DEEP', nodeId: where === 'literal' ? 'noise' : null })]);
    expect((await api(base, '/api/health')).status).toBe(200);
    const runId = await submit(base, smallWorkflow(3));
    expect((await waitForStatus(base, runId, ['succeeded', 'failed'])).status).toBe('succeeded');
  });

  it('node count is checked before per-node validation (TOO_MANY_NODES, with its flag) and the error list is capped', async () => {
    const tooMany = await api(base, '/api/runs', { json: { workflow: unknownNodes(25_000) } });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.errors).toEqual([expect.objectContaining({ code: 'TOO_MANY_NODES' })]);
    expect(tooMany.body.errors[0].message).toContain('--max-nodes');

    const res = await fetch(`${base}/api/runs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ workflow: unknownNodes(15_000) }) });
    const text = await res.text();
    expect(res.status).toBe(400);
    const { errors } = JSON.parse(text);
    expect(errors).toHaveLength(DEFAULT_WORKFLOW_LIMITS.maxErrors + 1);
    expect(errors.at(-1)).toMatchObject({ nodeId: null, code: 'TOO_MANY_ERRORS' });
    expect(text.length).toBeLessThan(30_000);
  });

  it('a workflow over --max-workflow-bytes is 413 WORKFLOW_TOO_LARGE, measured without serializing it', async () => {
    const small = await tempServer({ limits: { workflowBytes: 2048 } });
    try {
      const w = smallWorkflow();
      w.meta = { notes: 'x'.repeat(4096) };
      const r = await api(small.url, '/api/runs', { json: { workflow: w } });
      expect(r.status).toBe(413);
      expect(r.body.errors).toEqual([expect.objectContaining({ code: 'WORKFLOW_TOO_LARGE' })]);
      expect(r.body.errors[0].message).toContain('--max-workflow-bytes');
    } finally {
      await small.close();
    }
  });

  it('WebSocket messages with fields nested 30,000 deep get an error reply, and the server stays up', async () => {
    const ws = await WsClient.connect(base);
    const deep = `${'['.repeat(30_000)}1${']'.repeat(30_000)}`;
    ws.ws.send(`{"type":${deep}}`);
    expect((await ws.next((m) => m.type === 'error')).code).toBe('BAD_MESSAGE');
    ws.ws.send(`{"type":"unsubscribe","runId":${deep}}`);
    expect(await ws.next((m) => m.type === 'unsubscribed')).toEqual({ type: 'unsubscribed' });
    ws.send({ type: 'ping' });
    await ws.next((m) => m.type === 'pong');
    await ws.close();
    expect((await api(base, '/api/health')).status).toBe(200);
  });

  it('the workflow library refuses to save a workflow nested 10,000 deep (400 NESTING_TOO_DEEP) and keeps serving', async () => {
    const r = await post(base, '/api/workflows/deep', deepText('ui'), 'PUT');
    expect(r.status).toBe(400);
    expect(r.body.errors[0].code).toBe('NESTING_TOO_DEEP');
    const list = await api(base, '/api/workflows');
    expect(list.status).toBe(200);
    expect(list.body.workflows.map((w: { name: string }) => w.name)).not.toContain('deep');
    const saved = await api(base, '/api/workflows/shallow', { method: 'PUT', json: smallWorkflow() });
    expect(saved.status).toBe(201);
  });
});

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe('deep workflows through the CLI', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-deep-'));
    for (const where of ['literal', 'meta', 'ui'] as const) writeFileSync(path.join(dir, `${where}.json`), deepText(where));
  });

  it('validate: exit 1 with NESTING_TOO_DEEP printed, never "unexpected error"', async () => {
    const results = await Promise.all(['literal', 'meta', 'ui'].map((where) => cli(['validate', `${where}.json`], dir)));
    for (const r of results) {
      expect(r.code).toBe(1);
      expect(r.stdout).toContain('NESTING_TOO_DEEP');
      expect(r.stdout + r.stderr).not.toContain('unexpected error');
    }
  }, 60_000);

  it('run (with --set, and with --server) refuses it with exit 1 before anything runs or is sent', async () => {
    const [local, remote] = await Promise.all([
      cli(['run', 'literal.json', '--set', 'noise.seed=1', '--out', 'out'], dir),
      cli(['run', 'meta.json', '--json', '--server', 'http://127.0.0.1:9'], dir),
    ]);
    expect(local.code).toBe(1);
    expect(local.stderr).toContain('NESTING_TOO_DEEP');
    expect(remote.code).toBe(1);
    expect(JSON.parse(remote.stdout.trim())).toMatchObject({ type: 'validation.error', code: 'NESTING_TOO_DEEP' });
    for (const r of [local, remote]) expect(r.stdout + r.stderr).not.toContain('unexpected error');
  }, 60_000);
});
