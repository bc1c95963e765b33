/**
 * The API node's side of `serve --queue redis://…`: each run the RunManager starts is added to the
 * BullMQ queue (job id = run id) and its engine events come back from whichever worker runs it over a
 * Redis pub/sub channel, in order, into the same path the in-process executor's events take.
 */
import type { EngineEvent } from '@diffgraph/engine';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { RemoteRunError, type DispatchedRun, type RunDispatcher } from '../run-dispatch.ts';
import { CANCEL_CHANNEL, cancelledKey, EVENTS_CHANNEL, eventFromWire, QUEUE_NAME, redisConnection, WORKERS_PREFIX, type RunJob, type WireMessage, type WorkerStatus } from './wire.ts';

interface Waiting {
  onEvent: (e: EngineEvent) => void;
  resolve: () => void;
  reject: (e: Error) => void;
}

const TERMINAL = new Set(['run.finished', 'run.failed', 'run.cancelled']);
/** How long a cancellation mark outlives the run's job (a worker checks it when it takes the job). */
const CANCEL_MARK_SECONDS = 24 * 3600;

export class BullmqDispatcher implements RunDispatcher {
  private readonly waiting = new Map<string, Waiting>();

  private constructor(
    readonly slots: number,
    /** The queue's URL without its password, for /api/health. */
    private readonly publicUrl: string,
    private readonly queue: Queue<RunJob>,
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
    private readonly queueEvents: QueueEvents,
    private readonly eventsConnection: Redis,
    private readonly log: (line: string) => void,
  ) {
    // A job BullMQ gives up (e.g. stalled twice: its workers died) sends no terminal event of its own.
    queueEvents.on('failed', ({ jobId, failedReason }) => this.waiting.get(jobId)?.reject(new RemoteRunError(`the queue gave the run up: ${failedReason}`)));
    subscriber.on('message', (channel: string, text: string) => {
      if (channel === EVENTS_CHANNEL) this.onMessage(text);
    });
  }

  /** `slots`: runs handed to workers at once; those beyond the workers' capacity wait in BullMQ. */
  static async connect(url: string, slots: number, log: (line: string) => void): Promise<BullmqDispatcher> {
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
    await subscriber.subscribe(EVENTS_CHANNEL);
    return new BullmqDispatcher(slots, redactPassword(url), queue, publisher, subscriber, queueEvents, eventsConnection, log);
  }

  /** Connected: both the queue's connection and the event subscription are up (ioredis reconnects on its own). */
  health(): Record<string, unknown> {
    return { kind: 'bullmq', url: this.publicUrl, connected: this.publisher.status === 'ready' && this.subscriber.status === 'ready', slots: this.slots, dispatched: this.waiting.size };
  }

  /** The workers alive now, as each last published itself (an entry lapses a few seconds after its worker died). */
  async workers(): Promise<WorkerStatus[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.publisher.scan(cursor, 'MATCH', `${WORKERS_PREFIX}*`, 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const values = keys.length ? await this.publisher.mget(...keys) : [];
    return values.flatMap((text) => (text ? [JSON.parse(text) as WorkerStatus] : [])).sort((a, b) => a.startedAt - b.startedAt || a.id.localeCompare(b.id));
  }

  async run(run: DispatchedRun, signal: AbortSignal, onEvent: (e: EngineEvent) => void): Promise<void> {
    const done = new Promise<void>((resolve, reject) => this.waiting.set(run.runId, { onEvent, resolve, reject }));
    const cancel = () => void this.cancel(run.runId);
    signal.addEventListener('abort', cancel, { once: true });
    try {
      // A run dispatched again (re-queued by a shutdown of this node) was not cancelled by a user.
      await this.publisher.del(cancelledKey(run.runId));
      await this.queue.add('run', run, { jobId: run.runId, removeOnComplete: true, removeOnFail: true });
      if (signal.aborted) cancel();
      await done;
    } finally {
      signal.removeEventListener('abort', cancel);
      this.waiting.delete(run.runId);
    }
  }

  private async cancel(runId: string): Promise<void> {
    try {
      await this.publisher.set(cancelledKey(runId), '1', 'EX', CANCEL_MARK_SECONDS);
      await this.publisher.publish(CANCEL_CHANNEL, runId);
    } catch (e) {
      this.log(`could not send the cancellation of run ${runId} through Redis: ${(e as Error).message}`);
    }
  }

  private onMessage(text: string): void {
    let message: WireMessage;
    try {
      message = JSON.parse(text) as WireMessage;
    } catch {
      this.log('a worker sent an event that is not JSON; ignored');
      return;
    }
    const waiting = this.waiting.get(message.runId);
    if (!waiting) return;
    if ('error' in message) {
      waiting.reject(new RemoteRunError(message.error));
      return;
    }
    waiting.onEvent(eventFromWire(message.event));
    if (TERMINAL.has(message.event.type)) waiting.resolve();
  }

  private closing: Promise<void> | undefined;

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const [runId, waiting] of this.waiting) waiting.reject(new Error(`the API node is shutting down while run ${runId} runs on a worker`));
    this.subscriber.disconnect();
    await Promise.all([this.queue.close(), this.queueEvents.close()]);
    this.eventsConnection.disconnect();
    this.publisher.disconnect();
  }
}

function redactPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
