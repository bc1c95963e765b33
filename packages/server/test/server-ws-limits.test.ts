/**
 * What one WebSocket client can make the server hold: every send path (replies, paged replays,
 * run.state, live events) goes through the same limits, and a client that will not read is closed
 * with code 4008. The limits are small here so the test moves little data.
 */
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { WebSocket } from 'ws';
import type { RunningServer } from '../src/server.ts';
import { CLOSE_TOO_SLOW } from '../src/ws-client.ts';
import { api, submit, tempServer, waitFor, waitForStatus, WsClient } from './helpers.ts';

const LIMITS = { replayPageEvents: 16, maxSubscriptions: 8 };
/** For the client that does not read: small buffers, and a ping unanswered for a second closes it. */
const FLOOD_LIMITS = { slowBytes: 256 * 1024, maxBufferedBytes: 2 * 1024 ** 2, pingTimeoutMs: 1000 };
const NOISE_NODES = 200;

const noiseOutputs = Array.from({ length: NOISE_NODES }, (_, i) => `noise_${i}`);
/** NOISE_NODES independent nodes, all computed: two recorded events each. */
const noiseWorkflow = (firstSeed: number) => ({
  format: 'diffgraph/workflow@1',
  nodes: Object.fromEntries(noiseOutputs.map((id, i) => [id, { type: 'RandomNoise', inputs: { seed: firstSeed + i } }])),
});

let server: RunningServer;
let base: string;
let floodServer: RunningServer;
/** A finished run with 400+ recorded events (two per node, and run.finished with 200 results), on each server. */
let bigRun: string;
let floodRun: string;

async function bigRunOn(url: string): Promise<string> {
  const runId = await submit(url, noiseWorkflow(0), { outputs: noiseOutputs });
  await waitForStatus(url, runId, ['succeeded']);
  return runId;
}

beforeAll(async () => {
  [server, floodServer] = await Promise.all([tempServer({ wsLimits: LIMITS }), tempServer({ wsLimits: FLOOD_LIMITS })]);
  base = server.url;
  [bigRun, floodRun] = await Promise.all([bigRunOn(base), bigRunOn(floodServer.url)]);
});
afterAll(() => Promise.all([server.close(), floodServer.close()]));

/** A client, and the server's side of its connection. */
async function connectWithServerSide(on: RunningServer): Promise<{ client: WsClient; serverSide: WebSocket }> {
  const before = new Set(on.hub.wss.clients);
  const client = await WsClient.connect(on.url);
  const serverSide = await waitFor('the server to see the connection', () => [...on.hub.wss.clients].find((ws) => !before.has(ws)));
  return { client, serverSide };
}

const recordedOf = (messages: any[], runId: string) => messages.filter((m) => m.runId === runId && typeof m.seq === 'number').map((m) => m.seq);

