/**
 * The scale-out promise under fire: an API node and 3 workers as child processes on loopback, 200 runs,
 * a random worker killed (-9) and replaced every second, and the API node itself killed mid-way and
 * restarted. Every accepted run must succeed exactly once, with one set of files downloadable through the
 * API node and nothing left in staging, and WebSocket clients must see each run's events in order.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, slowWorkflow, submit, waitFor, WsClient } from './helpers.ts';
import { redisSkipReason, startRedis } from './redis.ts';
import { startWorkerProcess } from './scale-out-helpers.ts';
import { killHard, serve, stop } from './subprocess.ts';

const RUNS = 200;
const WORKERS = 3;
const KILL_EVERY_MS = 1000;

describe.skipIf(redisSkipReason)(`scale-out chaos${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`, () => {
  it(`${RUNS} runs on ${WORKERS} workers killed -9 at random, and the API node killed -9 mid-way: each run succeeds once, in order, with one set of files`, async () => {
    const redis = await startRedis();
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-chaos-'));
    const serveArgs = ['--data', data, '--queue', redis.url];
    // A 2 s lock: a killed worker's run is taken over within seconds; enough takeovers for bad luck.
    const workerArgs = ['--queue', redis.url, '--data', data, '--lock-seconds', '2', '--max-takeovers', '50'];
    let node = await serve(serveArgs);
    const workers: ChildProcess[] = [];
    for (let i = 0; i < WORKERS; i++) workers.push(await startWorkerProcess(workerArgs, data));
    const clients: WsClient[] = [];
    const watch = async (url: string) => {
      const ws = await WsClient.connect(url, { query: '?all=1' });
      await ws.next((m) => m.type === 'subscribed');
      clients.push(ws);
    };
    let kills = 0;
    let killing = true;
    const killer = (async () => {
      while (killing) {
        await new Promise((resolve) => setTimeout(resolve, KILL_EVERY_MS));
        if (!killing) break;
        const i = Math.floor(Math.random() * WORKERS);
        await killHard(workers[i]);
        kills += 1;
        workers[i] = await startWorkerProcess(workerArgs, data);
      }
    })();
    const ids: string[] = [];
    try {
      await watch(node.url);
      for (let i = 0; i < RUNS / 2; i++) ids.push(await submit(node.url, slowWorkflow(5, 1000 + i)));
      // Mid-way: once some runs are done, the API node dies too, then comes back.
      await waitFor('some runs to finish', async () => ((await api(node.url, '/api/health')).body.queue.queued < RUNS / 2 - 20 ? true : undefined), 60_000);
      await killHard(node.child);
      await new Promise((resolve) => setTimeout(resolve, 500));
      node = await serve(serveArgs);
      await watch(node.url);
      for (let i = RUNS / 2; i < RUNS; i++) ids.push(await submit(node.url, slowWorkflow(5, 1000 + i)));
      const url = node.url;
      await waitFor('every run to end', async () => {
        const health = (await api(url, '/api/health')).body.queue;
        return health.queued === 0 && health.running === 0 ? true : undefined;
      }, 240_000);
    } finally {
      killing = false;
      await killer;
    }
    try {
      expect(kills).toBeGreaterThanOrEqual(5);
      let takenOver = 0;
      for (const runId of ids) {
        const run = (await api(node.url, `/api/runs/${runId}`)).body;
        expect(run.status, runId).toBe('succeeded');
        const log = (await api(node.url, `/api/runs/${runId}/events`)).body.events as { seq: number; type: string }[];
        expect(log.map((e) => e.seq)).toEqual(log.map((_, i) => i + 1));
        const types = log.map((e) => e.type);
        expect(types.filter((t) => t === 'run.finished'), runId).toHaveLength(1);
        expect(types.at(-1)).toBe('run.finished');
        expect(types.filter((t) => t === 'run.started')).toHaveLength(run.attempts);
        if (run.attempts > 1) takenOver += 1;
        expect(readdirSync(path.join(data, 'outputs', runId)), runId).toHaveLength(1);
        expect((await fetch(`${node.url}${run.results.save.values.path.url}`)).status).toBe(200);
        // Every client saw the run's recorded events it saw in the order of the log.
        for (const ws of clients) {
          const seen = ws.of(runId).filter((m) => typeof m.seq === 'number').map((m) => m.seq);
          expect(seen, runId).toEqual([...seen].sort((a, b) => a - b));
          expect(new Set(seen).size).toBe(seen.length);
        }
      }
      // The second client, on the restarted node, saw every event of the runs submitted to it.
      for (const runId of ids.slice(RUNS / 2)) {
        const logged = (await api(node.url, `/api/runs/${runId}/events`)).body.events.length;
        expect(clients[1].of(runId).filter((m) => typeof m.seq === 'number')).toHaveLength(logged);
      }
      expect(takenOver).toBeGreaterThan(0);
      const staging = path.join(data, 'staging');
      expect(existsSync(staging) ? readdirSync(staging) : []).toEqual([]);
    } finally {
      for (const ws of clients) await ws.close();
      await Promise.all([stop(node.child), ...workers.map((w) => killHard(w))]);
      await redis.stop();
    }
  }, 360_000);
});
