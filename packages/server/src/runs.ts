/**
 * The run manager: validates and queues runs (persisted before they are acknowledged), executes them one
 * at a time on one shared Executor (so the signature cache and loaded models serve every run) — or, with a
 * dispatcher (`serve --queue`), hands up to its `slots` runs at once to workers elsewhere — records
 * per-node state, outputs and the event log, and fans events out to subscribers (the WebSocket hub).
 */
import { randomUUID } from 'node:crypto';
import {
  ancestors, Executor, InvalidWorkflowError, upstreamOf, validateWorkflow,
  type EngineEvent, type NodeRegistry, type OutputResult, type ValidationError, type Workflow,
} from '@diffgraph/engine';
import type { HostServices, ModelStore } from '@diffgraph/nodes';
import { guardWorkflow, type GuardError, type Limits, type RootKind } from './guard.ts';
import { encodePreview, previewFrame } from './preview.ts';
import { pathScrubber, scrubDeep } from './public-paths.ts';
import { DetachedError, RemoteRunError, type RunDispatcher } from './run-dispatch.ts';
import { RunOutputs } from './run-outputs.ts';
import { RunStore, TERMINAL_STATUSES, type NodeRecord, type RunRecord, type RunStatus } from './store.ts';
import { serializeOutputs } from './values.ts';

export type ApiError = ValidationError | GuardError | { nodeId: null; code: string; message: string };

/** A message for subscribers: JSON (an event or a state snapshot) or a binary preview frame. */
export type HubMessage =
  | { kind: 'json'; runId: string; clientId?: string | null; data: Record<string, unknown> }
  | { kind: 'binary'; runId: string; clientId?: string | null; frame: Buffer };

export interface RunManagerOptions {
  registry: NodeRegistry<HostServices>;
  store: RunStore;
  limits: Limits;
  roots: Record<RootKind, string>;
  /** Where each attempt of a run writes before its files are committed to `outputs/<runId>`. */
  stagingDir: string;
  /** Output-cache budget in bytes. */
  cacheBytes: number;
  /** Times a run interrupted by a crash is re-queued before it is left `interrupted` (default 1). */
  maxRequeues: number;
  /** Loaded models shared by every run (default: one store for the models root). */
  modelStore?: ModelStore;
  /** Where nodes keep results across runs (HostServices.cacheDir: searched schedules); default none. */
  cacheDir?: string;
  /** Runs elsewhere instead of on this process's executor (`serve --queue`); default: here. */
  dispatcher?: RunDispatcher;
  log?: (line: string) => void;
}

export interface SubmitRequest {
  workflow: unknown;
  outputs?: string[];
  clientId?: string;
  /** The id the client chose (ComfyUI's prompt_id): a UUID no run has yet; default a new one. */
  runId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type SubmitResult = { ok: true; runId: string } | { ok: false; status: number; errors: ApiError[] };

interface Active {
  id: string;
  controller: AbortController;
  progress: Map<string, { value: number; max: number }>;
  /** Set when the server is shutting down: the run goes back to the queue instead of `cancelled`. */
  requeueOnAbort: boolean;
  /** Whether its run.started arrived: a second one means a worker died and another took the run over. */
  started: boolean;
}

/** Events that are recorded in the per-run log (progress and previews are live only). */
const LOGGED = new Set(['run.queued', 'run.started', 'node.started', 'node.cached', 'node.finished', 'node.failed', 'node.log', 'run.finished', 'run.failed', 'run.cancelled', 'run.interrupted']);

export class RunManager {
  readonly executor: Executor<HostServices>;
  readonly store: RunStore;
  private readonly registry: NodeRegistry<HostServices>;
  private readonly listeners = new Set<(m: HubMessage) => void>();
  /** Runs executing now: one on the in-process executor, up to the dispatcher's `slots` with one. */
  private readonly active = new Map<string, Active>();
  private pumping = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** clientId of runs that are queued or running, so clients can follow the runs they submit. */
  private readonly clientOf = new Map<string, string | null>();
  private readonly log: (line: string) => void;
  private readonly outputs: RunOutputs;
  /** Rewrites the server's absolute paths in what clients are sent (see public-paths.ts). */
  readonly publicText: (text: string) => string;

