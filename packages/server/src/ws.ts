/**
 * WS /api/events: clients subscribe to one run or to all; they get the executor's events as JSON text
 * frames and previews as binary frames (see preview.ts), and on subscribing, the run's current state
 * (`run.state`), so a client that reconnects resumes where the run is. Any client may watch any run.
 * What reaches a client, and how much a slow or hostile one can make the server hold, is ws-client.ts.
 */
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { HubMessage, RunManager } from './runs.ts';
import { AccessError, checkHost, checkOrigin, checkToken, type SecurityOptions } from './security.ts';
import { DEFAULT_WS_LIMITS, HubClient, type ReplaySource, type WsLimits } from './ws-client.ts';

export const WS_PATH = '/api/events';
export const WS_PROTOCOL = 'diffgraph.v1';

const DROPPABLE = new Set(['node.progress']);
const SHUTDOWN_GRACE_MS = 1000;

type ClientMessage =
  | { type: 'subscribe'; runId?: string; all?: boolean; clientId?: string; after?: number }
  | { type: 'unsubscribe'; runId?: string; all?: boolean; clientId?: string }
  | { type: 'ping' };

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface EventHubOptions {
  /** The largest client message accepted (default 64 KiB). */
  maxMessageBytes?: number;
  limits?: Partial<WsLimits>;
}

