/**
 * `diffgraph worker --queue redis://…`: takes runs from the BullMQ queue, runs them on its own Executor
 * (its own output cache and loaded models, shared by its runs) and publishes their engine events to the
 * API node through Redis, in order. Files are written to `<data>/staging/<runId>`; the data folder is
 * shared with the API node (docs/scale-out.md), which commits and serves them.
 */
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { Executor, InvalidWorkflowError, type NodeRegistry, type Workflow } from '@diffgraph/engine';
import type { HostServices, ModelStore } from '@diffgraph/nodes';
import { DelayedError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { RunOutputs } from '../run-outputs.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { warmWorkerElsewhere } from './placement.ts';
import { CANCEL_CHANNEL, cancelledKey, EVENTS_CHANNEL, EVENTS_EXPIRY_SECONDS, eventsKey, eventToWire, HEARTBEAT_SECONDS, PREVIEWS_CHANNEL, QUEUE_NAME, redisConnection, WORKER_EXPIRY_SECONDS, workerKey, type RunJob, type WireMessage, type WorkerStatus } from './wire.ts';

export interface WorkerOptions {
  queueUrl: string;
  registry: NodeRegistry<HostServices>;
  /** Runs taken at once (they share the executor). */
  concurrency: number;
  /** The data folder shared with the API node: inputs are read and outputs staged there. */
  dataDir: string;
  modelsDir: string;
  modelStore?: ModelStore;
  cacheBytes: number;
  /** BullMQ's lock on a taken job, renewed while it runs: a dead worker's run is taken over after about this long. */
  lockSeconds?: number;
  /** Times a run whose worker died (its lock lapsed) is taken over by another before BullMQ fails it (default 2). */
  maxTakeovers?: number;
  log: (line: string) => void;
}

/** How long a run deferred to a warm worker waits before any worker may take it again. */
const PLACEMENT_RETRY_MS = 50;

export interface RunningWorker {
  /** Its id in `GET /api/workers`. */
  readonly id: string;
  /** Runs finished (succeeded, failed or cancelled) by this worker. */
  readonly runsDone: number;
  /** Takes no new run and resolves once the runs it holds have finished and been reported as usual. */
  drain(): Promise<void>;
  /** Stops the runs it holds without reporting an end, and returns their jobs to the queue for another worker. */
  handBack(): void;
  /** Cancels the runs it holds and stops. */
  close(): Promise<void>;
}

export async function startWorker(options: WorkerOptions): Promise<RunningWorker> {
  const connection = redisConnection(options.queueUrl);
  const executor = new Executor(options.registry, { cacheBytes: options.cacheBytes });
  const outputs = new RunOutputs(path.join(options.dataDir, 'outputs'), path.join(options.dataDir, 'staging'));
  const inputs = path.join(options.dataDir, 'inputs');
  /** Per run on this worker: how to cancel it, where its events are rebased, and which attempt this is. */
  const running = new Map<string, { controller: AbortController; fromDirs: string[]; toDir: string; attempt: string; attemptDir: string; handedBack?: boolean }>();
  let runsDone = 0;
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const startedAt = Date.now();
  let draining = false;
  // The longest the event loop was blocked (BullMQ renews locks from it): reported with each heartbeat.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let longestStallMs = 0;

  const publisher = new Redis(connection);
  const worker = new Worker<RunJob>(QUEUE_NAME, async (job: Job<RunJob>, token?: string) => runJob(job, token), {
    connection: publisher, concurrency: options.concurrency, autorun: false, maxStalledCount: options.maxTakeovers ?? 2, ...lockOptions(options.lockSeconds),
  });
  const subscriber = new Redis(connection);
  for (const emitter of [publisher, subscriber, worker]) emitter.on('error', (e: Error) => options.log(`Redis (${options.queueUrl}): ${e.message}`));
  await subscriber.subscribe(CANCEL_CHANNEL);
  subscriber.on('message', (_channel: string, runId: string) => running.get(runId)?.controller.abort(new Error('cancelled through the API')));

  // One connection writes everything, so each run's stream holds its events in emission order. While Redis
  // is away ioredis keeps the commands and sends them, in order, once it is back.
  const appendEvent = (message: WireMessage, json: string) => {
    const key = eventsKey(message.runId);
    const append = publisher.multi().xadd(key, '*', 'm', json);
    // The expiry is refreshed on run-level events only: per-step events need not pay for it.
    if (!('event' in message) || message.event.type.startsWith('run.')) append.expire(key, EVENTS_EXPIRY_SECONDS);
    return append.publish(EVENTS_CHANNEL, message.runId).exec();
  };
  const send = (message: WireMessage) => {
    const json = JSON.stringify(message);
    const write = 'event' in message && message.event.type === 'node.preview'
      ? publisher.publish(PREVIEWS_CHANNEL, json)
      : appendEvent(message, json);
    write.catch((e: Error) => options.log(`could not send an event of run ${message.runId}: ${e.message}`));
  };
  executor.events.subscribe((e) => {
    const run = running.get(e.runId);
    if (!run || run.handedBack) return;
    // The attempt's files become the run's staging folder before the API node hears of the end and commits it.
    if (e.type === 'run.finished' || e.type === 'run.failed' || e.type === 'run.cancelled') outputs.promote(run.attemptDir, e.runId);
    const event = eventToWire(e, run.fromDirs, run.toDir);
    if (event) send({ runId: e.runId, attempt: run.attempt, event: e.type === 'run.started' ? { ...event, worker: id } : event });
  });

  // Published to Redis for the API node's GET /api/workers: on every change and as a heartbeat.
  const loadedModels = () => (options.modelStore?.loaded() ?? []).map((file) => relativeTo(options.modelsDir, file));
  const status = (): WorkerStatus => ({
    id, host: hostname(), pid: process.pid,
    state: draining ? 'draining' : running.size > 0 ? 'running' : 'idle',
    runs: [...running.keys()],
    device: options.modelStore?.activeDevice() ?? 'cpu',
    models: loadedModels(),
    concurrency: options.concurrency, runsDone, startedAt, heartbeatAt: Date.now(),
    longestStallMs: Math.max(longestStallMs, Math.round(loopDelay.max / 1e6)),
  });
  const publishStatus = () => publisher.set(workerKey(id), JSON.stringify(status()), 'EX', WORKER_EXPIRY_SECONDS).then(() => undefined, (e: Error) => options.log(`could not publish this worker's status: ${e.message}`));
  const advertise = () => void publishStatus();
  const lockMs = (options.lockSeconds ?? 30) * 1000;
  const heartbeat = setInterval(() => {
    const stall = Math.round(loopDelay.max / 1e6);
    loopDelay.reset();
    longestStallMs = Math.max(longestStallMs, stall);
    // BullMQ renews a lock at half its duration; a loop blocked longer than that risks a takeover of a live run.
    if (stall > lockMs / 2) options.log(`the event loop was blocked for ${stall} ms, more than half the ${lockMs / 1000} s lock: raise --lock-seconds`);
    advertise();
  }, HEARTBEAT_SECONDS * 1000);
  heartbeat.unref();

  async function runJob(taken: Job<RunJob>, token: string | undefined): Promise<void> {
    const job = taken.data;
    // Placement: a run for models this worker has not loaded waits briefly for an idle worker that has them.
    if (await warmWorkerElsewhere({ redis: publisher, self: id, runId: job.runId, wanted: job.models ?? [], loaded: loadedModels() })) {
      await taken.moveToDelayed(Date.now() + PLACEMENT_RETRY_MS, token);
      throw new DelayedError();
    }
    const controller = new AbortController();
    // Its own staging folder (`<runId>.<worker>.<attempt>`), promoted to the run's when it ends.
    const attemptDir = `${job.runId}.${id}.${taken.attemptsStarted}`;
    const outputDir = outputs.begin(attemptDir);
    const run = { controller, fromDirs: [outputDir, realpathSync(outputDir)], toDir: job.stagingDir, attempt: `${id}/${taken.attemptsStarted}`, attemptDir, handedBack: false };
    running.set(job.runId, run);
    advertise();
    try {
      if (await publisher.exists(cancelledKey(job.runId))) controller.abort(new Error('cancelled through the API'));
      await executor.run(job.workflow, {
        runId: job.runId,
        outputs: job.outputs,
        signal: controller.signal,
        services: {
          outputDir,
          inputRoots: [inputs],
          modelRoots: [options.modelsDir],
          cacheDir: path.join(options.dataDir, 'cache'),
          workflow: job.workflow as Workflow,
          ...(options.modelStore ? { modelStore: options.modelStore } : {}),
        },
      });
    } catch (e) {
      const message = e instanceof InvalidWorkflowError ? e.message : `unexpected error on a worker: ${(e as Error).message}`;
      if (!run.handedBack) send({ runId: job.runId, attempt: run.attempt, error: message });
    } finally {
      // Not promoted (handed back, or refused before it started): nothing of it is kept.
      outputs.discard(attemptDir);
      running.delete(job.runId);
      if (!run.handedBack) runsDone += 1;
      advertise();
    }
    if (run.handedBack) {
      // Back to waiting (not failed, no stall counted): another worker takes it and the API node sees a retry.
      await taken.moveToWait(token);
      throw new WaitingError();
    }
  }

  // A clean exit removes this worker from GET /api/workers at once (a dead one lapses with its expiry).
  const disconnect = async () => {
    clearInterval(heartbeat);
    loopDelay.disable();
    await publisher.del(workerKey(id)).catch((e: Error) => options.log(`could not remove this worker's status: ${e.message}`));
    subscriber.disconnect();
    publisher.disconnect();
  };

  void worker.run().catch((e: Error) => options.log(`the worker stopped: ${e.message}`));
  await worker.waitUntilReady();
  await publishStatus();
  return {
    id,
    get runsDone() {
      return runsDone;
    },
    async drain() {
      draining = true;
      advertise();
      await worker.close();
      await disconnect();
    },
    handBack() {
      for (const run of running.values()) {
        run.handedBack = true;
        run.controller.abort(new Error('the worker handed the run back'));
      }
    },
    async close() {
      for (const run of running.values()) run.controller.abort(new Error('the worker is shutting down'));
      await worker.close();
      await disconnect();
    },
  };
}

/** The lock and the stalled-job check share one period: a job whose lock lapsed is found within one more. */
function lockOptions(seconds: number | undefined): { lockDuration?: number; stalledInterval?: number } {
  return seconds === undefined ? {} : { lockDuration: seconds * 1000, stalledInterval: seconds * 1000 };
}

function relativeTo(dir: string, file: string): string {
  const relative = path.relative(dir, file);
  return relative.startsWith('..') || path.isAbsolute(relative) ? file : relative;
}