  constructor(private readonly options: RunManagerOptions) {
    this.registry = options.registry;
    this.store = options.store;
    this.log = options.log ?? (() => {});
    const { roots } = options;
    this.outputs = new RunOutputs(roots.outputs, options.stagingDir);
    this.publicText = pathScrubber([
      { dir: roots.inputs, label: '<inputs>' },
      { dir: roots.models, label: '<models>' },
      { dir: roots.outputs, label: '<outputs>' },
      { dir: options.stagingDir, label: '<outputs>' },
    ]);
    this.executor = new Executor(options.registry, { cacheBytes: options.cacheBytes });
    this.executor.events.subscribe((e) => this.onEngineEvent(e));
  }

  /**
   * Recovers from a stop or a crash and starts working through the queue. Runs left `running` were on this
   * process's executor and are re-queued (up to --requeue times) — or, with a dispatcher, are on workers
   * elsewhere and are followed again from the last event recorded.
   */
  start(): { requeued: string[]; interrupted: string[]; resumed: string[] } {
    const resumed = this.options.dispatcher ? this.store.dispatched() : [];
    for (const run of resumed) void this.execute(run, this.store.dispatchCursor(run.id)).then(() => this.schedule());
    if (resumed.length > 0) this.log(`following ${resumed.length} run(s) on workers again`);
    const recovered = this.options.dispatcher ? { requeued: [], interrupted: [] } : this.store.recoverInterrupted(this.options.maxRequeues);
    // A re-queued run starts over from an empty staging folder; a run given up keeps no files.
    for (const id of recovered.requeued) this.outputs.discard(id);
    for (const id of recovered.interrupted) this.outputs.abandon(id);
    for (const id of recovered.requeued) this.publish(id, { type: 'run.interrupted', runId: id, time: Date.now(), requeued: true });
    for (const id of recovered.interrupted) this.publish(id, { type: 'run.interrupted', runId: id, time: Date.now(), requeued: false });
    if (recovered.requeued.length + recovered.interrupted.length > 0) {
      this.log(`recovered after a crash: ${recovered.requeued.length} run(s) re-queued, ${recovered.interrupted.length} left interrupted`);
    }
    this.schedule();
    return { ...recovered, resumed: resumed.map((r) => r.id) };
  }