export class EventHub {
  readonly wss: WebSocketServer;
  readonly limits: WsLimits;
  private readonly clients = new Set<HubClient>();
  private readonly unsubscribe: () => void;
  private readonly source: ReplaySource;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly manager: RunManager, private readonly security: SecurityOptions, options: EventHubOptions = {}) {
    this.limits = { ...DEFAULT_WS_LIMITS, ...options.limits };
    this.source = {
      events: (runId, after, limit) => manager.events(runId, after, limit),
      lastSeq: (runId) => manager.store.lastEventSeq(runId),
      state: (runId) => manager.view(runId),
    };
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes ?? 64 * 1024,
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    });
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    this.unsubscribe = manager.subscribe((m) => this.broadcast(m));
    this.heartbeat = setInterval(() => {
      for (const c of this.clients) c.heartbeat();
    }, this.limits.pingTimeoutMs).unref();
  }

  /**
   * Hooks the upgrade of `server`: WS_PATH here, the paths of `others` (ComfyUI's /ws) there, after the
   * same Host, token and Origin checks; refuses other paths.
   */
  attach(server: Server, others: Record<string, UpgradeHandler> = {}): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const other = Object.hasOwn(others, url.pathname) ? others[url.pathname] : undefined;
      try {
        if (url.pathname !== WS_PATH && !other) throw new AccessError(404, 'NOT_FOUND', `No WebSocket endpoint at ${url.pathname}; use ${WS_PATH}.`);
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
      if (other) return other(req, socket, head);
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
    });
  }

  get size(): number {
    return this.clients.size;
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    for (const c of this.clients) c.ws.close(1001, 'server shutting down');
    // A client that does not answer the close frame (it is not reading) must not hold up the shutdown.
    setTimeout(() => {
      for (const c of this.clients) c.ws.terminate();
    }, SHUTDOWN_GRACE_MS).unref();
    this.wss.close();
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const client = new HubClient(ws, this.limits, this.source);
    this.clients.add(client);
    const drop = () => {
      client.dispose();
      this.clients.delete(client);
    };
    ws.on('close', drop);
    ws.on('error', drop);
    ws.on('message', (data, isBinary) => {
      if (!client.open) return;
      if (isBinary) return this.reply(client, { type: 'error', code: 'BAD_MESSAGE', message: 'Send JSON text messages.' });
      let msg: ClientMessage;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return this.reply(client, { type: 'error', code: 'BAD_MESSAGE', message: 'Messages must be JSON.' });
      }
      this.onMessage(client, msg);
    });
    this.reply(client, { type: 'hello', protocol: WS_PROTOCOL, running: this.manager.runningId ?? null });
    // Subscriptions in the URL: /api/events?runId=<id>&runId=<id2> or ?all=1.
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.searchParams.get('all') === '1') this.onMessage(client, { type: 'subscribe', all: true });
    for (const runId of url.searchParams.getAll('runId')) this.onMessage(client, { type: 'subscribe', runId });
  }

  private onMessage(client: HubClient, msg: ClientMessage): void {
    if (!msg || typeof msg !== 'object') return this.reply(client, { type: 'error', code: 'BAD_MESSAGE', message: 'Messages must be JSON objects.' });
    switch (msg.type) {
      case 'ping':
        return this.reply(client, { type: 'pong', time: Date.now() });
      case 'subscribe':
        return this.onSubscribe(client, msg);
      case 'unsubscribe':
        if (msg.all === true) client.all = false;
        if (typeof msg.runId === 'string') client.forget(msg.runId);
        if (typeof msg.clientId === 'string') client.clientIds.delete(msg.clientId);
        // Only echo strings: a client's arbitrary value (nested 30,000 deep) would overflow JSON.stringify.
        return this.reply(client, { type: 'unsubscribed', ...(msg.all === true ? { all: true } : typeof msg.clientId === 'string' ? { clientId: msg.clientId } : typeof msg.runId === 'string' ? { runId: msg.runId } : {}) });
      default: {
        const type: unknown = (msg as { type?: unknown }).type;
        const shown = typeof type === 'string' ? `"${type.slice(0, 64)}"` : Array.isArray(type) ? 'an array' : typeof type;
        return this.reply(client, { type: 'error', code: 'BAD_MESSAGE', message: `Unknown message type ${shown}; use subscribe, unsubscribe or ping.` });
      }
    }
  }

  private onSubscribe(client: HubClient, msg: Extract<ClientMessage, { type: 'subscribe' }>): void {
    if (msg.all === true) {
      client.all = true;
      this.reply(client, { type: 'subscribed', all: true });
      for (const id of this.manager.activeRuns()) client.replay(id);
      return;
    }
    const clientId = typeof msg.clientId === 'string' && msg.clientId.length > 0 && msg.clientId.length <= 128 ? msg.clientId : undefined;
    if (clientId === undefined && typeof msg.runId !== 'string') return this.reply(client, { type: 'error', code: 'BAD_MESSAGE', message: 'subscribe needs "runId" (a string), "clientId" (a string) or "all": true.' });
    const known = clientId !== undefined ? client.clientIds.has(clientId) : client.runs.has(msg.runId!);
    if (!known && client.subscriptionCount >= this.limits.maxSubscriptions) {
      return this.reply(client, { type: 'error', code: 'TOO_MANY_SUBSCRIPTIONS', message: `One connection follows at most ${this.limits.maxSubscriptions} runs and clientIds; unsubscribe from some, or use "all": true.` });
    }
    if (clientId !== undefined) {
      client.clientIds.add(clientId);
      return this.reply(client, { type: 'subscribed', clientId });
    }
    const runId = msg.runId!;
    if (msg.after !== undefined && !(Number.isInteger(msg.after) && msg.after >= 0)) return this.reply(client, { type: 'error', code: 'BAD_MESSAGE', runId, message: '"after" must be a non-negative integer (the last seq the client has).' });
    if (!this.manager.store.get(runId)) return this.reply(client, { type: 'error', code: 'NOT_FOUND', runId, message: `No run "${runId}".` });
    client.runs.add(runId);
    this.reply(client, { type: 'subscribed', runId });
    client.replay(runId, msg.after);
  }

  private reply(client: HubClient, data: Record<string, unknown>): void {
    client.sendJson(data);
  }

  private broadcast(m: HubMessage): void {
    let text: Buffer | undefined;
    const recorded = m.kind === 'json' && typeof m.data.seq === 'number';
    const droppable = m.kind === 'binary' || DROPPABLE.has(m.data.type as string);
    for (const client of this.clients) {
      if (!client.follows(m.runId, m.clientId)) continue;
      if (client.replaying(m.runId) && (recorded || droppable)) continue;
      if (m.kind === 'binary') client.send(m.frame, { binary: true, droppable: true });
      else client.send((text ??= Buffer.from(JSON.stringify(m.data))), { droppable });
      if (m.kind === 'json' && m.data.type === 'run.deleted') client.forget(m.runId);
    }
  }
}
