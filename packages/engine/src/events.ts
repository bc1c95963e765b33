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

export const EVENT_TYPES = [
  'run.queued', 'run.started', 'node.started', 'node.cached', 'node.progress', 'node.preview', 'node.log',
  'node.finished', 'node.failed', 'run.finished', 'run.failed', 'run.cancelled',
] as const satisfies readonly EventType[];
// Fails to compile when an event type is added to EngineEvent but not to EVENT_TYPES.
const everyTypeListed: Exclude<EventType, (typeof EVENT_TYPES)[number]> extends never ? true : never = true;
void everyTypeListed;
type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
export type EventBody = DistributiveOmit<EngineEvent, 'time'>;
export type Listener = (event: EngineEvent) => void;

export class EventBus {
  private readonly listeners = new Map<Listener, ReadonlySet<EventType> | null>();

  /** `types` limits what the listener receives (and tells producers what is wanted); omit for all. */
  subscribe(listener: Listener, types?: readonly EventType[]): () => void {
    this.listeners.set(listener, types ? new Set(types) : null);
    return () => this.listeners.delete(listener);
  }

  /** Whether any subscriber receives this event type: lets nodes skip work (preview images) nobody sees. */
  wants(type: EventType): boolean {
    for (const types of this.listeners.values()) if (types === null || types.has(type)) return true;
    return false;
  }

  emit(body: EventBody): void {
    // Progress events come every step: with no subscriber, build nothing.
    if (this.listeners.size === 0) return;
    const event = { ...body, time: Date.now() } as EngineEvent;
    for (const [listener, types] of [...this.listeners]) {
      if (types !== null && !types.has(event.type)) continue;
      try {
        listener(event);
      } catch {
        // A faulty subscriber must not break the run or starve the others.
      }
    }
  }
}
