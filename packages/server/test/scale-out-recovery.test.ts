/**
 * Scale-out failures beyond a worker's: the API node killed or stopped mid-run, Redis restarted (with and
 * without persistence), a run that outlives --max-takeovers; and a worker with --concurrency 2.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { eventsKey, QUEUE_NAME } from '../src/scale-out/wire.ts';
import { api, slowWorkflow, submit, tempServer, waitFor, waitForStatus, WsClient } from './helpers.ts';
import { redisSkipReason, removeRedisDir, startRedis, type TestRedis } from './redis.ts';
import { isTerminal, startWorkerProcess } from './scale-out-helpers.ts';
import { killHard, serve, stop } from './subprocess.ts';

/** What a cluster test started, stopped whatever happens to the test. */
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => {});
  cleanup = [];
});

async function cluster(options: { persistent?: boolean; workerArgs?: string[] } = {}) {
  const redis = await startRedis({ persistent: options.persistent ?? false });
  cleanup.push(async () => {
    await redis.stop();
    removeRedisDir(redis);
  });
  const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-recovery-'));
  const serveArgs = ['--data', data, '--queue', redis.url];
  const startApi = async () => {
    const node = await serve(serveArgs);
    cleanup.push(() => killHard(node.child));
    return node;
  };
  const startWorker = async (extra: string[] = []) => {
    const worker = await startWorkerProcess(['--queue', redis.url, '--data', data, ...(options.workerArgs ?? []), ...extra], data);
    cleanup.push(() => killHard(worker));
    return worker;
  };
  return { redis, data, startApi, startWorker };
}

/** The types in a run's recorded event log, and checks that its sequence numbers have no gap and no repeat. */
async function loggedTypes(url: string, runId: string): Promise<string[]> {
  const events = (await api(url, `/api/runs/${runId}/events`)).body.events as { seq: number; type: string }[];
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  return events.map((e) => e.type);
}

/** Resolves once the run's stream in Redis ends with its terminal event (its worker finished it). */
async function untilStreamEnds(redis: TestRedis, runId: string): Promise<void> {
  const client = new Redis(redis.url, { maxRetriesPerRequest: null });
  try {
    for (let i = 0; i < 600; i++) {
      const [last] = (await client.xrevrange(eventsKey(runId), '+', '-', 'COUNT', 1)) as [string, string[]][];
      if (last && /"type":"run\.(finished|failed|cancelled)"/.test(last[1][1])) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`run ${runId} never ended on its worker`);
  } finally {
    client.disconnect();
  }
}

async function progressed(ws: WsClient, runId: string, value = 2): Promise<void> {
  await ws.next((m) => m.runId === runId && m.type === 'node.progress' && m.value >= value, 30_000);
}

async function watch(url: string): Promise<WsClient> {
  const ws = await WsClient.connect(url, { query: '?all=1' });
  await ws.next((m) => m.type === 'subscribed');
  cleanup.push(() => ws.close());
  return ws;
}

