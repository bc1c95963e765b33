/**
 * The server's side of one WebSocket client. Every frame the hub sends (replies, replays, `run.state`,
 * live events, previews) goes through `send`, so one set of limits bounds what a client can make the
 * server hold, however it behaves:
 *
 * - above `slowBytes` unsent, the client gets no progress or previews, its replays wait, and its own
 *   messages are not read (so a flood of requests cannot outrun the replies it leaves unread);
 * - a client that does not answer a ping within `pingTimeoutMs` (it is not reading: the ping waits
 *   behind what it left unread, however much of that the kernel's socket buffers took), or that a frame
 *   would take above `maxBufferedBytes` unsent, is closed with code 4008 (CLOSE_TOO_SLOW) and a reason.
 *   A client that reads, even slowly, keeps up: replay pages wait for it, and progress and previews are
 *   skipped while it is behind.
 *
 * Replays are paged: `replayPageEvents` recorded events at a time, and the next page is read from the
 * log only once the previous one has been written out to the socket (and other waiting work has run).
 * Subscribing again to a run whose replay is under way does not start a second one: the one in
 * progress covers it (it starts over only when asked for earlier events). While a run is being
 * replayed to a client, its live recorded events are not sent directly (the replay reads them from
 * the log, in order, exactly once) and its live progress and previews are skipped (the `run.state`
 * that ends the replay carries the latest progress).
 */
import type { WebSocket } from 'ws';

export interface WsLimits {
  /** Unsent bytes above which a client is slow: see above. */
  slowBytes: number;
  /** A frame that would take a client's unsent bytes above this closes the client instead. */
  maxBufferedBytes: number;
  /** A client that has not answered a ping after this long is closed; pings go out this often. */
  pingTimeoutMs: number;
  /** Recorded events per replay page. */
  replayPageEvents: number;
  /** Runs and clientIds one connection may follow at once. */
  maxSubscriptions: number;
}

export const DEFAULT_WS_LIMITS: WsLimits = {
  slowBytes: 4 * 1024 ** 2,
  maxBufferedBytes: 64 * 1024 ** 2,
  pingTimeoutMs: 30_000,
  replayPageEvents: 256,
  maxSubscriptions: 1024,
};

/** The close code for a client that does not read what it is sent (a private-use code, 4000-4999). */
export const CLOSE_TOO_SLOW = 4008;

/** Where replays come from: the run's event log and its current state. */
export interface ReplaySource {
  /** Recorded events with a seq above `after`, oldest first, at most `limit`. */
  events(runId: string, after: number, limit: number): Record<string, unknown>[];
  /** The seq of the run's latest recorded event (0 when none). */
  lastSeq(runId: string): number;
  /** The run as GET /api/runs/:id shows it; undefined once it is deleted. */
  state(runId: string): Record<string, unknown> | undefined;
}

export interface SendOptions {
  binary?: boolean;
  /** Skipped (not queued) while the client is slow: progress and previews. */
  droppable?: boolean;
}

const MiB = (bytes: number) => (bytes / 1024 ** 2).toFixed(1);

export class HubClient {
  all = false;
  readonly runs = new Set<string>();
  /** Follows every run submitted with one of these clientIds. */
  readonly clientIds = new Set<string>();
  /**
   * Runs whose replay is still to be sent, in request order: recorded events after `cursor`, then
   * `run.state`. `from` is where it started: every event after it reaches the client.
   */
  private readonly replays = new Map<string, { from: number; cursor: number }>();
  private pageInFlight = false;
  private awaitingPong = false;
  private closing = false;
  private readonly onFlushed = (err?: Error | null) => {
    if (!err && !this.slow) this.resume();
  };

  constructor(readonly ws: WebSocket, private readonly limits: WsLimits, private readonly source: ReplaySource) {
    ws.on('pong', () => (this.awaitingPong = false));
  }

  /** Open and not being closed: worth reading its messages and sending to. */
  get open(): boolean {
    return !this.closing && this.ws.readyState === this.ws.OPEN;
  }

  get slow(): boolean {
    return this.ws.bufferedAmount > this.limits.slowBytes;
  }

