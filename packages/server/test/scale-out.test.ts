import { mkdtempSync, readdirSync } from 'node:fs';
import { PNG } from 'pngjs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, slowWorkflow, smallWorkflow, submit, tempServer, waitForStatus, WsClient } from './helpers.ts';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { QUEUE_NAME } from '../src/scale-out/wire.ts';
import { removeRedisDir, redisSkipReason, startRedis, type TestRedis } from './redis.ts';
import { cli, killHard, serve, stop } from './subprocess.ts';
import { eventTypes, expectSucceededOnceOnSecondAttempt, isTerminal, startWorkerProcess } from './scale-out-helpers.ts';
import { parsePreviewFrame } from '../src/preview.ts';
import type { ChildProcess } from 'node:child_process';

describe.skipIf(redisSkipReason)(`scale-out through BullMQ on Redis${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`, () => {
  let redis: TestRedis;
  let data: string;
  let apiNode: Awaited<ReturnType<typeof serve>>;
  let worker: ChildProcess;

  beforeAll(async () => {
    redis = await startRedis();
    data = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-'));
    apiNode = await serve(['--data', data, '--models', path.join(data, 'models'), '--queue', redis.url]);
    worker = await startWorkerProcess(['--queue', redis.url, '--data', data, '--models', path.join(data, 'models')], data);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([apiNode && stop(apiNode.child), worker && stop(worker)]);
  });

  it('serve --queue + worker --queue: a run succeeds on the worker, its history, file and WebSocket events match the embedded mode', async () => {
    const ws = await WsClient.connect(apiNode.url, { query: '?all=1' });
    await ws.next((m) => m.type === 'subscribed');
    const runId = await submit(apiNode.url, smallWorkflow(5, 6));
    await ws.next(isTerminal(runId), 30_000);
    const run = await waitForStatus(apiNode.url, runId, ['succeeded'], 30_000);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1, error: null });
    expect(Object.values(run.nodes).map((n: any) => n.state)).not.toContain('pending');
    const file = run.results.save.values.path;
    expect(file.url).toMatch(new RegExp(`^/api/files/${runId}/`));
    const download = await fetch(`${apiNode.url}${file.url}`);
    expect(download.status).toBe(200);
    expect((await download.arrayBuffer()).byteLength).toBeGreaterThan(0);

    // The same workflow in the embedded mode: the same events in the same order, the same results.
    const embedded = await tempServer();
    try {
      const local = await WsClient.connect(embedded.url, { query: '?all=1' });
      await local.next((m) => m.type === 'subscribed');
      const localId = await submit(embedded.url, smallWorkflow(5, 6));
      await local.next(isTerminal(localId));
      const types = eventTypes(ws, runId);
      expect(types).toEqual(eventTypes(local, localId));
      expect(types[0]).toBe('run.queued');
      expect(types.at(-1)).toBe('run.finished');
      const seqs = ws.of(runId).filter((m) => typeof m.seq === 'number').map((m) => m.seq);
      expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
      const localRun = (await api(embedded.url, `/api/runs/${localId}`)).body;
      expect(JSON.stringify(run.results).replaceAll(runId, 'ID')).toBe(JSON.stringify(localRun.results).replaceAll(localId, 'ID'));
      const history = (await api(apiNode.url, `/api/runs/${runId}/events`)).body.events.map((e: any) => e.type);
      expect(history).toEqual((await api(embedded.url, `/api/runs/${localId}/events`)).body.events.map((e: any) => e.type));
      await local.close();
    } finally {
      await embedded.close();
    }
    await ws.close();
  }, 60_000);

  it('a cancel through the API node reaches the worker: the sampler stops and the run is recorded cancelled', async () => {
    const ws = await WsClient.connect(apiNode.url, { query: '?all=1' });
    await ws.next((m) => m.type === 'subscribed');
    const runId = await submit(apiNode.url, slowWorkflow(400, 3));
    await ws.next((m) => m.runId === runId && m.type === 'node.progress' && m.value >= 2, 30_000);
    expect((await api(apiNode.url, `/api/runs/${runId}/cancel`, { method: 'POST' })).status).toBe(202);
    const end = await ws.next(isTerminal(runId), 30_000);
    expect(end.type).toBe('run.cancelled');
    const run = await waitForStatus(apiNode.url, runId, ['cancelled'], 30_000);
    expect(run.nodes.sample.progress.value).toBeLessThan(400);
    // The worker is free again: the next run succeeds.
    const next = await submit(apiNode.url, smallWorkflow(6, 4));
    await waitForStatus(apiNode.url, next, ['succeeded'], 30_000);
    await ws.close();
  }, 60_000);

  it('runs waiting for a busy worker are queued, not running; cancelling one takes its job back at once, and no worker starts it', async () => {
    const ws = await WsClient.connect(apiNode.url, { query: '?all=1' });
    await ws.next((m) => m.type === 'subscribed');
    const long = await submit(apiNode.url, slowWorkflow(400, 31));
    await ws.next((m) => m.runId === long && m.type === 'node.progress', 30_000);
    const [waiting, next] = [await submit(apiNode.url, smallWorkflow(6, 31)), await submit(apiNode.url, smallWorkflow(7, 31))];
    const statuses = async () => Object.fromEntries((await api(apiNode.url, '/api/runs?limit=3')).body.runs.map((r: any) => [r.id, r.status]));
    // Both are handed to BullMQ (--dispatch 16), and both wait there for the one worker.
    expect(await statuses()).toEqual({ [long]: 'running', [waiting]: 'queued', [next]: 'queued' });
    expect((await api(apiNode.url, `/api/runs/${waiting}`)).body).toMatchObject({ startedAt: null, attempts: 0 });
    const cancel = await api(apiNode.url, `/api/runs/${waiting}/cancel`, { method: 'POST' });
    expect(cancel.body).toMatchObject({ result: 'cancelling', status: 'queued' });
    expect((await ws.next(isTerminal(waiting), 10_000)).type).toBe('run.cancelled');
    // Taken back from the queue while the worker was still busy with the long run.
    expect((await api(apiNode.url, `/api/runs/${long}`)).body.status).toBe('running');
    const cancelled = await waitForStatus(apiNode.url, waiting, ['cancelled'], 5_000);
    expect(Object.values(cancelled.nodes).map((n: any) => n.state)).toEqual(Object.values(cancelled.nodes).map(() => 'cancelled'));
    await api(apiNode.url, `/api/runs/${long}/cancel`, { method: 'POST' });
    await waitForStatus(apiNode.url, next, ['succeeded'], 30_000);
    expect(eventTypes(ws, waiting)).toEqual(['run.queued', 'run.cancelled']);
    expect(eventTypes(ws, next)[1]).toBe('run.started');
    await ws.close();
  }, 60_000);

  it('two workers run two runs at once: a short run finishes on one while a long one samples on the other', async () => {
    const second = await startWorkerProcess(['--queue', redis.url, '--data', data, '--models', path.join(data, 'models')], data);
    try {
      const ws = await WsClient.connect(apiNode.url, { query: '?all=1' });
      await ws.next((m) => m.type === 'subscribed');
      const long = await submit(apiNode.url, slowWorkflow(400, 9));
      await ws.next((m) => m.runId === long && m.type === 'node.progress', 30_000);
      const short = await submit(apiNode.url, smallWorkflow(10, 4));
      expect((await ws.next(isTerminal(short), 30_000)).type).toBe('run.finished');
      expect((await api(apiNode.url, `/api/runs/${long}`)).body.status).toBe('running');
      expect(ws.of(long).some((m) => m.type === 'run.finished')).toBe(false);
      await api(apiNode.url, `/api/runs/${long}/cancel`, { method: 'POST' });
      expect((await ws.next(isTerminal(long), 30_000)).type).toBe('run.cancelled');
      // Each run's events stayed in order although the two interleaved on the API node.
      for (const id of [long, short]) {
        const seqs = ws.of(id).filter((m) => typeof m.seq === 'number').map((m) => m.seq);
        expect(seqs).toEqual(seqs.map((_: number, i: number) => i + 1));
      }
      await ws.close();
    } finally {
      await stop(second);
    }
  }, 60_000);

  it('an upload to the API node is read by the worker, and its preview reaches the API node\'s WebSocket as the same binary frame', async () => {
    const png = new PNG({ width: 8, height: 6 });
    for (let i = 0; i < 48; i++) png.data.set([255, i * 5, 0, 255], 4 * i);
    const upload = await api(apiNode.url, '/api/uploads', { method: 'POST', body: PNG.sync.write(png) });
    const ws = await WsClient.connect(apiNode.url, { query: '?all=1' });
    await ws.next((m) => m.type === 'subscribed');
    const runId = await submit(apiNode.url, {
      format: 'diffgraph/workflow@1',
      nodes: {
        load: { type: 'LoadImage', inputs: { path: upload.body.name } },
        preview: { type: 'PreviewImage', inputs: { images: { from: 'load', output: 'image' } } },
      },
      outputs: ['preview'],
    });
    const frame = await ws.next((m) => m.binary !== undefined, 30_000);
    const { header, image } = parsePreviewFrame(frame.binary);
    expect(header).toMatchObject({ type: 'node.preview', runId, nodeId: 'preview', mime: 'image/png', width: 8, height: 6, index: 0 });
    const decoded = PNG.sync.read(image);
    expect([...decoded.data.subarray(0, 4)]).toEqual([255, 0, 0, 255]);
    expect((await ws.next(isTerminal(runId), 30_000)).type).toBe('run.finished');
    await ws.close();
  }, 60_000);

  it('serve --queue --local-worker runs the runs in the API node\'s own process, with no other worker; /api/health reports its Redis', async () => {
    const ownRedis = await startRedis();
    const ownData = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-local-'));
    const node = await serve(['--data', ownData, '--models', path.join(ownData, 'models'), '--queue', ownRedis.url, '--local-worker']);
    try {
      const runId = await submit(node.url, smallWorkflow(8, 4));
      const run = await waitForStatus(node.url, runId, ['succeeded', 'failed'], 30_000);
      expect(run.status).toBe('succeeded');
      expect((await fetch(`${node.url}${run.results.save.values.path.url}`)).status).toBe(200);
      const dispatchHealth = async () => (await api(node.url, '/api/health')).body.queue.dispatch;
      expect(await dispatchHealth()).toEqual({ kind: 'bullmq', url: ownRedis.url, connected: true, slots: 16, dispatched: 0 });
    } finally {
      await stop(node.child);
      await ownRedis.stop();
    }
  }, 60_000);

  it('kill -9 of the worker mid-run: another worker takes the run over, it succeeds once, with one set of files and the retry in its history', async () => {
    const ownRedis = await startRedis();
    const ownData = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-kill-'));
    const node = await serve(['--data', ownData, '--queue', ownRedis.url]);
    const workerArgs = ['--queue', ownRedis.url, '--data', ownData, '--lock-seconds', '2'];
    const first = await startWorkerProcess(workerArgs, ownData);
    let second: ChildProcess | undefined;
    try {
      const ws = await WsClient.connect(node.url, { query: '?all=1' });
      await ws.next((m) => m.type === 'subscribed');
      const runId = await submit(node.url, slowWorkflow(120, 13));
      await ws.next((m) => m.runId === runId && m.type === 'node.progress' && m.value >= 2, 30_000);
      second = await startWorkerProcess(workerArgs, ownData);
      await killHard(first);
      const end = await ws.next(isTerminal(runId), 60_000);
      expect(end.type).toBe('run.finished');
      const { run, log } = await expectSucceededOnceOnSecondAttempt(node.url, ownData, runId);
      expect(run.interruptions).toBe(1);
      expect(log.filter((t: string) => t === 'run.interrupted')).toHaveLength(1);
      expect(log.at(-1)).toBe('run.finished');
      await ws.close();
    } finally {
      await Promise.all([stop(node.child), killHard(first), second && stop(second)]);
      await ownRedis.stop();
    }
  }, 90_000);

  it('SIGTERM on a worker: it takes no new run, lets the current one finish and be reported, then exits 0', async () => {
    const ownRedis = await startRedis();
    const ownData = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-drain-'));
    const node = await serve(['--data', ownData, '--queue', ownRedis.url]);
    const workerArgs = ['--queue', ownRedis.url, '--data', ownData];
    const first = await startWorkerProcess(workerArgs, ownData);
    let second: ChildProcess | undefined;
    try {
      const ws = await WsClient.connect(node.url, { query: '?all=1' });
      await ws.next((m) => m.type === 'subscribed');
      const runId = await submit(node.url, slowWorkflow(120, 17));
      await ws.next((m) => m.runId === runId && m.type === 'node.progress' && m.value >= 2, 30_000);
      const exited = new Promise<number | null>((resolve) => first.once('exit', (code) => resolve(code)));
      first.kill('SIGTERM');
      const later = await submit(node.url, smallWorkflow(14, 4));
      expect((await ws.next(isTerminal(runId), 60_000)).type).toBe('run.finished');
      expect(await exited).toBe(0);
      const run = (await api(node.url, `/api/runs/${runId}`)).body;
      expect(run).toMatchObject({ status: 'succeeded', attempts: 1, interruptions: 0 });
      expect(readdirSync(path.join(ownData, 'outputs', runId))).toHaveLength(1);
      // The draining worker took nothing more: the run submitted meanwhile waits for the next worker.
      expect(ws.of(later).some((m) => m.type === 'run.started')).toBe(false);
      second = await startWorkerProcess(workerArgs, ownData);
      expect((await ws.next(isTerminal(later), 30_000)).type).toBe('run.finished');
      await ws.close();
    } finally {
      await Promise.all([stop(node.child), killHard(first), second && stop(second)]);
      await ownRedis.stop();
    }
  }, 90_000);

  it.each([
    ['past --grace-seconds', ['--grace-seconds', '1']],
    ['on a second SIGTERM', []],
  ])('SIGTERM on a worker, %s: the run is handed back, resumes on another worker and succeeds once, with one set of files', async (_when, graceArgs) => {
    const ownRedis = await startRedis();
    const ownData = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-handback-'));
    const node = await serve(['--data', ownData, '--queue', ownRedis.url]);
    const first = await startWorkerProcess(['--queue', ownRedis.url, '--data', ownData, ...graceArgs], ownData);
    let second: ChildProcess | undefined;
    try {
      const ws = await WsClient.connect(node.url, { query: '?all=1' });
      await ws.next((m) => m.type === 'subscribed');
      const runId = await submit(node.url, slowWorkflow(400, 19));
      await ws.next((m) => m.runId === runId && m.type === 'node.progress' && m.value >= 2, 30_000);
      const exited = new Promise<number | null>((resolve) => first.once('exit', (code) => resolve(code)));
      const draining = new Promise<void>((resolve) => first.stderr!.on('data', (c) => /shutting down/.test(String(c)) && resolve()));
      first.kill('SIGTERM');
      if (graceArgs.length === 0) {
        await draining;
        first.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      // Handed back, not ended: the API node still has it running, nothing terminal was reported.
      expect(ws.of(runId).some(isTerminal(runId))).toBe(false);
      expect((await api(node.url, `/api/runs/${runId}`)).body.status).toBe('running');
      second = await startWorkerProcess(['--queue', ownRedis.url, '--data', ownData], ownData);
      expect((await ws.next(isTerminal(runId), 90_000)).type).toBe('run.finished');
      const { log } = await expectSucceededOnceOnSecondAttempt(node.url, ownData, runId);
      expect(log.filter((t: string) => ['run.finished', 'run.failed', 'run.cancelled'].includes(t))).toEqual(['run.finished']);
      await ws.close();
    } finally {
      await Promise.all([stop(node.child), killHard(first), second && stop(second)]);
      await ownRedis.stop();
    }
  }, 120_000);

  it('GET /api/workers lists a worker idle with its device, running a run with its id, its runs done, and drops it when it exits', async () => {
    const ownRedis = await startRedis();
    const ownData = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-workers-'));
    const node = await serve(['--data', ownData, '--queue', ownRedis.url]);
    const worker = await startWorkerProcess(['--queue', ownRedis.url, '--data', ownData, '--device', 'cpu'], ownData);
    const workers = async () => {
      const r = await api(node.url, '/api/workers');
      expect(r.status).toBe(200);
      expect(r.body.mode).toBe('scale-out');
      return r.body.workers as any[];
    };
    const until = async (check: (list: any[]) => boolean) => {
      for (let i = 0; i < 300; i++) {
        const list = await workers();
        if (check(list)) return list;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`GET /api/workers never matched: ${JSON.stringify(await workers())}`);
    };
    try {
      const [idle] = await workers();
      expect(await workers()).toHaveLength(1);
      expect(idle).toMatchObject({ state: 'idle', runs: [], device: 'cpu', models: [], concurrency: 1, runsDone: 0, pid: worker.pid });
      expect(idle.heartbeatAt).toBeGreaterThanOrEqual(idle.startedAt);
      const ws = await WsClient.connect(node.url, { query: '?all=1' });
      await ws.next((m) => m.type === 'subscribed');
      const runId = await submit(node.url, slowWorkflow(400, 23));
      await ws.next((m) => m.runId === runId && m.type === 'node.progress', 30_000);
      expect((await workers())[0]).toMatchObject({ id: idle.id, state: 'running', runs: [runId], runsDone: 0 });
      await api(node.url, `/api/runs/${runId}/cancel`, { method: 'POST' });
      await ws.next(isTerminal(runId), 30_000);
      const [after] = await until((list) => list[0]?.runsDone === 1);
      expect(after).toMatchObject({ id: idle.id, state: 'idle', runs: [] });
      const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
      worker.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(await workers()).toEqual([]);
      await ws.close();
    } finally {
      await Promise.all([stop(node.child), killHard(worker)]);
      await ownRedis.stop();
    }
  }, 90_000);

  it('a job BullMQ gives up (its processing failed) fails the run on the API node instead of leaving it running', async () => {
    const ownRedis = await startRedis();
    const ownData = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-fail-'));
    const node = await serve(['--data', ownData, '--queue', ownRedis.url]);
    // A processor that throws stands for any failure BullMQ records against the job (a second stall alike).
    const failing = new Worker(QUEUE_NAME, async () => {
      throw new Error('the processor broke');
    }, { connection: { host: '127.0.0.1', port: ownRedis.port, maxRetriesPerRequest: null } });
    try {
      const runId = await submit(node.url, smallWorkflow(12, 4));
      const run = await waitForStatus(node.url, runId, ['failed', 'succeeded'], 30_000);
      expect(run.status).toBe('failed');
      expect(run.error).toContain('the queue gave the run up: the processor broke');
      expect(run.results.save).toMatchObject({ status: 'failed' });
    } finally {
      await failing.close();
      await stop(node.child);
      await ownRedis.stop();
    }
  }, 60_000);

  it('bad --queue URLs, --local-worker or --dispatch without --queue, and bad counts are usage errors (exit 2), never a stack trace', async () => {
    const cwd = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-usage-'));
    for (const args of [['serve', '--port', '0', '--queue', 'http://127.0.0.1:6379'], ['serve', '--port', '0', '--local-worker'], ['serve', '--port', '0', '--dispatch', '2'], ['serve', '--port', '0', '--queue', redis.url, '--dispatch', '0'], ['worker', '--queue', 'not a url'], ['worker', '--queue', redis.url, '--concurrency', '0'], ['worker', '--queue', redis.url, '--lock-seconds', '0'], ['worker', '--queue', redis.url, '--grace-seconds', 'soon'], ['worker']]) {
      const r = await cli([...args, '--data', cwd], cwd);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
    }
  }, 60_000);

  it('the test Redis with an append-only file keeps what was written across a restart (for the restart tests)', async () => {
    const persistent = await startRedis({ persistent: true });
    const client = new Redis(persistent.url, { lazyConnect: true, maxRetriesPerRequest: null });
    await client.connect();
    await client.set('diffgraph:probe', 'kept');
    await persistent.stop();
    await persistent.start();
    await client.ping();
    expect(await client.get('diffgraph:probe')).toBe('kept');
    client.disconnect();
    await persistent.stop();
    removeRedisDir(persistent);
  }, 30_000);
});
