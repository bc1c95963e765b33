/** Test helpers: a real server on loopback (port 0) with a temporary data folder, and a real ws client. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { startServer, type RunningServer, type ServerOptions } from '../src/server.ts';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const labWorkflow = JSON.parse(readFileSync(path.join(repoRoot, 'workflows', 'gmm-solver-lab.json'), 'utf8'));

/** The solver lab with few steps and a small batch: a run takes milliseconds. */
export function smallWorkflow(seed = 42, steps = 4): any {
  const w = structuredClone(labWorkflow);
  w.nodes.schedule.inputs.steps = steps;
  w.nodes.latent.inputs.batch = 16;
  w.nodes.noise.inputs.seed = seed;
  return w;
}

/** A mixture of 64 components and a batch of 4096: about 20-50 ms a step here, so runs last long enough to watch. */
export function slowWorkflow(steps: number, seed = 7): any {
  const w = structuredClone(labWorkflow);
  const K = 64;
  w.nodes.model.inputs.mixture = {
    weights: Array(K).fill(1),
    means: Array.from({ length: K }, (_, i) => [Math.cos(i), Math.sin(i)]),
    stds: Array(K).fill(0.2),
  };
  w.nodes.schedule.inputs.steps = steps;
  w.nodes.latent.inputs.batch = 4096;
  w.nodes.noise.inputs.seed = seed;
  return w;
}

export async function tempServer(options: ServerOptions = {}): Promise<RunningServer & { dataDir: string }> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'diffgraph-srv-'));
  // No built editor unless a test asks for one: the placeholder page is what the header tests expect.
  const server = await startServer({ port: 0, dataDir, modelsDir: path.join(dataDir, 'models'), editorDir: path.join(dataDir, 'no-editor'), log: () => {}, ...options });
  return Object.assign(server, { dataDir });
}

export async function api(base: string, route: string, init: Omit<RequestInit, 'body'> & { body?: string | Uint8Array; json?: unknown } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const { json, body: payload, ...rest } = init;
  const res = await fetch(`${base}${route}`, {
    ...rest,
    ...(payload !== undefined ? { body: payload as BodyInit } : {}),
    ...(json !== undefined ? { method: rest.method ?? 'POST', body: JSON.stringify(json), headers: { 'Content-Type': 'application/json', ...(rest.headers as Record<string, string>) } } : {}),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body, headers: res.headers };
}

export async function submit(base: string, workflow: unknown, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await api(base, '/api/runs', { json: { workflow, ...extra } });
  if (r.status !== 202) throw new Error(`submit failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.runId;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function waitForStatus(base: string, runId: string, statuses: string[], timeoutMs = 20_000): Promise<any> {
  return waitFor(`run ${runId} to be ${statuses.join('/')}`, async () => {
    const r = await api(base, `/api/runs/${runId}`);
    return statuses.includes(r.body.status) ? r.body : undefined;
  }, timeoutMs);
}

/** A WebSocket client that records every message (JSON parsed; binary frames as Buffers). */
export class WsClient {
  readonly messages: any[] = [];
  readonly binary: Buffer[] = [];
  private waiters: { match: (m: any) => boolean; resolve: (m: any) => void }[] = [];
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        this.binary.push(data as Buffer);
        this.deliver({ binary: data });
        return;
      }
      const msg = JSON.parse(data.toString());
      this.messages.push(msg);
      this.deliver(msg);
    });
  }

  static async connect(base: string, options: { query?: string; headers?: Record<string, string>; protocols?: string[] } = {}): Promise<WsClient> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/events${options.query ?? ''}`, options.protocols ?? ['diffgraph.v1'], { headers: options.headers });
    const client = new WsClient(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return client;
  }

  private deliver(m: any): void {
    for (const w of [...this.waiters]) {
      if (w.match(m)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  send(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** The first message (already received or future) that matches. */
  next(match: (m: any) => boolean, timeoutMs = 20_000): Promise<any> {
    const seen = this.messages.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a WebSocket message')), timeoutMs);
      this.waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }

  /** Only future messages. */
  nextNew(match: (m: any) => boolean, timeoutMs = 20_000): Promise<any> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('timed out waiting for a WebSocket message')), timeoutMs);
      this.waiters.push({ match, resolve: (m) => { clearTimeout(timer); resolve(m); } });
    });
  }

  of(runId: string): any[] {
    return this.messages.filter((m) => m.runId === runId);
  }

  close(): Promise<void> {
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}
