/**
 * The persistent queue and history (SQLite, WAL): runs, per-node state, an index of output values and
 * files, and the event log a client needs to resume. Every write that acknowledges a request (a submit,
 * a cancel) is committed before the HTTP response is sent, so a run that was accepted survives a crash.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled' | 'interrupted';
export const RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted'];
export const TERMINAL_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled', 'interrupted'];

export type NodeState = 'pending' | 'running' | 'cached' | 'finished' | 'failed' | 'skipped' | 'cancelled';

export interface NodeRecord {
  nodeId: string;
  nodeType: string;
  state: NodeState;
  /** Seconds the node ran (finished nodes). */
  seconds?: number;
  error?: { nodeId: string; message: string };
  /** Last progress reported (kept when the run ends). */
  progress?: { value: number; max: number };
}

export interface RunRecord {
  id: string;
  seq: number;
  status: RunStatus;
  workflow: unknown;
  /** The output node ids the run computes (after validation). */
  outputs: string[];
  clientId: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  /** How many times the run was started (a re-queue after a crash starts it again). */
  attempts: number;
  /** How many times a server crash interrupted it. */
  interruptions: number;
  error: string | null;
  /** Per output node: `succeeded` with JSON-safe values, `failed`, or `cancelled`. */
  results: Record<string, unknown> | null;
}

export interface ListQuery {
  status?: RunStatus[];
  clientId?: string;
  limit: number;
  offset: number;
}

