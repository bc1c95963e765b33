/**
 * `diffgraph run --server URL`: submit a workflow to a server and stream its progress over the
 * WebSocket, reconnecting (and resuming from the last recorded event) if the connection drops.
 */
import { randomUUID } from 'node:crypto';
import { WebSocket } from 'ws';
import type { EngineEvent, ValidationError } from '@diffgraph/engine';
import { eventToJson, formatErrors } from './format.ts';
import { terminalReporter } from './progress.ts';

export interface RemoteRunOptions {
  server: string;
  token?: string;
  workflow: unknown;
  outputs?: string[];
  json?: boolean;
  label: string;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream;
}

export class RemoteError extends Error {}

const TERMINAL = new Set(['run.finished', 'run.failed', 'run.cancelled', 'run.deleted']);

function headers(token?: string): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

async function request(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new RemoteError(`cannot reach ${url}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
}

function describeOutputs(base: string, outputs: Record<string, any>): string {
  return Object.entries(outputs ?? {})
    .map(([id, r]) => {
      if (r.status === 'succeeded') {
        const isFile = (f: any) => f && typeof f === 'object' && typeof f.url === 'string';
        const values = Object.entries(r.values as Record<string, any>).map(([k, v]) => {
          if (isFile(v)) return `${k} = ${new URL(v.url, base).href}`;
          if (Array.isArray(v) && v.length > 0 && v.every(isFile)) return `${k} = ${v.map((f) => new URL(f.url, base).href).join(' ')}`;
          if (v && typeof v === 'object' && v.tensor) return `${k} = Tensor<${v.tensor.dtype}>[${v.tensor.shape.join('x')}]`;
          return `${k} = ${JSON.stringify(v)}`;
        });
        return `  ✓ ${id}: ${values.join(', ')}`;
      }
      if (r.status === 'failed') return `  ✗ ${id}: failed in node "${r.error?.nodeId}": ${r.error?.message}`;
      return `  – ${id}: cancelled`;
    })
    .join('\n');
}

/** Opens the event stream; resolves when the server confirms the subscription. */
function openStream(url: string, token: string | undefined, subscribe: object, onMessage: (msg: Record<string, any>) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, 'diffgraph.v1', { headers: headers(token) });
    let confirmed = false;
    ws.on('open', () => ws.send(JSON.stringify(subscribe)));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const msg = JSON.parse(data.toString()) as Record<string, any>;
      if (!confirmed && (msg.type === 'subscribed' || msg.type === 'error')) {
        confirmed = true;
        if (msg.type === 'error') reject(new RemoteError(`the server refused the subscription: ${msg.message}`));
        else resolve(ws);
      }
      onMessage(msg);
    });
    ws.on('unexpected-response', (_req, res) => reject(new RemoteError(`the server refused the event stream: HTTP ${res.statusCode}${res.statusCode === 401 ? ' (pass --token or set DIFFGRAPH_TOKEN)' : ''}`)));
    ws.on('error', (e) => reject(new RemoteError(`cannot reach ${url}: ${(e as NodeJS.ErrnoException).code ?? e.message}`)));
  });
}

/** Returns the exit code: 0 succeeded, 1 invalid or failed, 2 unreachable or refused, 130 cancelled. */
export async function runRemote(o: RemoteRunOptions): Promise<number> {
  const stdout = o.stdout ?? process.stdout;
  const stderr = o.stderr ?? process.stderr;
  const base = o.server.replace(/\/+$/, '');
  const wsUrl = `${base.replace(/^http/, 'ws')}/api/events`;
  const report = o.json ? (e: object) => stdout.write(`${eventToJson(e)}\n`) : terminalReporter(stderr);
  const clientId = `cli-${randomUUID()}`;

  let runId: string | undefined;
  let lastSeq = 0;
  const early: Record<string, any>[] = [];
  let settle!: (final: Record<string, any>) => void;
  const finished = new Promise<Record<string, any>>((resolve) => (settle = resolve));
  let done = false;
  const handle = (msg: Record<string, any>) => {
    if (done || typeof msg.type !== 'string') return;
    if (msg.type === 'run.state' && msg.runId === runId) {
      const run = msg.run as Record<string, any>;
      if (['succeeded', 'failed', 'cancelled', 'interrupted'].includes(run.status)) {
        done = true;
        settle({ type: `run.${run.status === 'succeeded' ? 'finished' : run.status}`, outputs: run.results ?? {}, message: run.error });
      }
      return;
    }
    if (!/^(run|node)\./.test(msg.type) || msg.type === 'run.state') return;
    if (runId === undefined) {
      early.push(msg);
      return;
    }
    if (msg.runId !== runId) return;
    if (typeof msg.seq === 'number') {
      if (msg.seq <= lastSeq) return;
      lastSeq = msg.seq;
    }
    report(msg as EngineEvent);
    if (TERMINAL.has(msg.type)) {
      done = true;
      settle(msg);
    }
  };

  // Subscribe to our clientId first, so not one event of the run is missed however fast it is.
  let ws: WebSocket;
  try {
    ws = await openStream(wsUrl, o.token, { type: 'subscribe', clientId }, handle);
  } catch (e) {
    stderr.write(`diffgraph: ${(e as Error).message}\n`);
    return 2;
  }
  let submit: Response;
  try {
    submit = await request(`${base}/api/runs`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...headers(o.token) },
      body: JSON.stringify({ workflow: o.workflow, ...(o.outputs ? { outputs: o.outputs } : {}), clientId }),
    });
  } catch (e) {
    ws.close();
    stderr.write(`diffgraph: ${(e as Error).message}\n`);
    return 2;
  }
  const body = (await submit.json().catch(() => ({}))) as { runId?: string; errors?: ValidationError[] };
  if (submit.status !== 202 || !body.runId) {
    ws.close();
    const errors = body.errors ?? [{ nodeId: null, code: 'HTTP_ERROR', message: `HTTP ${submit.status}` } as unknown as ValidationError];
    if (o.json) for (const error of errors) stdout.write(`${JSON.stringify({ type: 'validation.error', ...error })}\n`);
    else stderr.write(`${formatErrors(o.label, errors)}\n`);
    return submit.status === 400 || submit.status === 413 ? 1 : 2;
  }
  runId = body.runId;
  if (!o.json) stderr.write(`queued run ${runId} on ${base}\n`);
  for (const msg of early.splice(0)) handle(msg);

  let cancelRequested = false;
  const onInterrupt = () => {
    cancelRequested = true;
    void request(`${base}/api/runs/${runId}/cancel`, { method: 'POST', headers: headers(o.token) }).catch(() => {});
  };
  process.once('SIGINT', onInterrupt);
  // If the connection drops, reconnect and resume after the last recorded event.
  let lost = false;
  const watch = (socket: WebSocket) => socket.on('close', async () => {
    for (let attempt = 1; !done && attempt <= 20; attempt++) {
      await new Promise((r) => setTimeout(r, Math.min(250 * attempt, 2000)));
      try {
        watch(await openStream(wsUrl, o.token, { type: 'subscribe', runId, after: lastSeq }, handle));
        return;
      } catch {
        // retry
      }
    }
    if (!done) {
      lost = true;
      done = true;
      settle({ type: 'lost' });
    }
  });
  watch(ws);
  let final: Record<string, any>;
  try {
    final = await finished;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
  ws.removeAllListeners('close');
  ws.close();
  if (lost) {
    stderr.write(`diffgraph: lost the connection to ${base}; the run ${runId} goes on there (GET ${base}/api/runs/${runId}).\n`);
    return 2;
  }
  const status = final.type === 'run.finished' ? 'succeeded' : final.type === 'run.failed' ? 'failed' : final.type === 'run.interrupted' ? 'interrupted' : 'cancelled';
  if (!o.json) stdout.write(`${status}\n${describeOutputs(base, final.outputs ?? {})}\n`);
  if (status === 'succeeded') return 0;
  return status === 'cancelled' || cancelRequested ? 130 : 1;
}
