/**
 * Who may talk to the server: a bearer token (required on every route and the WebSocket upgrade when
 * one is configured, and always when bound beyond loopback), a Host check against DNS rebinding, and an
 * Origin check on state-changing requests and upgrades, so a web page on another origin cannot submit
 * or cancel runs on a local server.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';

export interface SecurityOptions {
  /** Required as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Host names (without port) accepted in the Host header; null: any. */
  allowedHosts: string[] | null;
  /** Extra origins (e.g. `http://localhost:5173`, a dev editor) allowed besides the server's own. */
  allowedOrigins: string[];
}

export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1', '[::1]'];

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return net.isIPv4(h) && h.startsWith('127.');
}

export class AccessError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The host name of a Host header (`example.com:8188` → `example.com`, `[::1]:80` → `::1`). */
export function hostName(host: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (m) return m[1].toLowerCase();
  return host.replace(/:\d+$/, '').toLowerCase();
}

export function checkHost(req: IncomingMessage, options: SecurityOptions): void {
  if (options.allowedHosts === null) return;
  const host = req.headers.host;
  if (!host) throw new AccessError(400, 'BAD_HOST', 'The request has no Host header.');
  const name = hostName(host);
  if (!options.allowedHosts.map((h) => hostName(h)).includes(name)) {
    throw new AccessError(403, 'BAD_HOST', `Host "${host}" is not served here (allowed: ${options.allowedHosts.join(', ')}; add one with --allow-host).`);
  }
}

/** Bearer token from the Authorization header, or (WebSocket only) from a `diffgraph.bearer.<token>` subprotocol. */
export function checkToken(req: IncomingMessage, options: SecurityOptions, websocket = false): void {
  if (!options.token) return;
  const header = req.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  let given = match?.[1];
  if (!given && websocket) {
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
    given = protocols.find((p) => p.startsWith('diffgraph.bearer.'))?.slice('diffgraph.bearer.'.length);
  }
  if (!given) throw new AccessError(401, 'UNAUTHORIZED', 'This server needs "Authorization: Bearer <token>".');
  if (!sameToken(given, options.token)) throw new AccessError(401, 'UNAUTHORIZED', 'The bearer token is wrong.');
}

/**
 * A request without Origin (curl, the CLI, server-to-server) passes: browsers always send Origin on
 * cross-origin POST/DELETE and WebSocket handshakes. With Origin, it must be the server's own origin
 * (same host and port as the Host header) or one of the allowed origins.
 */
export function checkOrigin(req: IncomingMessage, options: SecurityOptions): void {
  const origin = req.headers.origin;
  const site = req.headers['sec-fetch-site'];
  if (origin === undefined) {
    if (site === 'cross-site') throw new AccessError(403, 'CROSS_ORIGIN', 'Cross-site requests may not change state on this server.');
    return;
  }
  if (options.allowedOrigins.includes(origin)) return;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    throw new AccessError(403, 'CROSS_ORIGIN', `Origin "${origin}" may not change state on this server.`);
  }
  if ((parsed.protocol === 'http:' || parsed.protocol === 'https:') && req.headers.host && parsed.host.toLowerCase() === req.headers.host.toLowerCase()) return;
  throw new AccessError(403, 'CROSS_ORIGIN', `Origin "${origin}" may not change state on this server (allow it with --allow-origin).`);
}