interface RunRow {
  id: string;
  seq: number;
  status: RunStatus;
  workflow: string;
  outputs: string;
  client_id: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  attempts: number;
  interruptions: number;
  error: string | null;
  results: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS runs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  status TEXT NOT NULL,
  workflow TEXT NOT NULL,
  outputs TEXT NOT NULL,
  client_id TEXT,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  interruptions INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  results TEXT,
  dispatched_at INTEGER
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, seq);
CREATE INDEX IF NOT EXISTS runs_client ON runs(client_id, seq);
CREATE TABLE IF NOT EXISTS nodes (
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  node_type TEXT NOT NULL,
  state TEXT NOT NULL,
  seconds REAL,
  error TEXT,
  progress TEXT,
  PRIMARY KEY (run_id, node_id)
);
CREATE TABLE IF NOT EXISTS outputs (
  run_id TEXT NOT NULL,
  node_id TEXT NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  file TEXT,
  PRIMARY KEY (run_id, node_id, name)
);
CREATE INDEX IF NOT EXISTS outputs_file ON outputs(file);
CREATE TABLE IF NOT EXISTS dispatch_cursors (
  run_id TEXT PRIMARY KEY,
  position TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
`;

function toRecord(row: RunRow): RunRecord {
  return {
    id: row.id,
    seq: row.seq,
    status: row.status,
    workflow: JSON.parse(row.workflow),
    outputs: JSON.parse(row.outputs),
    clientId: row.client_id,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    attempts: row.attempts,
    interruptions: row.interruptions,
    error: row.error,
    results: row.results === null ? null : JSON.parse(row.results),
  };
}

export class RunStore {
  readonly db: Database.Database;
  private readonly eventSeq = new Map<string, number>();
  private readonly stmt;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a committed transaction survives a killed process (only a power loss may drop the last ones).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // A data folder from before dispatched runs stayed queued until a worker started them.
    const columns = this.db.prepare(`PRAGMA table_info(runs)`).all() as { name: string }[];
    if (!columns.some((c) => c.name === 'dispatched_at')) this.db.exec(`ALTER TABLE runs ADD COLUMN dispatched_at INTEGER`);
    const db = this.db;
    this.stmt = {
      insertRun: db.prepare(`INSERT INTO runs (id, status, workflow, outputs, client_id, created_at) VALUES (?, 'queued', ?, ?, ?, ?)`),
      getRun: db.prepare(`SELECT * FROM runs WHERE id = ?`),
      nextQueued: db.prepare(`SELECT * FROM runs WHERE status = 'queued' AND dispatched_at IS NULL ORDER BY seq LIMIT 1`),
      setStarted: db.prepare(`UPDATE runs SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'queued' AND dispatched_at IS NULL`),
      setDispatched: db.prepare(`UPDATE runs SET dispatched_at = ? WHERE id = ? AND status = 'queued' AND dispatched_at IS NULL`),
      setRunning: db.prepare(`UPDATE runs SET status = 'running', started_at = ?, attempts = attempts + 1 WHERE id = ? AND status = 'queued' AND dispatched_at IS NOT NULL`),
      dispatched: db.prepare(`SELECT * FROM runs WHERE status = 'running' OR (status = 'queued' AND dispatched_at IS NOT NULL) ORDER BY seq`),
      undispatch: db.prepare(`UPDATE runs SET dispatched_at = NULL WHERE status = 'queued' AND dispatched_at IS NOT NULL`),
      setFinished: db.prepare(`UPDATE runs SET status = ?, finished_at = ?, error = ?, results = ? WHERE id = ?`),
      countRetry: db.prepare(`UPDATE runs SET attempts = attempts + 1, interruptions = interruptions + 1 WHERE id = ? AND status = 'running'`),
      cancelQueued: db.prepare(`UPDATE runs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status = 'queued'`),
      deleteRun: db.prepare(`DELETE FROM runs WHERE id = ?`),
      deleteNodes: db.prepare(`DELETE FROM nodes WHERE run_id = ?`),
      deleteOutputs: db.prepare(`DELETE FROM outputs WHERE run_id = ?`),
      deleteEvents: db.prepare(`DELETE FROM events WHERE run_id = ?`),
      upsertNode: db.prepare(`INSERT INTO nodes (run_id, node_id, node_type, state, seconds, error, progress) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(run_id, node_id) DO UPDATE SET node_type = excluded.node_type, state = excluded.state, seconds = excluded.seconds, error = excluded.error, progress = excluded.progress`),
      nodesOf: db.prepare(`SELECT node_id, node_type, state, seconds, error, progress FROM nodes WHERE run_id = ?`),
      insertOutput: db.prepare(`INSERT OR REPLACE INTO outputs (run_id, node_id, name, value, file) VALUES (?, ?, ?, ?, ?)`),
      fileKnown: db.prepare(`SELECT 1 FROM outputs WHERE file = ? LIMIT 1`),
      insertEvent: db.prepare(`INSERT INTO events (run_id, seq, type, body) VALUES (?, ?, ?, ?)`),
      maxEventSeq: db.prepare(`SELECT MAX(seq) AS seq FROM events WHERE run_id = ?`),
      eventsOf: db.prepare(`SELECT seq, body FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?`),
      running: db.prepare(`SELECT * FROM runs WHERE status = 'running' ORDER BY seq`),
      requeue: db.prepare(`UPDATE runs SET status = 'queued', started_at = NULL, dispatched_at = NULL, interruptions = interruptions + 1 WHERE id = ?`),
      markInterrupted: db.prepare(`UPDATE runs SET status = 'interrupted', finished_at = ?, interruptions = interruptions + 1, error = ? WHERE id = ?`),
      counts: db.prepare(`SELECT status, COUNT(*) AS n FROM runs GROUP BY status`),
      getCursor: db.prepare(`SELECT position FROM dispatch_cursors WHERE run_id = ?`),
      setCursor: db.prepare(`INSERT INTO dispatch_cursors (run_id, position) VALUES (?, ?) ON CONFLICT(run_id) DO UPDATE SET position = excluded.position`),
      deleteCursor: db.prepare(`DELETE FROM dispatch_cursors WHERE run_id = ?`),
    };
  }

  insertRun(id: string, workflow: unknown, outputs: string[], clientId: string | null, planned: { nodeId: string; nodeType: string }[]): void {
    this.db.transaction(() => {
      this.stmt.insertRun.run(id, JSON.stringify(workflow), JSON.stringify(outputs), clientId, Date.now());
      for (const n of planned) this.stmt.upsertNode.run(id, n.nodeId, n.nodeType, 'pending', null, null, null);
    })();
  }

  get(id: string): RunRecord | undefined {
    const row = this.stmt.getRun.get(id) as RunRow | undefined;
    return row && toRecord(row);
  }

  nextQueued(): RunRecord | undefined {
    const row = this.stmt.nextQueued.get() as RunRow | undefined;
    return row && toRecord(row);
  }

  /** Claims a queued run; false when it is no longer queued (cancelled meanwhile). */
  markStarted(id: string): boolean {
    return this.stmt.setStarted.run(Date.now(), id).changes === 1;
  }

  /**
   * Claims a queued run for a worker elsewhere: it stays `queued` (waiting for a worker, as a run waits
   * for the executor here) until `markRunning`, when a worker has started it. False when it is no longer
   * queued (cancelled meanwhile).
   */
  markDispatched(id: string): boolean {
    return this.stmt.setDispatched.run(Date.now(), id).changes === 1;
  }

  /** A dispatched run's worker started it: its first attempt (a takeover counts the next ones, countRetry). */
  markRunning(id: string): void {
    this.stmt.setRunning.run(Date.now(), id);
  }

  markFinished(id: string, status: RunStatus, error: string | null, results: Record<string, unknown>, files: { nodeId: string; name: string; value: unknown; file: string | null }[]): void {
    this.db.transaction(() => {
      this.stmt.setFinished.run(status, Date.now(), error, JSON.stringify(results), id);
      this.stmt.deleteCursor.run(id);
      for (const f of files) this.stmt.insertOutput.run(id, f.nodeId, f.name, JSON.stringify(f.value), f.file);
    })();
  }

  /** A running run starts over elsewhere (its worker died): one more attempt, one more interruption; its nodes are pending again. */
  countRetry(id: string): void {
    this.db.transaction(() => {
      this.stmt.countRetry.run(id);
      for (const n of this.nodes(id)) this.setNode(id, { nodeId: n.nodeId, nodeType: n.nodeType, state: 'pending' });
    })();
  }

  cancelQueued(id: string): boolean {
    return this.stmt.cancelQueued.run(Date.now(), id).changes === 1;
  }

  delete(id: string): void {
    this.db.transaction(() => {
      this.stmt.deleteRun.run(id);
      this.stmt.deleteNodes.run(id);
      this.stmt.deleteOutputs.run(id);
      this.stmt.deleteEvents.run(id);
      this.stmt.deleteCursor.run(id);
    })();
    this.eventSeq.delete(id);
  }

  setNode(runId: string, node: NodeRecord): void {
    this.stmt.upsertNode.run(runId, node.nodeId, node.nodeType, node.state, node.seconds ?? null, node.error ? JSON.stringify(node.error) : null, node.progress ? JSON.stringify(node.progress) : null);
  }

  nodes(runId: string): NodeRecord[] {
    const rows = this.stmt.nodesOf.all(runId) as { node_id: string; node_type: string; state: NodeState; seconds: number | null; error: string | null; progress: string | null }[];
    return rows.map((r) => ({
      nodeId: r.node_id,
      nodeType: r.node_type,
      state: r.state,
      ...(r.seconds !== null ? { seconds: r.seconds } : {}),
      ...(r.error !== null ? { error: JSON.parse(r.error) } : {}),
      ...(r.progress !== null ? { progress: JSON.parse(r.progress) } : {}),
    }));
  }

  /** Whether a file path (relative to the output root) was written by a recorded run. */
  isKnownFile(relative: string): boolean {
    return this.stmt.fileKnown.get(relative) !== undefined;
  }

  /** The seq of the run's latest recorded event; 0 when it has none. */
  lastEventSeq(runId: string): number {
    return this.eventSeq.get(runId) ?? ((this.stmt.maxEventSeq.get(runId) as { seq: number | null }).seq ?? 0);
  }

  appendEvent(runId: string, event: { type: string }): number {
    const seq = this.lastEventSeq(runId) + 1;
    this.eventSeq.set(runId, seq);
    this.stmt.insertEvent.run(runId, seq, event.type, JSON.stringify(event));
    return seq;
  }

  /** Recorded events with a seq above `after`, oldest first; at most `limit` of them (all when negative). */
  events(runId: string, after = 0, limit = -1): Record<string, unknown>[] {
    return (this.stmt.eventsOf.all(runId, after, limit) as { seq: number; body: string }[]).map((r) => ({ ...JSON.parse(r.body), seq: r.seq }));
  }

  forgetEventSeq(runId: string): void {
    this.eventSeq.delete(runId);
  }

  list(q: ListQuery): { runs: RunRecord[]; total: number } {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.status && q.status.length > 0) {
      where.push(`status IN (${q.status.map(() => '?').join(', ')})`);
      params.push(...q.status);
    }
    if (q.clientId !== undefined) {
      where.push('client_id = ?');
      params.push(q.clientId);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.db.prepare(`SELECT COUNT(*) AS n FROM runs ${clause}`).get(...params) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM runs ${clause} ORDER BY seq DESC LIMIT ? OFFSET ?`).all(...params, q.limit, q.offset) as RunRow[];
    return { runs: rows.map(toRecord), total };
  }

  counts(): Record<RunStatus, number> {
    const counts = Object.fromEntries(RUN_STATUSES.map((s) => [s, 0])) as Record<RunStatus, number>;
    for (const r of this.stmt.counts.all() as { status: RunStatus; n: number }[]) counts[r.status] = r.n;
    return counts;
  }

  /**
   * After a crash: every run left `running` was interrupted. It is re-queued while it has been
   * interrupted fewer than `maxRequeues` times, else marked `interrupted` for good.
   */
  recoverInterrupted(maxRequeues: number): { requeued: string[]; interrupted: string[] } {
    const requeued: string[] = [];
    const interrupted: string[] = [];
    this.db.transaction(() => {
      // Runs a dispatcher handed to workers that never started them are plain queued runs here.
      this.stmt.undispatch.run();
      for (const run of (this.stmt.running.all() as RunRow[]).map(toRecord)) {
        if (run.interruptions < maxRequeues) {
          this.stmt.requeue.run(run.id);
          requeued.push(run.id);
        } else {
          this.stmt.markInterrupted.run(Date.now(), `interrupted by a server restart ${run.interruptions + 1} time(s); not re-queued`, run.id);
          interrupted.push(run.id);
        }
        const requeue = requeued.at(-1) === run.id;
        for (const n of this.nodes(run.id)) {
          if (requeue) this.setNode(run.id, { nodeId: n.nodeId, nodeType: n.nodeType, state: 'pending' });
          else if (n.state === 'running' || n.state === 'pending') this.setNode(run.id, { ...n, state: 'cancelled' });
        }
      }
    })();
    return { requeued, interrupted };
  }

  /** Runs handed to workers and not finished (waiting for a worker, or running), oldest first. */
  dispatched(): RunRecord[] {
    return (this.stmt.dispatched.all() as RunRow[]).map(toRecord);
  }

  /** Where in a dispatched run's event stream this node last recorded an event (null: nowhere yet). */
  dispatchCursor(runId: string): string | null {
    return (this.stmt.getCursor.get(runId) as { position: string } | undefined)?.position ?? null;
  }

  setDispatchCursor(runId: string, position: string): void {
    this.stmt.setCursor.run(runId, position);
  }

  close(): void {
    this.db.close();
  }
}
