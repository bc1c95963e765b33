/** The executor's events (DESIGN §4.5), delivered to subscribers synchronously and in order. */

export interface NodeFailure {
  /** The node whose own run threw (for a descendant, the ancestor that failed). */
  nodeId: string;
  message: string;
}

export type OutputResult =
  | { status: 'succeeded'; values: Record<string, unknown> }
  | { status: 'failed'; error: NodeFailure }
  | { status: 'cancelled' };

interface Base {
  runId: string;
  time: number;
}

export type EngineEvent =
  | (Base & { type: 'run.queued' })
  | (Base & { type: 'run.started'; nodes: string[] })
  | (Base & { type: 'node.started'; nodeId: string; nodeType: string })
  | (Base & { type: 'node.cached'; nodeId: string; nodeType: string })
  | (Base & { type: 'node.progress'; nodeId: string; value: number; max: number })
  | (Base & { type: 'node.preview'; nodeId: string; image: unknown })
  | (Base & { type: 'node.log'; nodeId: string; message: string })
  | (Base & { type: 'node.finished'; nodeId: string; nodeType: string; seconds: number })
  | (Base & { type: 'node.failed'; nodeId: string; nodeType: string; error: NodeFailure })
  | (Base & { type: 'run.finished'; outputs: Record<string, OutputResult> })
  | (Base & { type: 'run.failed'; outputs: Record<string, OutputResult>; message: string })
  | (Base & { type: 'run.cancelled'; outputs: Record<string, OutputResult> });

export type EventType = EngineEvent['type'];
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
export type EventBody = DistributiveOmit<EngineEvent, 'time'>;
export type Listener = (event: EngineEvent) => void;

export class EventBus {
  private readonly listeners = new Set<Listener>();

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(body: EventBody): void {
    const event = { ...body, time: Date.now() } as EngineEvent;
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A faulty subscriber must not break the run or starve the others.
      }
    }
  }
}
