/**
 * A run's events as ComfyUI's WebSocket messages, with ComfyUI's node ids: execution_start,
 * execution_cached, executing (once per ComfyUI node, however many of our nodes it became; node null
 * when the prompt is done, whatever the outcome), progress, executed (per output node, with its images),
 * execution_success / execution_error / execution_interrupted. The same translation, fed the run's
 * event log, gives /history's status messages.
 */
import path from 'node:path';
import type { ComfyPromptRecord, TempImage } from './prompt-store.ts';

export interface ComfyMessage { type: string; data: Record<string, unknown> }
export interface ComfyImageRef { filename: string; subfolder: string; type: 'output' | 'temp' | 'input' }

/** The messages /history keeps as a prompt's status messages (ComfyUI's own choice). */
export const STATUS_MESSAGES = new Set(['execution_start', 'execution_cached', 'execution_success', 'execution_error', 'execution_interrupted']);

function classOf(record: ComfyPromptRecord, comfyId: string): string {
  const node = record.prompt[comfyId] as { class_type?: unknown } | undefined;
  return typeof node?.class_type === 'string' ? node.class_type : '';
}

/** Each output node's images: SaveImage's files (type output), PreviewImage's temp files. */
export function outputImages(record: ComfyPromptRecord, results: Record<string, unknown> | null, temp: readonly TempImage[]): Record<string, { images: ComfyImageRef[] }> {
  const out: Record<string, { images: ComfyImageRef[] }> = {};
  for (const comfyId of record.outputs) {
    let images: ComfyImageRef[];
    if (classOf(record, comfyId) === 'PreviewImage') {
      images = temp.filter((t) => t.node === comfyId).map((t) => ({ filename: t.filename, subfolder: t.subfolder, type: 'temp' }));
    } else {
      const result = results?.[comfyId] as { status?: string; values?: { paths?: unknown } } | undefined;
      const paths = result?.status === 'succeeded' && Array.isArray(result.values?.paths) ? result.values.paths as { file?: unknown }[] : [];
      images = paths.filter((p) => typeof p?.file === 'string').map((p) => {
        const file = p.file as string;
        return { filename: path.posix.basename(file), subfolder: path.posix.dirname(file), type: 'output' };
      });
    }
    if (images.length > 0) out[comfyId] = { images };
  }
  return out;
}

type RunEvent = Record<string, unknown> & { type: string };

export class PromptTranslation {
  private started = false;
  private executing: string | null = null;
  private readonly done = new Set<string>();
  private failure: { node: string; message: string } | undefined;

  constructor(private readonly record: ComfyPromptRecord, private readonly tempImages: () => readonly TempImage[]) {}

  private comfyId(nodeId: unknown): string {
    return this.record.origins[String(nodeId)] ?? String(nodeId);
  }

  private isOwnNode(nodeId: unknown): boolean {
    return this.comfyId(nodeId) === String(nodeId);
  }

  private get promptId(): string {
    return this.record.runId;
  }

  translate(event: RunEvent): ComfyMessage[] {
    const prompt_id = this.promptId;
    const timestamp = typeof event.time === 'number' ? event.time : Date.now();
    switch (event.type) {
      case 'run.started':
        this.started = true;
        return [{ type: 'execution_start', data: { prompt_id, timestamp } }];
      // A ComfyUI node is announced by its own node (a KSampler by its Sample, not by the helpers
      // that run before it), so each is announced once and its progress follows its announcement.
      case 'node.cached': {
        if (!this.isOwnNode(event.nodeId)) return [];
        const node = this.comfyId(event.nodeId);
        this.done.add(node);
        return [{ type: 'execution_cached', data: { nodes: [node], prompt_id, timestamp } }];
      }
      case 'node.started': {
        if (!this.isOwnNode(event.nodeId)) return [];
        const node = this.comfyId(event.nodeId);
        this.executing = node;
        return [{ type: 'executing', data: { node, display_node: node, prompt_id } }];
      }
      case 'node.finished':
        if (this.isOwnNode(event.nodeId)) this.done.add(this.comfyId(event.nodeId));
        return [];
      case 'node.progress': {
        const node = this.comfyId(event.nodeId);
        return [{ type: 'progress', data: { value: event.value, max: event.max, prompt_id, node } }];
      }
      case 'node.failed': {
        const error = event.error as { nodeId?: string; message?: string } | undefined;
        if (error?.nodeId === event.nodeId) this.failure ??= { node: this.comfyId(event.nodeId), message: String(error?.message ?? '') };
        return [];
      }
      case 'run.finished':
      case 'run.failed':
      case 'run.cancelled':
        return this.finished(event, prompt_id, timestamp);
      default:
        return [];
    }
  }

  private finished(event: RunEvent, prompt_id: string, timestamp: number): ComfyMessage[] {
    // A prompt cancelled while it waited never started: ComfyUI drops it from the queue silently.
    if (!this.started) return [];
    const messages: ComfyMessage[] = [];
    const images = outputImages(this.record, (event.outputs as Record<string, unknown> | undefined) ?? null, this.tempImages());
    for (const [node, output] of Object.entries(images)) messages.push({ type: 'executed', data: { node, display_node: node, output, prompt_id } });
    const executed = [...this.done];
    if (event.type === 'run.finished') {
      messages.push({ type: 'execution_success', data: { prompt_id, timestamp } });
    } else if (event.type === 'run.failed') {
      const node = this.failure?.node ?? this.executing;
      messages.push({
        type: 'execution_error',
        data: {
          prompt_id, node_id: node, node_type: node === null ? null : classOf(this.record, node), executed,
          exception_message: this.failure?.message ?? String(event.message ?? ''), exception_type: 'Exception', traceback: [],
          current_inputs: {}, current_outputs: {}, timestamp,
        },
      });
    } else {
      const node = this.executing;
      messages.push({ type: 'execution_interrupted', data: { prompt_id, node_id: node, node_type: node === null ? null : classOf(this.record, node), executed, timestamp } });
    }
    messages.push({ type: 'executing', data: { node: null, display_node: null, prompt_id } });
    return messages;
  }
}
