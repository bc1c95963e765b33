/**
 * WS /api/events: JSON text frames are the executor's events (plus `run.state` snapshots on
 * subscribing); binary frames are previews: uint32 header length, header JSON, then the image bytes.
 * Reconnects by itself and subscribes again to the runs it watched (the server replays their state).
 */
export type ServerEvent = { type: string; runId?: string; nodeId?: string; [key: string]: unknown };
export interface PreviewEvent {
  runId: string;
  nodeId: string;
  mime: string;
  /** A data: URL (the server's CSP allows data: images). */
  url: string;
  width: number | null;
  height: number | null;
  index: number;
}

export interface EventClientOptions {
  onEvent(event: ServerEvent): void;
  onPreview(preview: PreviewEvent): void;
  onStatus?(connected: boolean): void;
}

function dataUrl(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

export class EventClient {
  private ws: WebSocket | undefined;
  private readonly runs = new Set<string>();
  private all = false;
  private closed = false;
  private retry = 500;
  connected = false;

  constructor(private readonly options: EventClientOptions, private readonly url = defaultUrl()) {
    this.connect();
  }

  watch(runId: string): void {
    this.runs.add(runId);
    this.send({ type: 'subscribe', runId });
  }

  /** Every run's events (the queue panel): one subscription, so no event arrives twice. */
  watchAll(): void {
    this.all = true;
    this.send({ type: 'subscribe', all: true });
  }

  unwatch(runId: string): void {
    this.runs.delete(runId);
    this.send({ type: 'unsubscribe', runId });
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
  }

  private send(message: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private connect(): void {
    const ws = new WebSocket(this.url, 'diffgraph.v1');
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    ws.onopen = () => {
      this.connected = true;
      this.retry = 500;
      this.options.onStatus?.(true);
      if (this.all) this.send({ type: 'subscribe', all: true });
      for (const runId of this.runs) this.send({ type: 'subscribe', runId });
    };
    ws.onclose = () => {
      this.connected = false;
      this.options.onStatus?.(false);
      if (!this.closed) setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 8000);
    };
    ws.onmessage = (m) => {
      if (typeof m.data === 'string') {
        try {
          this.options.onEvent(JSON.parse(m.data) as ServerEvent);
        } catch {
          // Not JSON: ignored.
        }
        return;
      }
      void this.onBinary(m.data as ArrayBuffer);
    };
  }

  private async onBinary(buffer: ArrayBuffer): Promise<void> {
    const view = new DataView(buffer);
    if (buffer.byteLength < 4) return;
    const n = view.getUint32(0);
    const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n))) as Record<string, unknown>;
    const mime = String(header.mime ?? 'image/png');
    const url = await dataUrl(new Blob([new Uint8Array(buffer, 4 + n)], { type: mime }));
    this.options.onPreview({
      runId: String(header.runId), nodeId: String(header.nodeId), mime, url,
      width: (header.width as number | null) ?? null, height: (header.height as number | null) ?? null, index: Number(header.index ?? 0),
    });
  }
}

function defaultUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === 'https:' ? 'wss' : 'ws'}://${host}/api/events`;
}
