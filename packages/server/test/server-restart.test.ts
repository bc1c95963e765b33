import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunStore } from '../src/store.ts';
import { api, slowWorkflow, smallWorkflow, submit, tempServer, waitFor } from './helpers.ts';
import { cli, serve, spawnCli, stop } from './subprocess.ts';

describe('persistence across a crash', () => {
  it('kill -9 mid-run, restart: queued runs still run, the interrupted one is re-queued once, nothing accepted is lost', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-crash-'));
    const first = await serve(['--data', data]);
    const slow = await submit(first.url, slowWorkflow(60, 21));
    const queued = [];
    for (let i = 0; i < 4; i++) queued.push(await submit(first.url, smallWorkflow(200 + i)));
    await waitFor('the slow run to be mid-sampling', async () => {
      const r = await api(first.url, `/api/runs/${slow}`);
      return r.body.status === 'running' && (r.body.nodes.sample.progress?.value ?? 0) >= 2 ? true : undefined;
    });
    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));

    const second = await serve(['--data', data]);
    try {
      for (const id of [slow, ...queued]) {
        await waitFor(`run ${id} to succeed after the restart`, async () => {
          const r = await api(second.url, `/api/runs/${id}`);
          return r.body.status === 'succeeded' ? true : undefined;
        }, 30_000, 50);
      }
      const s = (await api(second.url, `/api/runs/${slow}`)).body;
      expect(s).toMatchObject({ attempts: 2, interruptions: 1, status: 'succeeded' });
      const log = (await api(second.url, `/api/runs/${slow}/events`)).body.events.map((e: any) => e.type);
      expect(log).toContain('run.interrupted');
      expect(log.filter((t: string) => t === 'run.started')).toHaveLength(2);
      expect(log.at(-1)).toBe('run.finished');
      for (const id of queued) expect((await api(second.url, `/api/runs/${id}`)).body.attempts).toBe(1);
      expect((await api(second.url, '/api/runs')).body.total).toBe(5);
    } finally {
      second.child.kill('SIGTERM');
      await new Promise((r) => second.child.once('exit', r));
    }
  });

  it('a run interrupted more often than the policy allows is left `interrupted`, not lost', () => {
    const store = new RunStore(path.join(mkdtempSync(path.join(tmpdir(), 'diffgraph-store-')), 'db.sqlite'));
    store.insertRun('r1', smallWorkflow(), ['save'], null, [{ nodeId: 'save', nodeType: 'SaveTensor' }]);
    expect(store.markStarted('r1')).toBe(true);
    expect(store.recoverInterrupted(1)).toEqual({ requeued: ['r1'], interrupted: [] });
    expect(store.get('r1')!.status).toBe('queued');
    store.markStarted('r1');
    expect(store.recoverInterrupted(1)).toEqual({ requeued: [], interrupted: ['r1'] });
    expect(store.get('r1')).toMatchObject({ status: 'interrupted', interruptions: 2, attempts: 2 });
    expect(store.nodes('r1')[0].state).toBe('cancelled');
    store.close();
  });

  it('a dispatched run stays queued until its worker starts it; a node without a dispatcher runs it itself; an older data folder opens', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'diffgraph-store-')), 'db.sqlite');
    // A data folder written before dispatched_at existed: the column is added, its queued run still runs.
    const Database = (await import('better-sqlite3')).default;
    const old = new Database(file);
    old.exec(`CREATE TABLE runs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, status TEXT NOT NULL, workflow TEXT NOT NULL, outputs TEXT NOT NULL,
      client_id TEXT, created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, attempts INTEGER NOT NULL DEFAULT 0, interruptions INTEGER NOT NULL DEFAULT 0, error TEXT, results TEXT)`);
    old.prepare(`INSERT INTO runs (id, status, workflow, outputs, created_at) VALUES ('old', 'queued', '{}', '[]', 1)`).run();
    old.close();
    const store = new RunStore(file);
    expect(store.nextQueued()!.id).toBe('old');
    store.insertRun('r2', smallWorkflow(), ['save'], null, []);
    expect(store.markDispatched('old')).toBe(true);
    expect(store.markDispatched('old')).toBe(false);
    expect(store.markStarted('old')).toBe(false);
    // Handed to a worker: queued for the user, not offered again, followed after a restart.
    expect(store.get('old')).toMatchObject({ status: 'queued', startedAt: null, attempts: 0 });
    expect(store.nextQueued()!.id).toBe('r2');
    expect(store.dispatched().map((r) => r.id)).toEqual(['old']);
    store.markRunning('old');
    store.markRunning('old');
    expect(store.get('old')).toMatchObject({ status: 'running', attempts: 1 });
    expect(store.get('old')!.startedAt).toBeGreaterThan(0);
    expect(store.markDispatched('r2')).toBe(true);
    expect(store.dispatched().map((r) => r.id)).toEqual(['old', 'r2']);
    // Opened without a dispatcher: the waiting one is a plain queued run again, the running one is re-queued.
    expect(store.recoverInterrupted(3)).toEqual({ requeued: ['old'], interrupted: [] });
    expect(store.dispatched()).toEqual([]);
    expect(store.nextQueued()!.id).toBe('old');
    expect(store.markStarted('r2')).toBe(true);
    store.close();
  });
});

