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
  /**
   * Set when this node follows again a run it dispatched before it stopped: the position of the last
   * event it recorded (null: none yet). The run is not dispatched again unless the queue lost it.
   */
  resumeAfter?: string | null;
}

export interface RunDispatcher {
  /** Runs it may hold at once (the run manager starts no more). */
  readonly slots: number;
  /** For `/api/health`: where runs go and whether it is reachable now. */
  health(): Record<string, unknown>;
  /**
   * Runs `run` elsewhere: `onEvent` gets its engine events in the order they happened, each with its
   * position (to record with it, for `resumeAfter`; none for live-only events such as previews), and the
   * promise settles once its terminal event (run.finished, run.failed or run.cancelled) arrived. Aborting
   * `signal` cancels it. Rejects with a RemoteRunError when the worker could not run it at all, and with a
   * DetachedError when the dispatcher closes while the run goes on elsewhere.
   */
  run(run: DispatchedRun, signal: AbortSignal, onEvent: (e: EngineEvent, position?: string) => void): Promise<void>;
  /** Stops following runs (they go on on their workers) and disconnects. */
  close(): Promise<void>;
}

/** A worker refused or failed a run before its executor started it; the message is for the user. */
export class RemoteRunError extends Error {}

/** This node stopped following a run that goes on elsewhere: it is neither finished nor to be re-queued. */
export class DetachedError extends Error {}
