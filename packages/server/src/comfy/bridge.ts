/**
 * The ComfyUI API's view of the run manager: it follows every run submitted through POST /prompt,
 * turns its events into ComfyUI messages for the client that submitted it (every client when the
 * prompt had no client_id, as ComfyUI does), keeps PreviewImage's images as temp files, and tells every
 * client the queue length whenever it changes.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HubMessage, RunManager } from '../runs.ts';
import { parsePreviewFrame } from '../preview.ts';
import { PromptTranslation, type ComfyMessage } from './messages.ts';
import { ComfyPromptStore, type ComfyPromptRecord } from './prompt-store.ts';

/** For one client (`sid`), or for all when sid is null. */
export type ComfyOutbound =
  | { sid: string | null; kind: 'json'; message: ComfyMessage; droppable: boolean }
  | { sid: string | null; kind: 'binary'; frame: Buffer };

/** ComfyUI's binary event type for a preview, and its image formats. */
const PREVIEW_IMAGE = 1;
const IMAGE_TYPE = { 'image/jpeg': 1, 'image/png': 2 } as const;

/** `[event type][image type][image bytes]`, both types 4-byte big-endian. */
export function comfyPreviewFrame(mime: string, image: Buffer): Buffer | null {
  const type = IMAGE_TYPE[mime as keyof typeof IMAGE_TYPE];
  if (!type) return null;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(PREVIEW_IMAGE, 0);
  header.writeUInt32BE(type, 4);
  return Buffer.concat([header, image]);
}

const QUEUE_EVENTS = new Set(['run.queued', 'run.started', 'run.finished', 'run.failed', 'run.cancelled', 'run.interrupted', 'run.deleted']);
const TERMINAL = new Set(['run.finished', 'run.failed', 'run.cancelled']);

interface Live { record: ComfyPromptRecord; translation: PromptTranslation; previews: number }

export class ComfyBridge {
  readonly prompts: ComfyPromptStore;
  private readonly listeners = new Set<(m: ComfyOutbound) => void>();
  /** Runs seen since they started: their prompt (null: not a /prompt run) and translation. */
  private readonly live = new Map<string, Live | null>();
  private readonly unsubscribe: () => void;

  constructor(private readonly manager: RunManager, readonly tempDir: string, private readonly log: (line: string) => void = () => {}) {
    this.prompts = new ComfyPromptStore(manager.store.db);
    mkdirSync(tempDir, { recursive: true });
    this.unsubscribe = manager.subscribe((m) => this.onHub(m));
  }

  subscribe(listener: (m: ComfyOutbound) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.unsubscribe();
  }

  /** ComfyUI's queue info: prompts waiting or running (every run counts: they share the one queue). */
  queueInfo(): { exec_info: { queue_remaining: number } } {
    const counts = this.manager.store.counts();
    return { exec_info: { queue_remaining: counts.queued + counts.running } };
  }

  private liveRun(runId: string): Live | null {
    let live = this.live.get(runId);
    if (live === undefined) {
      const record = this.prompts.get(runId);
      live = record ? { record, translation: new PromptTranslation(record, () => this.prompts.tempImages(runId)), previews: 0 } : null;
      this.live.set(runId, live);
    }
    return live;
  }

  private onHub(m: HubMessage): void {
    const type = m.kind === 'json' ? String(m.data.type) : 'node.preview';
    if (type === 'run.deleted') {
      this.prompts.delete(m.runId);
      rmSync(path.join(this.tempDir, m.runId), { recursive: true, force: true });
    }
    // A /prompt run is recorded just after it is queued: its own events start with run.started.
    if (type !== 'run.queued' && type !== 'run.deleted') {
      const live = this.liveRun(m.runId);
      if (live && m.kind === 'binary') this.onPreview(live, m.frame);
      if (live && m.kind === 'json') {
        for (const message of live.translation.translate(m.data as Record<string, unknown> & { type: string })) {
          this.emit({ sid: live.record.clientId, kind: 'json', message, droppable: message.type === 'progress' });
        }
      }
      if (TERMINAL.has(type) || type === 'run.interrupted') this.live.delete(m.runId);
    }
    if (QUEUE_EVENTS.has(type)) this.emit({ sid: null, kind: 'json', message: { type: 'status', data: { status: this.queueInfo() } }, droppable: false });
  }

  /** A PreviewImage's image is its result (kept as a temp file); anything else is a live preview. */
  private onPreview(live: Live, frame: Buffer): void {
    const { header, image } = parsePreviewFrame(frame);
    const node = live.record.origins[String(header.nodeId)] ?? String(header.nodeId);
    const classType = (live.record.prompt[node] as { class_type?: string } | undefined)?.class_type;
    if (classType === 'PreviewImage') {
      const ext = header.mime === 'image/jpeg' ? 'jpg' : 'png';
      const filename = `ComfyUI_temp_${node.replace(/[^\w-]/g, '_')}_${String(++live.previews).padStart(5, '0')}_.${ext}`;
      const dir = path.join(this.tempDir, live.record.runId);
      try {
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, filename), image);
        this.prompts.addTempImage(live.record.runId, node, filename);
      } catch (e) {
        this.log(`could not keep a PreviewImage image of prompt ${live.record.runId}: ${(e as Error).message}`);
      }
      return;
    }
    const comfyFrame = comfyPreviewFrame(String(header.mime), image);
    if (comfyFrame) this.emit({ sid: live.record.clientId, kind: 'binary', frame: comfyFrame });
  }

  private emit(m: ComfyOutbound): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(m);
      } catch (e) {
        this.log(`ComfyUI subscriber failed: ${(e as Error).message}`);
      }
    }
  }
}