  get subscriptionCount(): number {
    return this.runs.size + this.clientIds.size;
  }

  follows(runId: string, clientId: string | null | undefined): boolean {
    return this.all || this.runs.has(runId) || (!!clientId && this.clientIds.has(clientId));
  }

  /** Whether the run is being replayed to this client (its live recorded events then come from the log). */
  replaying(runId: string): boolean {
    return this.replays.has(runId);
  }

  /** The one way a frame reaches the client. False when it was not sent (dropped, or the client is closed). */
  send(frame: string | Buffer, options: SendOptions = {}, flushed?: () => void): boolean {
    if (!this.open) return false;
    const buffered = this.ws.bufferedAmount;
    if (options.droppable && buffered > this.limits.slowBytes) return false;
    const bytes = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.length;
    if (buffered + bytes > this.limits.maxBufferedBytes) {
      this.closeTooSlow(`over ${MiB(this.limits.maxBufferedBytes)} MiB unsent`);
      return false;
    }
    this.ws.send(frame, { binary: options.binary ?? false }, flushed ? (err) => { this.onFlushed(err); flushed(); } : this.onFlushed);
    // Not reading its requests while it does not read our answers bounds the work a flood can cause.
    if (this.slow && !this.ws.isPaused) this.ws.pause();
    return true;
  }

  sendJson(data: Record<string, unknown>): boolean {
    return this.send(JSON.stringify(data));
  }

  /**
   * Queues a replay of the run: its recorded events after `after` (none when undefined), then its
   * `run.state`. A replay already under way covers the request unless it asks for earlier events:
   * then it starts again from there. Either way there is one replay per run.
   */
  replay(runId: string, after?: number): void {
    const from = after ?? this.source.lastSeq(runId);
    const queued = this.replays.get(runId);
    if (!queued || from < queued.from) this.replays.set(runId, { from, cursor: from });
    this.pump();
  }

  /** Stops following the run and drops its pending replay. */
  forget(runId: string): void {
    this.runs.delete(runId);
    this.replays.delete(runId);
  }

  /** Called every pingTimeoutMs: closes a client that left the last ping unanswered, pings the others. */
  heartbeat(): void {
    if (!this.open) return;
    if (this.awaitingPong) return this.closeTooSlow(`no answer to a ping for ${Math.round(this.limits.pingTimeoutMs / 1000)} s (not reading)`);
    this.awaitingPong = true;
    this.ws.ping();
  }

  dispose(): void {
    this.replays.clear();
  }

  /** Sends replay pages while the client keeps up; one page in flight at a time. */
  private pump(): void {
    while (!this.pageInFlight && this.replays.size > 0 && this.open && !this.slow) {
      const [runId, replay] = this.replays.entries().next().value as [string, { from: number; cursor: number }];
      const page = this.source.events(runId, replay.cursor, this.limits.replayPageEvents);
      if (page.length === this.limits.replayPageEvents) {
        replay.cursor = page.at(-1)!.seq as number;
        this.pageInFlight = true;
        const last = page.length - 1;
        for (let i = 0; i < last; i++) this.sendJson(page[i]);
        // The next page is read once this one is written out (the socket took it), after other work
        // waiting in the event loop: a long replay does not hold up the server.
        const sent = this.send(JSON.stringify(page[last]), {}, () => setImmediate(() => {
          this.pageInFlight = false;
          this.pump();
        }));
        if (!sent) this.pageInFlight = false;
        continue;
      }
      // The last page: nothing recorded after it can be missed, since live events are recorded before
      // they are broadcast and this runs without yielding.
      this.replays.delete(runId);
      for (const event of page) this.sendJson(event);
      const state = this.source.state(runId);
      if (state) this.sendJson({ type: 'run.state', runId, run: state });
    }
  }

  private resume(): void {
    if (this.ws.isPaused && this.open) this.ws.resume();
    this.pump();
  }

  private closeTooSlow(why: string): void {
    if (this.closing) return;
    this.closing = true;
    this.dispose();
    // Read again, so the client's answer to the close frame ends the connection at once.
    this.ws.resume();
    this.ws.close(CLOSE_TOO_SLOW, `client too slow: ${why}`);
  }
}