  subscribe(listener: (m: HubMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  submit(req: SubmitRequest): SubmitResult {
    if (this.closed) return { ok: false, status: 503, errors: [{ nodeId: null, code: 'SHUTTING_DOWN', message: 'The server is shutting down; submit again when it is back.' }] };
    const { limits } = this.options;
    // The engine checks size, nesting and node count first, without recursing into the workflow.
    const validation = validateWorkflow(req.workflow, this.registry, req.outputs, { maxBytes: limits.workflowBytes, maxNodes: limits.maxNodes });
    if (!validation.ok) return refusal(validation.errors);
    if (req.runId !== undefined && (!UUID.test(req.runId) || this.store.get(req.runId))) {
      return { ok: false, status: 400, errors: [{ nodeId: null, code: 'INVALID_RUN_ID', message: `The run id "${String(req.runId).slice(0, 64)}" is ${UUID.test(req.runId) ? 'taken' : 'not a UUID'}.` }] };
    }
    const runId = req.runId ?? randomUUID();
    const guard = guardWorkflow(validation.workflow, {
      registry: this.registry, limits, roots: this.options.roots, runOutputDir: this.runOutputDir(runId),
    });
    if (guard.length > 0) return { ok: false, status: 400, errors: guard };
    const queued = this.store.counts().queued;
    if (queued >= limits.maxQueued) {
      return { ok: false, status: 503, errors: [{ nodeId: null, code: 'QUEUE_FULL', message: `${queued} runs are waiting; this server queues at most ${limits.maxQueued}. Try again later.` }] };
    }
    const workflow = validation.workflow;
    const planned = [...ancestors(upstreamOf(workflow), validation.outputs)].sort().map((nodeId) => ({ nodeId, nodeType: workflow.nodes[nodeId].type }));
    this.store.insertRun(runId, req.workflow, validation.outputs, req.clientId ?? null, planned);
    this.clientOf.set(runId, req.clientId ?? null);
    this.publish(runId, { type: 'run.queued', runId, time: Date.now() });
    this.schedule();
    return { ok: true, runId };
  }

  /**
   * Cancels a queued or running run. Idempotent: a finished run is left exactly as it is (a late or
   * repeated cancel must never change history), and the answer says what the run is now.
   */
  cancel(id: string): { result: 'cancelled' | 'cancelling' | 'unchanged'; status: RunStatus } | undefined {
    const run = this.store.get(id);
    if (!run) return undefined;
    const active = this.active.get(id);
    // Active and queued: dispatched, waiting for a worker; the dispatcher takes it back or stops it.
    if (active && (run.status === 'running' || run.status === 'queued')) {
      active.controller.abort(new Error('cancelled through the API'));
      return { result: 'cancelling', status: run.status };
    }
    if (run.status === 'queued' && this.store.cancelQueued(id)) {
      this.clientOf.set(id, run.clientId);
      for (const n of this.store.nodes(id)) this.store.setNode(id, { ...n, state: 'cancelled' });
      this.publish(id, { type: 'run.cancelled', runId: id, time: Date.now(), outputs: Object.fromEntries(run.outputs.map((o) => [o, { status: 'cancelled' }])) });
      this.clientOf.delete(id);
      return { result: 'cancelled', status: 'cancelled' };
    }
    return { result: 'unchanged', status: run.status };
  }

  /** Deletes a finished run from the history (its files stay); a queued or running one is refused. */
  remove(id: string): 'deleted' | 'active' | 'not-found' {
    const run = this.store.get(id);
    if (!run) return 'not-found';
    if (!(TERMINAL_STATUSES as string[]).includes(run.status)) return 'active';
    this.store.delete(id);
    this.emit({ kind: 'json', runId: id, data: { type: 'run.deleted', runId: id, time: Date.now() } });
    return 'deleted';
  }

  /** The full state of a run: status, per-node state (with live progress), results. */
  view(id: string, options: { workflow?: boolean } = {}): Record<string, unknown> | undefined {
    const run = this.store.get(id);
    if (!run) return undefined;
    const nodes: Record<string, Omit<NodeRecord, 'nodeId'> & { progress?: { value: number; max: number } }> = {};
    for (const { nodeId, ...rest } of this.store.nodes(id)) {
      const live = this.active.get(id)?.progress.get(nodeId);
      nodes[nodeId] = live ? { ...rest, progress: live } : rest;
    }
    return { ...summary(run), nodes, results: run.results, ...(options.workflow ? { workflow: run.workflow } : {}) };
  }

  list(query: Parameters<RunStore['list']>[0]): { runs: Record<string, unknown>[]; total: number } {
    const { runs, total } = this.store.list(query);
    return { runs: runs.map(summary), total };
  }

  events(id: string, after = 0, limit?: number): Record<string, unknown>[] {
    return this.store.events(id, after, limit);
  }

  /** Runs that are queued or running, oldest first. */
  activeRuns(): string[] {
    return this.store.list({ status: ['running', 'queued'], limit: 1000, offset: 0 }).runs.map((r) => r.id).reverse();
  }

  /** The run started first among those running now. */
  get runningId(): string | undefined {
    for (const id of this.active.keys()) if (this.store.get(id)?.status === 'running') return id;
    return undefined;
  }

  /** Resolves once the queue is empty and nothing runs. */
  idle(): Promise<void> {
    if (this.active.size === 0 && this.store.counts().queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops taking work. A run on this process is put back in the queue (it runs again after a restart); runs
   * on workers go on, and are followed again when this node starts again.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.options.dispatcher) {
      for (const active of this.active.values()) {
        active.requeueOnAbort = true;
        active.controller.abort(new Error('the server is shutting down'));
      }
    }
    // A dispatcher stops following its runs (they end here as detached, not cancelled).
    await this.options.dispatcher?.close();
    await new Promise<void>((resolve) => {
      const check = () => (this.active.size > 0 ? setTimeout(check, 5) : resolve());
      check();
    });
  }

  /** The folder a run's files are committed to (outputs/<runId>). */
  runOutputDir(runId: string): string {
    return this.outputs.committedDir(runId);
  }

  private schedule(): void {
    if (this.pumping) return;
    this.pumping = true;
    setImmediate(() => {
      this.pumping = false;
      this.pump();
    });
  }

  /** Starts queued runs, oldest first, while a slot is free. */
  private pump(): void {
    const slots = this.options.dispatcher?.slots ?? 1;
    while (this.active.size < slots && !this.closed) {
      const next = this.store.nextQueued();
      if (!next) break;
      // Not claimed: cancelled meanwhile; the next one is looked at.
      if (!(this.options.dispatcher ? this.store.markDispatched(next.id) : this.store.markStarted(next.id))) continue;
      void this.execute(next).then(() => this.schedule());
    }
    if (this.active.size === 0 && !this.closed && this.store.counts().queued === 0) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  /** Runs a claimed run; `resumeAfter` (dispatched runs only) follows again one dispatched before a stop. */
  private async execute(run: RunRecord, resumeAfter?: string | null): Promise<void> {
    const resuming = resumeAfter !== undefined;
    // A resumed run's first event (run.started) was recorded: another one means a worker took it over.
    const active: Active = { id: run.id, controller: new AbortController(), progress: new Map(), requeueOnAbort: false, started: resumeAfter != null };
    this.clientOf.set(run.id, run.clientId);
    this.active.set(run.id, active);
    try {
      // A resumed run's worker may be writing its staging folder now: it is left as it is.
      const outputDir = resuming ? this.outputs.stagingDir(run.id) : this.outputs.begin(run.id);
      const { dispatcher } = this.options;
      if (dispatcher) {
        const dispatched = { runId: run.id, workflow: run.workflow, outputs: run.outputs, stagingDir: outputDir, ...(resuming ? { resumeAfter } : {}) };
        await dispatcher.run(dispatched, active.controller.signal, (e, position) => this.onDispatchedEvent(e, position));
        return;
      }
      await this.executor.run(run.workflow, {
        runId: run.id,
        outputs: run.outputs,
        signal: active.controller.signal,
        services: {
          outputDir,
          inputRoots: [this.options.roots.inputs],
          modelRoots: [this.options.roots.models],
          ...(this.options.cacheDir ? { cacheDir: this.options.cacheDir } : {}),
          // As submitted (validated when queued), so SaveImage embeds what the client sent.
          workflow: run.workflow as Workflow,
          ...(this.options.modelStore ? { modelStore: this.options.modelStore } : {}),
        },
      });
    } catch (e) {
      // This node stops; the run goes on on its worker and is followed again after a restart.
      if (e instanceof DetachedError) return;
      // The workflow was valid when queued; a node library that changed since (a restart) can refuse it.
      const message = this.publicText(e instanceof InvalidWorkflowError || e instanceof RemoteRunError ? e.message : `unexpected error: ${(e as Error).message}`);
      this.finish(run.id, 'failed', message, Object.fromEntries(run.outputs.map((o) => [o, { status: 'failed', error: { nodeId: o, message } }])));
      this.publish(run.id, { type: 'run.failed', runId: run.id, time: Date.now(), message, outputs: this.store.get(run.id)?.results ?? {} });
    } finally {
      this.active.delete(run.id);
      this.clientOf.delete(run.id);
    }
  }

  /** Commits the attempt's files, then records the run as finished with results that name them. */
  private finish(id: string, status: RunStatus, error: string | null, outputs: Record<string, OutputResult | unknown>): Record<string, unknown> {
    this.outputs.commit(id);
    const serialized = serializeOutputs(outputs as Record<string, OutputResult>, (file) => this.outputs.committedName(id, file));
    const results = scrubDeep(serialized.results, this.publicText);
    const index = scrubDeep(serialized.index, this.publicText);
    this.store.markFinished(id, status, error === null ? null : this.publicText(error), results, index);
    const progress = this.active.get(id)?.progress ?? new Map<string, { value: number; max: number }>();
    for (const n of this.store.nodes(id)) {
      const cancelled = status === 'cancelled' && (n.state === 'pending' || n.state === 'running');
      const p = progress.get(n.nodeId);
      if (cancelled || p) this.store.setNode(id, { ...n, state: cancelled ? 'cancelled' : n.state, ...(p ? { progress: p } : {}) });
    }
    return results;
  }

  /** Puts a run the shutdown interrupted back in the queue, as if it had never started. */
  private requeueForShutdown(runId: string): void {
    this.store.db.prepare(`UPDATE runs SET status = 'queued', started_at = NULL, dispatched_at = NULL, attempts = attempts - 1 WHERE id = ?`).run(runId);
    this.outputs.discard(runId);
    for (const n of this.store.nodes(runId)) this.store.setNode(runId, { nodeId: n.nodeId, nodeType: n.nodeType, state: 'pending' });
    this.publish(runId, { type: 'run.interrupted', runId, time: Date.now(), requeued: true, reason: 'the server is shutting down' });
  }

  /** A worker's event, recorded together with its position in the run's stream (so a restart resumes after it). */
  private onDispatchedEvent(e: EngineEvent, position: string | undefined): void {
    if (position === undefined) return this.onEngineEvent(e);
    // One transaction: the event is recorded exactly when its position is (a run's end then drops the position).
    this.store.db.transaction(() => {
      this.store.setDispatchCursor(e.runId, position);
      this.onEngineEvent(e);
    })();
  }

  private onEngineEvent(e: EngineEvent): void {
    const active = this.active.get(e.runId);
    if (!active) return;
    const { runId } = e;
    switch (e.type) {
      case 'run.started':
        this.store.markRunning(runId);
        if (active.started) {
          this.store.countRetry(runId);
          active.progress.clear();
          this.publish(runId, { type: 'run.interrupted', runId, time: e.time, requeued: true, reason: 'the worker running it stopped; another worker runs it again' });
        }
        active.started = true;
        break;
      case 'node.started':
        this.store.setNode(runId, { nodeId: e.nodeId, nodeType: e.nodeType, state: 'running' });
        break;
      case 'node.cached':
        this.store.setNode(runId, { nodeId: e.nodeId, nodeType: e.nodeType, state: 'cached' });
        break;
      case 'node.finished':
        this.store.setNode(runId, { nodeId: e.nodeId, nodeType: e.nodeType, state: 'finished', seconds: e.seconds });
        break;
      case 'node.failed': {
        const error = { ...e.error, message: this.publicText(e.error.message) };
        this.store.setNode(runId, { nodeId: e.nodeId, nodeType: e.nodeType, state: e.error.nodeId === e.nodeId ? 'failed' : 'skipped', error });
        this.publish(runId, { ...e, error });
        return;
      }
      case 'node.log':
        this.publish(runId, { ...e, message: this.publicText(e.message) });
        return;
      case 'node.progress':
        active.progress.set(e.nodeId, { value: e.value, max: e.max });
        break;
      case 'node.preview': {
        const image = encodePreview(e.image);
        if (image) this.emit({ kind: 'binary', runId, clientId: this.clientOf.get(runId), frame: previewFrame({ type: 'node.preview', runId, nodeId: e.nodeId, time: e.time }, image) });
        return;
      }
      case 'run.finished':
      case 'run.failed':
      case 'run.cancelled': {
        if (e.type === 'run.cancelled' && active.requeueOnAbort) return this.requeueForShutdown(runId);
        const status: RunStatus = e.type === 'run.finished' ? 'succeeded' : e.type === 'run.failed' ? 'failed' : 'cancelled';
        const message = e.type === 'run.failed' ? this.publicText(e.message) : null;
        const results = this.finish(runId, status, message, e.outputs);
        this.publish(runId, { ...e, ...(message === null ? {} : { message }), outputs: results });
        return;
      }
      default:
    }
    this.publish(runId, e as unknown as Record<string, unknown> & { type: string });
  }

  /** Records a loggable event (with its sequence number) and hands it to subscribers. */
  private publish(runId: string, event: Record<string, unknown> & { type: string }): void {
    let data: Record<string, unknown> = event;
    if (LOGGED.has(event.type)) {
      const seq = this.store.appendEvent(runId, event);
      data = { ...event, seq };
    }
    this.emit({ kind: 'json', runId, clientId: this.clientOf.get(runId), data });
  }

  private emit(message: HubMessage): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(message);
      } catch (e) {
        this.log(`event subscriber failed: ${(e as Error).message}`);
      }
    }
  }

