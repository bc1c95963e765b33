/**
 * WS /ws?clientId=<id>: ComfyUI's socket. A client gets `status` ({ status: { exec_info:
 * { queue_remaining } }, sid }) on connecting and whenever the queue changes, then the messages of the
 * prompts submitted with its client_id (bridge.ts) as `{ type, data }` text frames, and previews as
 * binary frames. Connecting again with the same clientId replaces the older socket, as in ComfyUI. What
 * a slow client can make the server hold is bounded as on /api/events (ws-client.ts).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { DEFAULT_WS_LIMITS, HubClient, type ReplaySource, type WsLimits } from '../ws-client.ts';
import type { ComfyBridge, ComfyOutbound } from './bridge.ts';

export const COMFY_WS_PATH = '/ws';

/** ComfyUI's socket has no replays. */
const NO_REPLAY: ReplaySource = { events: () => [], lastSeq: () => 0, state: () => undefined };

export class ComfyHub {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  private readonly clients = new Map<string, HubClient>();
  private readonly limits: WsLimits;
  private readonly unsubscribe: () => void;
  private readonly heartbeat: NodeJS.Timeout;

  constructor(private readonly bridge: ComfyBridge, limits: Partial<WsLimits> = {}) {
    this.limits = { ...DEFAULT_WS_LIMITS, ...limits };
    this.wss.on('connection', (ws, req) => this.onConnection(ws, req));
    this.unsubscribe = bridge.subscribe((m) => this.deliver(m));
    this.heartbeat = setInterval(() => {
      for (const c of this.clients.values()) c.heartbeat();
    }, this.limits.pingTimeoutMs).unref();
  }

  /** Takes an upgrade that already passed the server's Host, token and Origin checks. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  close(): void {
    this.unsubscribe();
    clearInterval(this.heartbeat);
    for (const c of this.clients.values()) c.ws.terminate();
    this.wss.close();
  }

  private onConnection(ws: WebSocket, req: IncomingMessage): void {
    const asked = new URL(req.url ?? '/', 'http://localhost').searchParams.get('clientId') ?? '';
    const sid = asked !== '' && asked.length <= 128 ? asked : randomUUID().replace(/-/g, '');
    this.clients.get(sid)?.ws.close(1000, 'replaced by a new connection with the same clientId');
    const client = new HubClient(ws, this.limits, NO_REPLAY);
    this.clients.set(sid, client);
    const drop = () => {
      client.dispose();
      if (this.clients.get(sid) === client) this.clients.delete(sid);
    };
    ws.on('close', drop);
    ws.on('error', drop);
    // Clients may send ComfyUI's feature_flags; nothing a client says changes what it is sent.
    ws.on('message', () => {});
    client.sendJson({ type: 'status', data: { status: this.bridge.queueInfo(), sid } });
  }

  private deliver(m: ComfyOutbound): void {
    const targets = m.sid === null ? [...this.clients.values()] : [this.clients.get(m.sid)].filter((c): c is HubClient => c !== undefined);
    if (targets.length === 0) return;
    const frame = m.kind === 'binary' ? m.frame : Buffer.from(JSON.stringify(m.message));
    for (const client of targets) client.send(frame, { binary: m.kind === 'binary', droppable: m.kind === 'binary' || m.droppable });
  }
}
