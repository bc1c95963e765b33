/**
 * Where a run the RunManager starts is executed. By default in this process, on its own Executor; with
 * `serve --queue redis://…` a dispatcher hands it to a worker (scale-out/dispatcher.ts) and feeds the
 * worker's engine events back, so history, WebSocket events and file commits stay the same.
 */
import type { EngineEvent } from '@diffgraph/engine';

export interface DispatchedRun {
  runId: string;
  workflow: unknown;
  outputs: string[];
  /** The run's staging folder on this node, where its files must appear before they are committed. */
  stagingDir: string;
}

export interface RunDispatcher {
  /** Runs it may hold at once (the run manager starts no more). */
  readonly slots: number;
  /**
   * Runs `run` elsewhere: `onEvent` gets its engine events in the order they happened, and the promise
   * settles once its terminal event (run.finished, run.failed or run.cancelled) arrived. Aborting
   * `signal` cancels it. Rejects with a RemoteRunError when the worker could not run it at all.
   */
  /** For `/api/health`: where runs go and whether it is reachable now. */
  health(): Record<string, unknown>;
  run(run: DispatchedRun, signal: AbortSignal, onEvent: (e: EngineEvent) => void): Promise<void>;
  close(): Promise<void>;
}

/** A worker refused or failed a run before its executor started it; the message is for the user. */
export class RemoteRunError extends Error {}
