import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePreviewFrame } from '../src/preview.ts';
import type { RunningServer } from '../src/server.ts';
import { api, slowWorkflow, smallWorkflow, submit, tempServer, waitForStatus, WsClient } from './helpers.ts';

let server: RunningServer;
let base: string;

beforeAll(async () => {
  server = await tempServer();
  base = server.url;
});
afterAll(() => server.close());

const isTerminal = (runId: string) => (m: any) => m.runId === runId && ['run.finished', 'run.failed', 'run.cancelled'].includes(m.type);

describe('WebSocket events', () => {
  it('two clients (one subscribed to all, one to the run) both see the run\'s events, with runId and nodeId', async () => {
    const all = await WsClient.connect(base, { query: '?all=1' });
    const other = await WsClient.connect(base);
    await all.next((m) => m.type === 'subscribed');
    // Hold the queue with a run so the watched one is still queued when the second client subscribes.
    const blocker = await submit(base, slowWorkflow(15, 1));
    const runId = await submit(base, smallWorkflow(11, 6));
    other.send({ type: 'subscribe', runId });
    const state = await other.next((m) => m.type === 'run.state' && m.runId === runId);
    expect(['queued', 'running']).toContain(state.run.status);
    await all.next(isTerminal(runId));
    await other.next(isTerminal(runId));
    const events = (c: WsClient) => c.of(runId).filter((m) => /^(run|node)\./.test(m.type) && m.type !== 'run.state');
    const typesAll = events(all).map((m) => m.type);
    expect(typesAll[0]).toBe('run.queued');
    expect(typesAll).toContain('run.started');
    expect(typesAll.filter((t) => t === 'node.progress').length).toBe(7);
    expect(typesAll.at(-1)).toBe('run.finished');
    // The second client subscribed after run.queued, and sees every later event the same.
    const typesOther = events(other).map((m) => m.type);
    expect(typesOther).toEqual(typesAll.slice(typesAll.length - typesOther.length));
    expect(typesOther).toContain('run.started');
    for (const m of events(all).filter((e) => e.type.startsWith('node.'))) expect(typeof m.nodeId).toBe('string');
    expect(all.of(blocker).map((m) => m.type)).toContain('run.queued');
    const finished = all.of(runId).at(-1);
    expect(finished.outputs.save.values.path.url).toMatch(new RegExp(`^/api/files/${runId}/`));
    await Promise.all([all.close(), other.close()]);
    await waitForStatus(base, blocker, ['succeeded']);
  });

  it('cancel: a queued run never starts; a running sampler stops within one step', async () => {
    const ws = await WsClient.connect(base, { query: '?all=1' });
    const running = await submit(base, slowWorkflow(1000, 2));
    const queued = await submit(base, smallWorkflow(12));
    await ws.next((m) => m.runId === running && m.type === 'node.progress' && m.nodeId === 'sample' && m.value >= 2);

    const cancelQueued = await api(base, `/api/runs/${queued}/cancel`, { method: 'POST' });
    expect(cancelQueued.body).toEqual({ id: queued, result: 'cancelled', status: 'cancelled' });
    expect((await api(base, `/api/runs/${queued}`)).body.status).toBe('cancelled');

    const progressBefore = ws.of(running).filter((m) => m.type === 'node.progress').length;
    const cancelRunning = await api(base, `/api/runs/${running}/cancel`, { method: 'POST' });
    expect(cancelRunning.status).toBe(202);
    expect(cancelRunning.body.result).toBe('cancelling');
    const cancelled = await ws.next(isTerminal(running), 10_000);
    expect(cancelled.type).toBe('run.cancelled');
    const progressAfter = ws.of(running).filter((m) => m.type === 'node.progress').length - progressBefore;
    expect(progressAfter).toBeLessThanOrEqual(1);
    const run = await api(base, `/api/runs/${running}`);
    expect(run.body.status).toBe('cancelled');
    expect(run.body.nodes.sample.state).toBe('cancelled');
    expect(run.body.nodes.sample.progress.value).toBeLessThan(1000);
    expect(ws.of(queued).map((m) => m.type)).toEqual(['run.queued', 'run.cancelled']);
    await ws.close();
  });

  it('a client that reconnects mid-run gets the current state, then the rest of the run (and can replay the log)', async () => {
    const runId = await submit(base, slowWorkflow(40, 3));
    const first = await WsClient.connect(base, { query: `?runId=${runId}` });
    await first.next((m) => m.type === 'node.progress' && m.runId === runId && m.nodeId === 'sample' && m.value >= 3);
    const seen = first.of(runId).filter((m) => typeof m.seq === 'number');
    const lastSeq = seen.at(-1)?.seq ?? 0;
    await first.close();

    const again = await WsClient.connect(base);
    again.send({ type: 'subscribe', runId, after: 1 });
    const state = await again.next((m) => m.type === 'run.state' && m.runId === runId);
    expect(state.run.status).toBe('running');
    expect(state.run.nodes.sample.state).toBe('running');
    expect(state.run.nodes.sample.progress.value).toBeGreaterThanOrEqual(3);
    expect(['finished', 'cached']).toContain(state.run.nodes.model.state);
    // Replayed from the event log: everything after seq 1, before the snapshot.
    const replayed = again.messages.slice(0, again.messages.indexOf(state)).filter((m) => m.runId === runId && typeof m.seq === 'number');
    expect(replayed[0].seq).toBe(2);
    expect(replayed.map((m) => m.seq)).toEqual(replayed.map((_, i) => i + 2));
    expect(replayed.at(-1).seq).toBeGreaterThanOrEqual(lastSeq);
    const done = await again.next(isTerminal(runId));
    expect(done.type).toBe('run.finished');
    await again.close();
  });

  it('previews arrive as binary frames: a JSON header and PNG bytes', async () => {
    const png = new PNG({ width: 8, height: 6 });
    for (let i = 0; i < 48; i++) png.data.set([255, i * 5, 0, 255], 4 * i);
    const upload = await api(base, '/api/uploads', { method: 'POST', body: PNG.sync.write(png) });
    const ws = await WsClient.connect(base, { query: '?all=1' });
    const runId = await submit(base, {
      format: 'diffgraph/workflow@1',
      nodes: {
        load: { type: 'LoadImage', inputs: { path: upload.body.name } },
        preview: { type: 'PreviewImage', inputs: { images: { from: 'load', output: 'image' } } },
      },
      outputs: ['preview'],
    });
    const frame = await ws.next((m) => m.binary !== undefined);
    const { header, image } = parsePreviewFrame(frame.binary);
    expect(header).toMatchObject({ type: 'node.preview', runId, nodeId: 'preview', mime: 'image/png', width: 8, height: 6, index: 0 });
    const decoded = PNG.sync.read(image);
    expect([decoded.width, decoded.height]).toEqual([8, 6]);
    expect([...decoded.data.subarray(0, 4)]).toEqual([255, 0, 0, 255]);
    await ws.next(isTerminal(runId));
    await ws.close();
  });

  it('bad messages get an error, not a disconnect', async () => {
    const ws = await WsClient.connect(base);
    ws.ws.send('not json');
    expect((await ws.next((m) => m.type === 'error')).code).toBe('BAD_MESSAGE');
    ws.send({ type: 'subscribe', runId: 'no-such-run' });
    expect((await ws.next((m) => m.type === 'error' && m.code === 'NOT_FOUND')).runId).toBe('no-such-run');
    ws.send({ type: 'ping' });
    await ws.next((m) => m.type === 'pong');
    await ws.close();
  });
});
