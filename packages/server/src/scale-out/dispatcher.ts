/**
 * The API node's side of `serve --queue redis://…`: each run the RunManager starts is added to the
 * BullMQ queue (job id = run id); its worker appends the run's engine events to a Redis stream of the
 * run, and this node reads the stream from the last position it recorded — on a doorbell message for
 * low latency, and on a periodic sweep, so nothing written while it or its connection was away is lost.
 * The sweep also notices a job BullMQ gave up, and a job Redis lost (a restart without persistence),
 * which it queues again.
 */
import type { EngineEvent, NodeRegistry, Workflow } from '@diffgraph/engine';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { DetachedError, RemoteRunError, type DispatchedRun, type RunDispatcher } from '../run-dispatch.ts';
import { listWorkers, modelsOf } from './placement.ts';
import {
  CANCEL_CHANNEL, cancelledKey, EVENTS_CHANNEL, eventFromWire, eventsKey, PREVIEWS_CHANNEL, QUEUE_NAME, redisConnection,
  type RunJob, type WireMessage, type WorkerStatus,
} from './wire.ts';

/** A run this node follows: where it is in the run's stream and which attempt's events it takes. */
interface Following {
  job: RunJob;
  cursor: string;
  attempt: string | undefined;
  onEvent: (e: EngineEvent, position?: string) => void;
  resolve: () => void;
  reject: (e: Error) => void;
  done: boolean;
  reading: boolean;
  readAgain: boolean;
  /** Sweeps that found the job completed with no end in its stream (the stream was lost). */
  completedSweeps: number;
  /** The job is in the queue (a new run is followed before its job is added: see run()). */
  enqueued: boolean;
}

const TERMINAL = new Set(['run.finished', 'run.failed', 'run.cancelled']);
/** Job states in which no worker holds the job, so it can be taken back. */
const WAITING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);
/** How long a cancellation mark outlives the run's job (a worker checks it when it takes the job). */
const CANCEL_MARK_SECONDS = 24 * 3600;
/** Finished jobs stay this long, so a run is never queued twice under its id (BullMQ ignores a known id). */
const KEEP_FINISHED_JOBS = { age: 24 * 3600 };
const SWEEP_MS = 1000;
const READ_BATCH = 256;

export class BullmqDispatcher implements RunDispatcher {
  private readonly following = new Map<string, Following>();
  private readonly sweeper: NodeJS.Timeout;
  private sweeping = false;