describe('diffgraph serve / run --server', () => {
  it('run --server: Ctrl-C cancels the run with POST /api/runs/:id/cancel (never DELETE), exit 130, the run stays in the history', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-remote-cancel-'));
    const server = await tempServer();
    const requests: string[] = [];
    server.http.prependListener('request', (req) => requests.push(`${req.method} ${req.url}`));
    try {
      writeFileSync(path.join(dir, 'wf.json'), JSON.stringify(slowWorkflow(500, 41)));
      const child = spawnCli(['run', 'wf.json', '--server', server.url, '--json'], dir);
      let stdout = '';
      const sampling = new Promise<void>((resolve) => child.stdout!.on('data', (c) => {
        stdout += c;
        const lines = stdout.split('\n').slice(0, -1).map((l) => JSON.parse(l));
        if (lines.some((e) => e.type === 'node.progress' && e.nodeId === 'sample')) resolve();
      }));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await sampling;
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      const events = stdout.trim().split('\n').map((l) => JSON.parse(l));
      const runId = events[0].runId;
      expect(events.at(-1).type).toBe('run.cancelled');
      expect(requests).toContain(`POST /api/runs/${runId}/cancel`);
      expect(requests.filter((r) => r.startsWith('DELETE'))).toEqual([]);
      expect((await api(server.url, `/api/runs/${runId}`)).body.status).toBe('cancelled');
    } finally {
      await server.close();
    }
  });


  it('refuses a non-loopback bind without a token (exit 2, a clear message)', async () => {
    const r = await cli(['serve', '--host', '0.0.0.0', '--port', '0', '--data', mkdtempSync(path.join(tmpdir(), 'diffgraph-nt-'))], tmpdir());
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Refusing to listen on 0\.0\.0\.0 without a token/);
  });

  it('run --server submits, streams progress as JSON events, and exits like a local run', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-remote-'));
    const token = 'remote-token-0123456789';
    const server = await serve(['--data', path.join(dir, 'data'), '--token', token]);
    try {
      writeFileSync(path.join(dir, 'wf.json'), JSON.stringify(smallWorkflow(9)));
      const [ok, refused] = await Promise.all([
        cli(['run', 'wf.json', '--server', server.url, '--token', token, '--json', '--set', 'schedule.steps=3'], dir),
        cli(['run', 'wf.json', '--server', server.url, '--set', 'solver.kind=nope'], dir),
      ]);
      expect(ok.code, ok.stderr).toBe(0);
      const events = ok.stdout.trim().split('\n').map((l) => JSON.parse(l));
      expect(events[0].type).toMatch(/^run\.(queued|started)$/);
      expect(events.filter((e) => e.type === 'node.progress').map((e) => e.value)).toEqual([0, 1, 2, 3]);
      expect(events.at(-1).type).toBe('run.finished');
      expect(events.at(-1).outputs.save.values.path.url).toMatch(/^\/api\/files\/.+\/samples\.npy$/);
      // Without the token the submit is refused (401): exit 2.
      expect(refused.code).toBe(2);
      const invalid = await cli(['run', 'wf.json', '--server', server.url, '--token', token, '--set', 'solver.kind=nope'], dir);
      expect(invalid.code).toBe(1);
      expect(invalid.stderr).toMatch(/NOT_IN_ENUM\s+node "solver", input "kind"/);
      const plain = await cli(['run', 'wf.json', '--server', server.url, '--token', token], dir);
      expect(plain.code).toBe(0);
      expect(plain.stdout).toMatch(/succeeded\n\s+✓ save: path = http:\/\/127\.0\.0\.1:\d+\/api\/files\/.+\/samples\.npy/);
    } finally {
      server.child.kill('SIGTERM');
    }
  });
});