  get cacheStats(): { usedBytes: number; budgetBytes: number; entries: number; hits: number; misses: number; evictions: number } {
    const c = this.executor.cache;
    return { usedBytes: c.usedBytes, budgetBytes: c.budgetBytes, entries: c.size, hits: c.hits, misses: c.misses, evictions: c.evictions };
  }
}

/** Which server flag raises the limit a validation error names. */
const LIMIT_FLAGS: Partial<Record<ValidationError['code'], string>> = { WORKFLOW_TOO_LARGE: '--max-workflow-bytes', TOO_MANY_NODES: '--max-nodes' };

function refusal(errors: ValidationError[]): SubmitResult & { ok: false } {
  const tooLarge = errors.some((e) => e.code === 'WORKFLOW_TOO_LARGE');
  const withFlags = errors.map((e) => (LIMIT_FLAGS[e.code] ? { ...e, message: `${e.message.replace(/\.$/, '')} (${LIMIT_FLAGS[e.code]}).` } : e));
  return { ok: false, status: tooLarge ? 413 : 400, errors: withFlags };
}

function summary(run: RunRecord): Record<string, unknown> {
  return {
    id: run.id,
    status: run.status,
    outputs: run.outputs,
    clientId: run.clientId,
    createdAt: run.createdAt,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    attempts: run.attempts,
    interruptions: run.interruptions,
    error: run.error,
    title: typeof (run.workflow as Workflow)?.meta?.title === 'string' ? (run.workflow as Workflow).meta!.title : null,
  };
}
