/**
 * What the API node and its workers say to each other through Redis: the BullMQ queue's name, the job
 * (a validated run), the pub/sub channels for events and cancellation, and how a worker's engine events
 * become JSON (tensors described, file paths moved from the worker's staging folder to the API node's).
 */
import path from 'node:path';
import type { EngineEvent, OutputResult } from '@diffgraph/engine';
import type { RedisOptions } from 'ioredis';
import { encodePreview } from '../preview.ts';
import { serializeValue } from '../values.ts';

export const QUEUE_NAME = 'diffgraph-runs';
/**
 * Each run's events, as its worker's executor emitted them, in a Redis stream of their own: the API node
 * reads it from where it stopped, so events written while it was down (or its connection was) are not lost.
 */
export const eventsKey = (runId: string): string => `${QUEUE_NAME}:events:${runId}`;
/** How long a run's event stream outlives its last event when no API node deletes it (it does once it recorded the end). */
export const EVENTS_EXPIRY_SECONDS = 7 * 24 * 3600;
/** A doorbell: a worker publishes the id of a run whose stream it just appended to, so the API node reads it at once. */
export const EVENTS_CHANNEL = `${QUEUE_NAME}:events`;
/** Previews (live only, never replayed): `WireMessage`s with a node.preview event, not kept in the stream. */
export const PREVIEWS_CHANNEL = `${QUEUE_NAME}:previews`;
/** The API node publishes the id of a run to cancel; the worker running it aborts it. */
export const CANCEL_CHANNEL = `${QUEUE_NAME}:cancel`;
/** Set (with an expiry) when a run is cancelled, so a worker that takes it later does not start it. */
export const cancelledKey = (runId: string): string => `${QUEUE_NAME}:cancelled:${runId}`;

/** Each worker's `WorkerStatus` as JSON, refreshed every few seconds with an expiry: a dead worker's entry lapses. */
export const WORKERS_PREFIX = `${QUEUE_NAME}:workers:`;
export const workerKey = (workerId: string): string => `${WORKERS_PREFIX}${workerId}`;
/** Seconds between a worker's heartbeats, and how long its entry outlives the last one. */
export const HEARTBEAT_SECONDS = 3;
export const WORKER_EXPIRY_SECONDS = 10;

/** What `GET /api/workers` lists for one worker. */
export interface WorkerStatus {
  id: string;
  host: string;
  pid: number;
  /** `draining`: shutting down, taking no new run (its current runs, if any, are in `runs`). */
  state: 'idle' | 'running' | 'draining';
  runs: string[];
  device: 'cpu' | 'cuda';
  /** Model files its model store holds loaded (relative to its model folder when inside it), least recently used first. */
  models: string[];
  concurrency: number;
  runsDone: number;
  startedAt: number;
  heartbeatAt: number;
  /** The longest its event loop was blocked so far, in ms (BullMQ renews run locks from it at half --lock-seconds). */
  longestStallMs: number;
}

export interface RunJob {
  runId: string;
  workflow: unknown;
  outputs: string[];
  /** The API node's staging folder of this run: file paths in events are rewritten onto it. */
  stagingDir: string;
  /** Model files the workflow names (inputs with the role `model`), for placement on a warm worker. */
  models?: string[];
}

/**
 * `attempt` names one worker's attempt at the run (`<worker id>/<attempt number>`). The API node follows
 * the attempt of the last run.started it read, so a worker that lost its lock but still runs cannot mix
 * its events into the attempt that took the run over.
 */
export type WireMessage = { runId: string; attempt: string } & (
  | { event: Record<string, unknown> & { type: string } }
  /** The worker could not run the run at all (e.g. its node library refuses the workflow). */
  | { error: string }
);

/** A redis:// URL as BullMQ connection options (workers need `maxRetriesPerRequest: null`). */
export function redisConnection(url: string): RedisOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`--queue "${url}" is not a URL (e.g. redis://127.0.0.1:6379)`);
  }
  if (parsed.protocol !== 'redis:') throw new Error(`--queue "${url}" must start with redis:// (BullMQ on Redis)`);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * An engine event as JSON for the API node: output values serialized like the history stores them but
 * with file paths kept (moved from any of `fromDirs` to `toDir`), so the API node names and commits the files.
 * A preview is encoded here (PNG or JPEG, base64), so the API node only relays it; null when it is no image.
 */
export function eventToWire(e: EngineEvent, fromDirs: readonly string[], toDir: string): (Record<string, unknown> & { type: string }) | null {
  if (e.type === 'node.preview') {
    const image = encodePreview(e.image);
    if (!image) return null;
    const wireImage = { format: image.mime === 'image/png' ? 'png' : 'jpeg', ...(image.index === undefined ? {} : { index: image.index }), data: image.bytes.toString('base64') };
    return { type: e.type, runId: e.runId, nodeId: e.nodeId, time: e.time, image: wireImage };
  }
  if (!('outputs' in e)) return e as unknown as Record<string, unknown> & { type: string };
  const outputs: Record<string, unknown> = {};
  for (const [nodeId, r] of Object.entries(e.outputs as Record<string, OutputResult>)) {
    if (r.status !== 'succeeded') {
      outputs[nodeId] = r;
      continue;
    }
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(r.values)) values[name] = rebase(serializeValue(value, () => null), fromDirs, toDir);
    outputs[nodeId] = { ...r, values };
  }
  return { ...(e as unknown as Record<string, unknown>), type: e.type, outputs };
}

function rebase(value: unknown, fromDirs: readonly string[], toDir: string): unknown {
  const move = (s: string) => {
    const from = path.isAbsolute(s) ? fromDirs.find((dir) => s === dir || s.startsWith(dir + path.sep)) : undefined;
    return from === undefined ? s : path.join(toDir, path.relative(from, s));
  };
  if (typeof value === 'string') return move(value);
  if (value === null || typeof value !== 'object') return value;
  return JSON.parse(JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'string' ? move(inner) : inner)));
}

/** An event from a worker as the engine emitted it, as far as the run manager reads it (preview bytes back from base64). */
export function eventFromWire(event: Record<string, unknown> & { type: string }): EngineEvent {
  const image = event.image as { data?: unknown } | undefined;
  if (event.type === 'node.preview' && typeof image?.data === 'string') return { ...event, image: { ...image, data: Buffer.from(image.data, 'base64') } } as unknown as EngineEvent;
  return event as unknown as EngineEvent;
}