  private constructor(
    readonly slots: number,
    /** The queue's URL without its password, for /api/health. */
    private readonly publicUrl: string,
    private readonly registry: NodeRegistry,
    private readonly queue: Queue<RunJob>,
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly queueEvents: QueueEvents,
    private readonly eventsConnection: Redis,
    private readonly log: (line: string) => void,
  ) {
    queueEvents.on('failed', ({ jobId, failedReason }) => {
      const f = this.following.get(jobId);
      if (f) void this.giveUp(f, failedReason);
    });
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === EVENTS_CHANNEL) {
        const f = this.following.get(text);
        if (f) void this.read(f);
      } else if (channel === PREVIEWS_CHANNEL) this.onPreview(text);
    });
    // After a reconnect (Redis restarted, or the network came back) look at every run at once.
    publisher.on('ready', () => void this.sweep());
    this.sweeper = setInterval(() => void this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  /** `slots`: runs handed to workers at once; those beyond the workers' capacity wait in BullMQ. */
  static async connect(url: string, slots: number, registry: NodeRegistry, log: (line: string) => void): Promise<BullmqDispatcher> {
    const connection = redisConnection(url);
    const publisher = new Redis(connection);
    const subscriber = new Redis(connection);
    const queue: Queue<RunJob> = new Queue<RunJob>(QUEUE_NAME, { connection: publisher });
    // QueueEvents blocks on its connection: one of its own.
    const eventsConnection = new Redis(connection);
    const queueEvents = new QueueEvents(QUEUE_NAME, { connection: eventsConnection });
    const onError = (e: Error) => log(`Redis (${url}): ${e.message}`);
    for (const client of [publisher, subscriber, eventsConnection]) client.on('error', onError);
    queue.on('error', onError);
    queueEvents.on('error', onError);
    await Promise.all([queue.waitUntilReady(), queueEvents.waitUntilReady()]);
    await subscriber.subscribe(EVENTS_CHANNEL, PREVIEWS_CHANNEL);
    return new BullmqDispatcher(slots, redactPassword(url), registry, queue, publisher, subscriber, queueEvents, eventsConnection, log);
  }

  /** Connected: both the queue's connection and the event subscription are up (ioredis reconnects on its own). */
  health(): Record<string, unknown> {
    return { kind: 'bullmq', url: this.publicUrl, connected: this.publisher.status === 'ready' && this.subscriber.status === 'ready', slots: this.slots, dispatched: this.following.size };
  }

  workers(): Promise<WorkerStatus[]> {
    return listWorkers(this.publisher);
  }

  async run(run: DispatchedRun, signal: AbortSignal, onEvent: (e: EngineEvent, position?: string) => void): Promise<void> {
    const job: RunJob = { runId: run.runId, workflow: run.workflow, outputs: run.outputs, stagingDir: run.stagingDir, models: modelsOf(run.workflow as Workflow, this.registry) };
    let f!: Following;
    const done = new Promise<void>((resolve, reject) => {
      f = { job, cursor: run.resumeAfter ?? '0', attempt: undefined, onEvent, resolve, reject, done: false, reading: false, readAgain: false, completedSweeps: 0, enqueued: run.resumeAfter !== undefined };
    });
    const cancel = () => void this.cancel(run.runId);
    signal.addEventListener('abort', cancel, { once: true });
    try {
      if (run.resumeAfter === undefined) {
        // A new run: nothing of an earlier dispatch under its id may stand in its way (none should exist).
        await this.publisher.del(cancelledKey(run.runId), eventsKey(run.runId));
        // Followed before its job exists: a quick worker's live-only previews come over pub/sub, and
        // would find no one to take them if the job were added first.
        this.following.set(run.runId, f);
        await this.enqueue(job, true);
        f.enqueued = true;
      } else {
        this.following.set(run.runId, f);
      }
      void this.read(f);
      if (signal.aborted) cancel();
      await done;
    } finally {
      signal.removeEventListener('abort', cancel);
      this.following.delete(run.runId);
      // Recorded: the stream and the cancellation mark are no longer needed.
      if (f.done) void this.publisher.del(eventsKey(run.runId), cancelledKey(run.runId)).catch(() => {});
    }
  }

  private async enqueue(job: RunJob, fresh: boolean): Promise<void> {
    if (fresh) {
      const earlier = await this.queue.getJob(job.runId);
      const state = earlier ? await earlier.getState() : 'unknown';
      if (earlier && (state === 'completed' || state === 'failed')) await earlier.remove();
    }
    await this.queue.add('run', job, { jobId: job.runId, removeOnComplete: KEEP_FINISHED_JOBS, removeOnFail: KEEP_FINISHED_JOBS });
  }

  private async cancel(runId: string): Promise<void> {
    try {
      await this.publisher.set(cancelledKey(runId), '1', 'EX', CANCEL_MARK_SECONDS);
      await this.publisher.publish(CANCEL_CHANNEL, runId);
    } catch (e) {
      this.log(`could not send the cancellation of run ${runId} through Redis: ${(e as Error).message}`);
    }
    await this.withdraw(runId);
  }

  /**
   * A run no worker has taken yet ends cancelled here at once: its job is taken out of the queue. Once a
   * worker holds the job, BullMQ refuses the removal and the cancellation mark stops the run instead.
   */
  private async withdraw(runId: string): Promise<void> {
    const f = this.following.get(runId);
    if (!f || f.done || f.attempt !== undefined) return;
    try {
      const job = await this.queue.getJob(runId);
      if (!job || !WAITING_STATES.has(await job.getState())) return;
      await job.remove();
    } catch {
      return;
    }
    const outputs = Object.fromEntries(f.job.outputs.map((o) => [o, { status: 'cancelled' as const }]));
    f.onEvent({ type: 'run.cancelled', runId, time: Date.now(), outputs });
    this.settle(f);
  }

  /** Reads the run's stream past its cursor; one read at a time per run, again if a doorbell rang meanwhile. */
  private async read(f: Following): Promise<void> {
    if (f.reading) {
      f.readAgain = true;
      return;
    }
    f.reading = true;
    try {
      do {
        f.readAgain = false;
        const reply = (await this.publisher.xread('COUNT', READ_BATCH, 'STREAMS', eventsKey(f.job.runId), f.cursor)) as [string, [string, string[]][]][] | null;
        const entries = reply?.[0]?.[1] ?? [];
        for (const [position, fields] of entries) {
          if (f.done) return;
          f.cursor = position;
          this.deliver(f, position, fields[1] ?? '');
        }
        if (entries.length === READ_BATCH) f.readAgain = true;
      } while (f.readAgain && !f.done);
    } catch (e) {
      // The sweep reads again; the cursor only moved past what was delivered.
      this.log(`could not read the events of run ${f.job.runId}: ${(e as Error).message}`);
    } finally {
      f.reading = false;
    }
  }

  private deliver(f: Following, position: string, text: string): void {
    const message = parse(text);
    if (!message) return this.log(`a worker wrote an event of run ${f.job.runId} that is not JSON; ignored`);
    if ('event' in message && message.event.type === 'run.started') f.attempt = message.attempt;
    // A worker that lost the run (its lock lapsed while it still ran) does not mix into the attempt that took it over.
    else if (f.attempt !== undefined && message.attempt !== f.attempt) return;
    f.attempt ??= message.attempt;
    if ('error' in message) return this.settle(f, new RemoteRunError(message.error));
    f.onEvent(eventFromWire(message.event), position);
    if (TERMINAL.has(message.event.type)) this.settle(f);
  }

  private onPreview(text: string): void {
    const message = parse(text);
    const f = message && this.following.get(message.runId);
    if (!f || f.done || !('event' in message!) || (f.attempt !== undefined && message.attempt !== f.attempt)) return;
    f.onEvent(eventFromWire(message.event));
  }

  private settle(f: Following, error?: Error): void {
    if (f.done) return;
    f.done = true;
    if (error) f.reject(error);
    else f.resolve();
  }

  /** BullMQ failed the job (e.g. its workers died more often than --max-takeovers): the run fails, unless its end is already written. */
  private async giveUp(f: Following, reason: string): Promise<void> {
    await this.read(f);
    this.settle(f, new RemoteRunError(`the queue gave the run up: ${reason}`));
  }

  /** Reads every followed run and checks its job: given up, lost by Redis, or finished with its events lost. */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const f of [...this.following.values()]) {
        await this.read(f);
        if (f.done) continue;
        const state = await this.queue.getJobState(f.job.runId);
        if (state === 'failed') {
          const job = await this.queue.getJob(f.job.runId);
          await this.giveUp(f, job?.failedReason ?? 'failed');
        } else if (state === 'unknown' && f.enqueued) {
          this.log(`run ${f.job.runId} is no longer in the queue (did Redis restart without persistence?); queueing it again`);
          await this.enqueue(f.job, false);
        } else if (state === 'completed' && ++f.completedSweeps > 3) {
          this.settle(f, new RemoteRunError('the worker finished the run but its events were lost from Redis'));
        }
      }
    } catch (e) {
      this.log(`could not check the dispatched runs: ${(e as Error).message}`);
    } finally {
      this.sweeping = false;
    }
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.sweeper);
    for (const f of this.following.values()) this.settle(f, new DetachedError(`the API node stopped following run ${f.job.runId}; it goes on on its worker`));
    this.subscriber.disconnect();
    await Promise.all([this.queue.close(), this.queueEvents.close()]);
    this.eventsConnection.disconnect();
    this.publisher.disconnect();
  }
}

function parse(text: string): WireMessage | null {
  try {
    return JSON.parse(text) as WireMessage;
  } catch {
    return null;
  }
}

function redactPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
