/**
 * Placement: every worker takes runs from the one BullMQ queue, so a run goes wherever a worker is free.
 * To prefer a worker that already has the run's models loaded, a worker that lacks them and sees an idle
 * one that has them puts the run back for a moment (it is delayed by a few tens of ms, and the warm worker,
 * waiting on the queue, usually takes it then). It stops deferring after `PLACEMENT_WAIT_MS` from its first
 * look, and a warm worker that is busy or gone is no reason to wait: throughput first, warmth second.
 */
import { isLink, type NodeRegistry, type Workflow } from '@diffgraph/engine';
import type { Redis } from 'ioredis';
import { QUEUE_NAME, WORKER_EXPIRY_SECONDS, WORKERS_PREFIX, type WorkerStatus } from './wire.ts';

/** The longest a run waits for a warm worker, counted from the first time a cold one looked at it. */
export const PLACEMENT_WAIT_MS = 2000;
const firstLookKey = (runId: string) => `${QUEUE_NAME}:placement:${runId}`;

/** The model paths a workflow names (inputs with the role `model`, given or defaulted). */
export function modelsOf(workflow: Workflow, registry: NodeRegistry): string[] {
  const models = new Set<string>();
  for (const node of Object.values(workflow.nodes)) {
    const def = registry.get(node.type);
    for (const [name, spec] of Object.entries(def?.inputs ?? {})) {
      if (spec.role !== 'model') continue;
      const value = node.inputs?.[name] ?? spec.default;
      if (typeof value === 'string' && value !== '' && !isLink(value)) models.add(value);
    }
  }
  return [...models];
}

/** Whether `loaded` (files relative to the model folder) holds every model in `wanted` (a file or a folder of files). */
export function covers(loaded: readonly string[], wanted: readonly string[]): boolean {
  const norm = (p: string) => p.replace(/\\/g, '/').replace(/^\.\//, '').replace(/\/+$/, '');
  const files = loaded.map(norm);
  return wanted.map(norm).every((m) => files.some((f) => f === m || f.startsWith(`${m}/`)));
}

/** The workers alive now, as each last published itself (an entry lapses a few seconds after its worker died). */
export async function listWorkers(redis: Redis): Promise<WorkerStatus[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${WORKERS_PREFIX}*`, 'COUNT', 100);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  const values = keys.length ? await redis.mget(...keys) : [];
  return values.flatMap((text) => (text ? [JSON.parse(text) as WorkerStatus] : [])).sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
}

export interface PlacementQuery {
  redis: Redis;
  /** This worker's id. */
  self: string;
  runId: string;
  /** The run's models, and this worker's loaded ones. */
  wanted: readonly string[];
  loaded: readonly string[];
  now?: number;
}

/** Whether this (cold) worker should leave the run to another worker that has its models loaded and a free slot. */
export async function warmWorkerElsewhere(q: PlacementQuery): Promise<boolean> {
  if (q.wanted.length === 0 || covers(q.loaded, q.wanted)) return false;
  const now = q.now ?? Date.now();
  const warm = (await listWorkers(q.redis)).some((w) =>
    w.id !== q.self && w.state !== 'draining' && w.runs.length < w.concurrency && now - w.heartbeatAt < WORKER_EXPIRY_SECONDS * 1000 && covers(w.models, q.wanted));
  if (!warm) return false;
  const key = firstLookKey(q.runId);
  await q.redis.set(key, String(now), 'PX', 10 * PLACEMENT_WAIT_MS, 'NX');
  const firstLook = Number(await q.redis.get(key));
  return now - firstLook < PLACEMENT_WAIT_MS;
}
