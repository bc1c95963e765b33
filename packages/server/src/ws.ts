/**
 * WS /api/events: clients subscribe to one run or to all; they get the executor's events as JSON text
 * frames and previews as binary frames (see preview.ts), and on subscribing, the run's current state
 * (`run.state`), so a client that reconnects resumes where the run is. Any client may watch any run.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HubMessage, RunManager } from './runs.ts';
import { AccessError, checkHost, checkOrigin, checkToken, type SecurityOptions } from './security.ts';

export const WS_PATH = '/api/events';
export const WS_PROTOCOL = 'diffgraph.v1';

/** Above this many buffered bytes a client gets no progress or previews until it catches up. */
const SLOW_CLIENT_BYTES = 4 * 1024 ** 2;
/** Above this a client is disconnected (it can reconnect and resubscribe: it gets the state again). */
const STUCK_CLIENT_BYTES = 64 * 1024 ** 2;
const DROPPABLE = new Set(['node.progress']);

interface Client {
  ws: WebSocket;
  all: boolean;
  runs: Set<string>;
  /** Follows every run submitted with one of these clientIds (subscribe before submitting: no event missed). */
  clientIds: Set<string>;
}

type ClientMessage =
  | { type: 'subscribe'; runId?: string; all?: boolean; clientId?: string; after?: number }
  | { type: 'unsubscribe'; runId?: string; all?: boolean; clientId?: string }
  | { type: 'ping' };

export class EventHub {
  readonly wss: WebSocketServer;
  private readonly clients = new Set<Client>();
  private readonly unsubscribe: () => void;

  constructor(private readonly manager: RunManager, private readonly security: SecurityOptions, private readonly maxMessageBytes = 64 * 1024) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: maxMessageBytes,
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    this.unsubscribe = manager.subscribe((m) => this.broadcast(m));
  }

  /** Hooks the upgrade of `server`; refuses other paths, wrong hosts, origins and tokens. */
  attach(server: Server): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      try {
        if (url.pathname !== WS_PATH) throw new AccessError(404, 'NOT_FOUND', `No WebSocket endpoint at ${url.pathname}; use ${WS_PATH}.`);
        checkHost(req, this.security);
        checkToken(req, this.security, true);
        checkOrigin(req, this.security);
      } catch (e) {
        const err = e instanceof AccessError ? e : new AccessError(400, 'BAD_REQUEST', String(e));
        const body = JSON.stringify({ errors: [{ nodeId: null, code: err.code, message: err.message }] });
        const reason = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[err.status] ?? 'Error';
        socket.end(`HTTP/1.1 ${err.status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    });
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    this.unsubscribe();
    for (const c of this.clients) c.ws.close(1001, 'server shutting down');
    this.wss.close();
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const client: Client = { ws, all: false, runs: new Set(), clientIds: new Set() };
    this.clients.add(client);
    ws.on('close', () => this.clients.delete(client));
    ws.on('error', () => this.clients.delete(client));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.send(client, { type: 'error', code: 'BAD_MESSAGE', message: 'Send JSON text messages.' });
      let msg: ClientMessage;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return this.send(client, { type: 'error', code: 'BAD_MESSAGE', message: 'Messages must be JSON.' });
      }
      this.onMessage(client, msg);
    });
    this.send(client, { type: 'hello', protocol: WS_PROTOCOL, running: this.manager.runningId ?? null });
    // Subscriptions in the URL: /api/events?runId=<id>&runId=<id2> or ?all=1.
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.searchParams.get('all') === '1') this.onMessage(client, { type: 'subscribe', all: true });
    for (const runId of url.searchParams.getAll('runId')) this.onMessage(client, { type: 'subscribe', runId });
  }

  private onMessage(client: Client, msg: ClientMessage): void {
    if (!msg || typeof msg !== 'object') return this.send(client, { type: 'error', code: 'BAD_MESSAGE', message: 'Messages must be JSON objects.' });
    switch (msg.type) {
      case 'ping':
        return this.send(client, { type: 'pong', time: Date.now() });
      case 'subscribe':
        if (msg.all === true) {
          client.all = true;
          this.send(client, { type: 'subscribed', all: true });
          for (const id of this.manager.activeRuns()) this.sendState(client, id);
          return;
        }
        if (typeof msg.clientId === 'string' && msg.clientId.length > 0 && msg.clientId.length <= 128) {
          client.clientIds.add(msg.clientId);
          return this.send(client, { type: 'subscribed', clientId: msg.clientId });
        }
        if (typeof msg.runId !== 'string') return this.send(client, { type: 'error', code: 'BAD_MESSAGE', message: 'subscribe needs "runId" (a string), "clientId" (a string) or "all": true.' });
        if (!this.manager.store.get(msg.runId)) return this.send(client, { type: 'error', code: 'NOT_FOUND', runId: msg.runId, message: `No run "${msg.runId}".` });
        client.runs.add(msg.runId);
        this.send(client, { type: 'subscribed', runId: msg.runId });
        if (typeof msg.after === 'number') for (const e of this.manager.events(msg.runId, msg.after)) this.send(client, e as Record<string, unknown>);
        this.sendState(client, msg.runId);
        return;
      case 'unsubscribe':
        if (msg.all === true) client.all = false;
        if (typeof msg.runId === 'string') client.runs.delete(msg.runId);
        if (typeof msg.clientId === 'string') client.clientIds.delete(msg.clientId);
        // Only echo strings: a client's arbitrary value (nested 30,000 deep) would overflow JSON.stringify.
        return this.send(client, { type: 'unsubscribed', ...(msg.all === true ? { all: true } : typeof msg.clientId === 'string' ? { clientId: msg.clientId } : typeof msg.runId === 'string' ? { runId: msg.runId } : {}) });
      default: {
        const type: unknown = (msg as { type?: unknown }).type;
        const shown = typeof type === 'string' ? `"${type.slice(0, 64)}"` : Array.isArray(type) ? 'an array' : typeof type;
        return this.send(client, { type: 'error', code: 'BAD_MESSAGE', message: `Unknown message type ${shown}; use subscribe, unsubscribe or ping.` });
      }
    }
  }

  private sendState(client: Client, runId: string): void {
    const run = this.manager.view(runId);
    if (run) this.send(client, { type: 'run.state', runId, run });
  }

  private send(client: Client, data: Record<string, unknown>): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    client.ws.send(JSON.stringify(data));
  }

  private broadcast(m: HubMessage): void {
    let text: string | undefined;
    for (const client of this.clients) {
      if (!client.all && !client.runs.has(m.runId) && !(m.clientId && client.clientIds.has(m.clientId))) continue;
      const ws = client.ws;
      if (ws.readyState !== ws.OPEN) continue;
      if (ws.bufferedAmount > STUCK_CLIENT_BYTES) {
        ws.terminate();
        continue;
      }
      const droppable = m.kind === 'binary' || DROPPABLE.has(m.data.type as string);
      if (droppable && ws.bufferedAmount > SLOW_CLIENT_BYTES) continue;
      if (m.kind === 'binary') ws.send(m.frame, { binary: true });
      else ws.send((text ??= JSON.stringify(m.data)));
      if (m.kind === 'json' && m.data.type === 'run.deleted') client.runs.delete(m.runId);
    }
  }
}
