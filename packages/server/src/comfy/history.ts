/** /history and /queue entries in ComfyUI's shapes, from the run store and the prompts kept beside it. */
import type { RunManager } from '../runs.ts';
import { TERMINAL_STATUSES } from '../store.ts';
import { outputImages, PromptTranslation, STATUS_MESSAGES } from './messages.ts';
import type { ComfyPromptRecord, ComfyPromptStore } from './prompt-store.ts';

/** ComfyUI's queue item: [number, prompt_id, prompt, extra_data, outputs_to_execute]. */
export type QueueItem = [number, string, Record<string, unknown>, Record<string, unknown>, string[]];

export function queueItem(record: ComfyPromptRecord): QueueItem {
  return [record.number, record.runId, record.prompt, record.extraData, record.outputs];
}

/** ComfyUI keeps at most this many prompts in its history. */
export const MAX_HISTORY = 10_000;

export class ComfyHistory {
  constructor(private readonly manager: RunManager, private readonly prompts: ComfyPromptStore) {}

  /**
   * One finished prompt's entry, or undefined: unknown, still queued or running, or taken out of the
   * queue before it started (in ComfyUI such a prompt is gone).
   */
  entry(promptId: string): Record<string, unknown> | undefined {
    const run = this.manager.store.get(promptId);
    const finished = run && run.startedAt !== null && (TERMINAL_STATUSES as string[]).includes(run.status);
    const record = finished ? this.prompts.get(promptId) : undefined;
    if (!run || !record) return undefined;
    const temp = this.prompts.tempImages(promptId);
    const translation = new PromptTranslation(record, () => temp);
    const messages: [string, Record<string, unknown>][] = [];
    for (const event of this.manager.events(promptId)) {
      for (const m of translation.translate(event as Record<string, unknown> & { type: string })) if (STATUS_MESSAGES.has(m.type)) messages.push([m.type, m.data]);
    }
    const succeeded = run.status === 'succeeded';
    return {
      prompt: queueItem(record),
      outputs: outputImages(record, run.results, temp),
      status: { status_str: succeeded ? 'success' : 'error', completed: succeeded, messages },
      meta: Object.fromEntries(record.outputs.map((id) => [id, { node_id: id, display_node: id }])),
    };
  }

  /** The most recent finished prompts (`maxItems`, after skipping `offset` from the newest), oldest first. */
  entries(maxItems: number, offset: number): Record<string, Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const id of this.prompts.finished(TERMINAL_STATUSES, Math.min(maxItems, MAX_HISTORY), offset)) {
      const entry = this.entry(id);
      if (entry) out[id] = entry;
    }
    return out;
  }

  /** Prompts running and waiting, in queue order. */
  queue(): { queue_running: QueueItem[]; queue_pending: QueueItem[] } {
    const running: QueueItem[] = [];
    const pending: QueueItem[] = [];
    for (const id of this.manager.activeRuns()) {
      const record = this.prompts.get(id);
      if (!record) continue;
      (this.manager.store.get(id)?.status === 'running' ? running : pending).push(queueItem(record));
    }
    return { queue_running: running, queue_pending: pending };
  }
}