describe.skipIf(redisSkipReason)(`scale-out recovery${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`, () => {
  it('kill -9 of the API node mid-run: the worker finishes meanwhile, and the restarted API node records the run once, every event in order, none twice', async () => {
    const c = await cluster();
    let node = await c.startApi();
    await c.startWorker();
    const ws = await watch(node.url);
    const runId = await submit(node.url, slowWorkflow(60, 29));
    await progressed(ws, runId);
    await killHard(node.child);
    await untilStreamEnds(c.redis, runId);
    node = await c.startApi();
    const run = await waitForStatus(node.url, runId, ['succeeded', 'failed', 'cancelled', 'interrupted'], 30_000);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1, interruptions: 0 });
    // The log of the same run on a single machine where nothing failed.
    const embedded = await tempServer();
    cleanup.push(() => embedded.close());
    const reference = await submit(embedded.url, slowWorkflow(60, 29));
    await waitForStatus(embedded.url, reference, ['succeeded'], 30_000);
    expect(await loggedTypes(node.url, runId)).toEqual(await loggedTypes(embedded.url, reference));
    expect(readdirSync(path.join(c.data, 'outputs', runId))).toHaveLength(1);
    expect((await fetch(`${node.url}${run.results.save.values.path.url}`)).status).toBe(200);
  }, 120_000);

  it('SIGTERM on the API node mid-run: the run is neither cancelled nor re-queued; it goes on on its worker and the restarted node streams the rest of it', async () => {
    const c = await cluster();
    let node = await c.startApi();
    await c.startWorker();
    let ws = await watch(node.url);
    const runId = await submit(node.url, slowWorkflow(250, 31));
    await progressed(ws, runId);
    await stop(node.child);
    node = await c.startApi();
    ws = await watch(node.url);
    // Live progress from the worker reaches a client of the new API node, then the end.
    const later = await ws.next((m) => m.runId === runId && m.type === 'node.progress', 30_000);
    expect(later.value).toBeGreaterThan(2);
    expect((await ws.next(isTerminal(runId), 60_000)).type).toBe('run.finished');
    const run = (await api(node.url, `/api/runs/${runId}`)).body;
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1, interruptions: 0 });
    const types = await loggedTypes(node.url, runId);
    expect(types.filter((t) => t === 'run.started')).toHaveLength(1);
    expect(types).not.toContain('run.interrupted');
    expect(types.at(-1)).toBe('run.finished');
  }, 120_000);

  it('Redis restarted mid-run (append-only file): the running run and one submitted while Redis was down both succeed, once each', async () => {
    const c = await cluster({ persistent: true });
    const node = await c.startApi();
    await c.startWorker();
    const ws = await watch(node.url);
    const running = await submit(node.url, slowWorkflow(200, 37));
    await progressed(ws, running);
    await c.redis.stop();
    // Accepted by the API node (SQLite), queued in BullMQ once Redis is back.
    const submitted = await submit(node.url, slowWorkflow(20, 41));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await c.redis.start();
    for (const id of [running, submitted]) {
      const run = await waitForStatus(node.url, id, ['succeeded', 'failed', 'cancelled', 'interrupted'], 90_000);
      expect(run, id).toMatchObject({ status: 'succeeded' });
      const types = await loggedTypes(node.url, id);
      expect(types.filter((t) => t === 'run.finished')).toHaveLength(1);
      expect(readdirSync(path.join(c.data, 'outputs', id))).toHaveLength(1);
    }
    expect((await api(node.url, '/api/health')).body.queue.dispatch.connected).toBe(true);
  }, 150_000);

  it('Redis restarted empty (no persistence) while a run waits: the API node queues it again and it succeeds', async () => {
    const c = await cluster();
    const node = await c.startApi();
    const runId = await submit(node.url, slowWorkflow(10, 43));
    // Dispatched, waiting in BullMQ for a worker: then Redis loses everything.
    const client = new Redis(c.redis.url, { maxRetriesPerRequest: null });
    await waitFor('the run\'s job in BullMQ', async () => ((await client.exists(`bull:${QUEUE_NAME}:${runId}`)) ? true : undefined), 30_000);
    client.disconnect();
    await c.redis.stop();
    await c.redis.start();
    await c.startWorker();
    const run = await waitForStatus(node.url, runId, ['succeeded', 'failed', 'cancelled', 'interrupted'], 60_000);
    expect(run).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect(node.stderr()).toMatch(/no longer in the queue .*queueing it again/);
  }, 120_000);

  it('--max-takeovers 0: a run whose worker dies is not taken over; it fails with the reason instead of staying running', async () => {
    const c = await cluster({ workerArgs: ['--lock-seconds', '2', '--max-takeovers', '0'] });
    const node = await c.startApi();
    const first = await c.startWorker();
    const ws = await watch(node.url);
    const runId = await submit(node.url, slowWorkflow(400, 47));
    await progressed(ws, runId);
    await c.startWorker();
    await killHard(first);
    const run = await waitForStatus(node.url, runId, ['succeeded', 'failed', 'cancelled', 'interrupted'], 60_000);
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/the queue gave the run up: .*stalled/);
    expect((await loggedTypes(node.url, runId)).filter((t) => t === 'run.started')).toHaveLength(1);
  }, 120_000);

  it('--concurrency 2: one worker runs two runs at the same time, both succeed, and it lists both while they run', async () => {
    const c = await cluster({ workerArgs: ['--concurrency', '2'] });
    const node = await c.startApi();
    await c.startWorker();
    const ws = await watch(node.url);
    const ids = [await submit(node.url, slowWorkflow(80, 53)), await submit(node.url, slowWorkflow(80, 59))];
    await Promise.all(ids.map((id) => progressed(ws, id, 1)));
    // Both sample before either has ended.
    expect(ids.map((id) => ws.of(id).some(isTerminal(id)))).toEqual([false, false]);
    const [worker] = (await api(node.url, '/api/workers')).body.workers;
    expect(worker).toMatchObject({ concurrency: 2, state: 'running' });
    expect([...worker.runs].sort()).toEqual([...ids].sort());
    for (const id of ids) expect((await ws.next(isTerminal(id), 60_000)).type).toBe('run.finished');
    // Sharing one executor kept them apart: the same results and files as each run alone on one machine.
    const embedded = await tempServer();
    cleanup.push(() => embedded.close());
    for (const [i, seed] of [53, 59].entries()) {
      const alone = await waitForStatus(embedded.url, await submit(embedded.url, slowWorkflow(80, seed)), ['succeeded'], 60_000);
      const run = (await api(node.url, `/api/runs/${ids[i]}`)).body;
      expect(JSON.stringify(run.results).replaceAll(ids[i], 'ID')).toBe(JSON.stringify(alone.results).replaceAll(alone.id, 'ID'));
      const bytes = async (url: string, r: any) => Buffer.from(await (await fetch(`${url}${r.results.save.values.path.url}`)).arrayBuffer());
      expect((await bytes(node.url, run)).equals(await bytes(embedded.url, alone))).toBe(true);
    }
  }, 120_000);
});