describe('WebSocket limits', () => {
  it('a client that floods subscribe {after: 0} and never reads stays bounded and is closed with 4008', async () => {
    const logged = (await api(floodServer.url, `/api/runs/${floodRun}/events`)).body.events.length;
    expect(logged).toBeGreaterThan(2 * NOISE_NODES);
    const { client, serverSide } = await connectWithServerSide(floodServer);
    onTestFinished(() => client.ws.terminate());
    client.ws.pause();
    let maxBuffered = 0;
    const sample = () => (maxBuffered = Math.max(maxBuffered, serverSide.bufferedAmount));
    const overLimit = () => maxBuffered > FLOOD_LIMITS.maxBufferedBytes;
    // Each subscribe asks for the whole log again (~100 KB for 60 bytes). What the kernel's socket
    // buffers do not take waits in the server: that must stay bounded, and as the client never reads,
    // it never answers the server's ping, so it is closed.
    const end = Date.now() + 20_000;
    let subscribes = 0;
    while (serverSide.readyState === serverSide.OPEN && !overLimit() && Date.now() < end) {
      for (let i = 0; i < 20; i++, subscribes++) client.send({ type: 'subscribe', runId: floodRun, after: 0 });
      await new Promise((r) => setTimeout(r, 2));
      sample();
    }
    await waitFor('the server to close the client that does not read', () => (sample(), serverSide.readyState !== serverSide.OPEN || overLimit() ? true : undefined), 10_000);
    expect(maxBuffered).toBeLessThanOrEqual(FLOOD_LIMITS.maxBufferedBytes);
    expect(serverSide.readyState).not.toBe(serverSide.OPEN);
    // Reading again, the client gets what was queued, then the close frame with the code and a reason.
    const closed = new Promise<{ code: number; reason: string }>((resolve) => client.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    client.ws.resume();
    const { code, reason } = await closed;
    expect(code).toBe(CLOSE_TOO_SLOW);
    expect(reason).toMatch(/^client too slow: /);
    // Repeated subscribes to a run being replayed share one replay: far less than one per subscribe.
    const replays = client.messages.filter((m) => m.type === 'run.state').length;
    expect(replays).toBeLessThan(subscribes / 4);
    // The server goes on serving others.
    const other = await WsClient.connect(floodServer.url);
    other.send({ type: 'ping' });
    await other.next((m) => m.type === 'pong');
    await other.close();
  }, 40_000);

  it('a paged replay delivers every recorded event exactly once, in order, then run.state', async () => {
    const logged = (await api(base, `/api/runs/${bigRun}/events`)).body.events.map((e: any) => e.seq);
    const client = await WsClient.connect(base);
    client.send({ type: 'subscribe', runId: bigRun, after: 0 });
    const state = await client.next((m) => m.type === 'run.state' && m.runId === bigRun);
    const before = client.messages.slice(0, client.messages.indexOf(state));
    expect(recordedOf(before, bigRun)).toEqual(logged);
    expect(state.run.status).toBe('succeeded');
    // From the middle of a page boundary on: exactly what follows.
    client.send({ type: 'subscribe', runId: bigRun, after: 40 });
    const second = await client.nextNew((m) => m.type === 'run.state' && m.runId === bigRun);
    const after40 = client.messages.slice(client.messages.indexOf(state) + 1, client.messages.indexOf(second));
    expect(recordedOf(after40, bigRun)).toEqual(logged.slice(40));
    await client.close();
  });

  it('a replay of a run that is still recording events, paged between them, delivers each event exactly once', async () => {
    // Subscribed mid-run: the rest of its 400 events are recorded while the replay pages through the log.
    const watcher = await WsClient.connect(base);
    watcher.send({ type: 'subscribe', clientId: 'paging' });
    await watcher.next((m) => m.type === 'subscribed');
    const client = await WsClient.connect(base);
    const runId = await submit(base, noiseWorkflow(1000), { outputs: noiseOutputs, clientId: 'paging' });
    await watcher.next((m) => m.runId === runId && m.seq >= 3 * LIMITS.replayPageEvents);
    client.send({ type: 'subscribe', runId, after: 0 });
    await client.next((m) => m.runId === runId && m.type === 'run.finished', 30_000);
    const log = (await api(base, `/api/runs/${runId}/events`)).body.events.map((e: any) => e.seq);
    expect(log.length).toBeGreaterThan(2 * NOISE_NODES);
    expect(recordedOf(client.messages, runId)).toEqual(log);
    expect(client.messages.filter((m) => m.type === 'run.state')).toHaveLength(1);
    expect(client.messages.find((m) => m.type === 'run.state').run.status).toBe('running');
    await Promise.all([client.close(), watcher.close()]);
  });

  it('one connection follows a bounded number of runs and clientIds', async () => {
    const client = await WsClient.connect(base);
    client.send({ type: 'subscribe', runId: bigRun, after: -1 });
    expect((await client.next((m) => m.type === 'error')).code).toBe('BAD_MESSAGE');
    client.messages.length = 0;
    for (let i = 0; i < LIMITS.maxSubscriptions; i++) client.send({ type: 'subscribe', clientId: `c${i}` });
    client.send({ type: 'subscribe', clientId: 'c0' });
    client.send({ type: 'subscribe', clientId: 'one-too-many' });
    const error = await client.next((m) => m.type === 'error');
    expect(error.code).toBe('TOO_MANY_SUBSCRIPTIONS');
    expect(client.messages.filter((m) => m.type === 'subscribed')).toHaveLength(LIMITS.maxSubscriptions + 1);
    await client.close();
  });
});
