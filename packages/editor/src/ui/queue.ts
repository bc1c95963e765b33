/**
 * The Queue tab: running, queued and finished runs from GET /api/runs, kept live by the run events
 * every run sends (the editor subscribes to all). Cancel a queued or running run, open a finished
 * run's workflow and outputs, delete it from the history.
 */
import type { Api, RunSummary } from '../api.ts';
import type { ServerEvent } from '../events.ts';
import { toast } from './dialogs.ts';
import { clear, h } from './dom.ts';

export interface QueueCallbacks {
  open(runId: string): void;
}

const ACTIVE = new Set(['queued', 'running']);
const REFRESHING_EVENTS = new Set(['run.queued', 'run.started', 'run.finished', 'run.failed', 'run.cancelled', 'run.interrupted', 'run.deleted']);

const time = (ms: number | null | undefined) => (ms ? new Date(ms).toLocaleTimeString() : '');
const seconds = (from: number | null | undefined, to: number | null | undefined) => (from && to ? `${((to - from) / 1000).toFixed(1)} s` : '');

export class QueuePanel {
  private runs: RunSummary[] = [];
  private readonly progress = new Map<string, string>();
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly pane: HTMLElement, private readonly api: Api, private readonly callbacks: QueueCallbacks) {}

  /** Every event of every run passes here; run changes re-read the list (debounced), progress is shown as it comes. */
  onEvent(e: ServerEvent): void {
    if (!e.runId) return;
    if (e.type === 'node.progress') {
      this.progress.set(e.runId, `${String(e.nodeId)} ${String(e.value)}/${String(e.max)}`);
      const cell = this.pane.querySelector(`[data-run="${CSS.escape(e.runId)}"] .progress`);
      if (cell) cell.textContent = this.progress.get(e.runId)!;
    } else if (e.type === 'node.started') {
      this.progress.set(e.runId, String(e.nodeId));
    }
    if (REFRESHING_EVENTS.has(e.type)) this.scheduleRefresh();
  }

  scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => void this.refresh(), 100);
  }

  async refresh(): Promise<void> {
    try {
      this.runs = await this.api.runs({ limit: 50 });
    } catch (e) {
      clear(this.pane);
      this.pane.append(h('p', { class: 'empty' }, `Cannot list runs: ${(e as Error).message}`));
      return;
    }
    for (const id of this.progress.keys()) if (!this.runs.some((r) => r.id === id && ACTIVE.has(r.status))) this.progress.delete(id);
    this.render();
  }

  private render(): void {
    clear(this.pane);
    if (this.runs.length === 0) {
      this.pane.append(h('p', { class: 'empty' }, 'No runs yet.'));
      return;
    }
    const sections: [string, RunSummary[]][] = [
      ['Running', this.runs.filter((r) => r.status === 'running')],
      ['Queued', this.runs.filter((r) => r.status === 'queued').reverse()],
      ['History', this.runs.filter((r) => !ACTIVE.has(r.status))],
    ];
    for (const [title, runs] of sections) {
      if (runs.length === 0) continue;
      this.pane.append(h('h3', { class: 'queue-title' }, `${title} (${runs.length})`), h('ul', { class: 'queue' }, ...runs.map((r) => this.row(r))));
    }
  }

  private row(run: RunSummary): HTMLElement {
    const button = (label: string, title: string, action: () => void) => h('button', { title, 'data-action': label.toLowerCase(), onclick: () => action() }, label);
    const actions = ACTIVE.has(run.status)
      ? [button('Cancel', 'Cancel this run', () => void this.api.cancel(run.id).then(() => this.scheduleRefresh()))]
      : [
        button('Open', 'Open this run\'s workflow and outputs', () => this.callbacks.open(run.id)),
        button('Delete', 'Delete this run from the history (its files stay)', () => void this.api.deleteRun(run.id).then(() => this.scheduleRefresh(), (e: Error) => toast(e.message, 'error'))),
      ];
    const when = run.status === 'queued' ? `queued ${time(run.createdAt)}` : run.finishedAt ? `${time(run.finishedAt)} · ${seconds(run.startedAt, run.finishedAt)}` : `started ${time(run.startedAt)}`;
    return h('li', { 'data-run': run.id, 'data-status': run.status, 'data-testid': `queue-run-${run.id}`, title: run.error ?? '' },
      h('div', { class: 'queue-head' }, h('span', { class: `badge ${run.status}` }, run.status), h('b', {}, run.title ?? run.id.slice(0, 8))),
      h('div', { class: 'queue-meta' }, h('span', {}, when), h('span', { class: 'progress' }, this.progress.get(run.id) ?? '')),
      ...(run.error ? [h('div', { class: 'queue-error' }, run.error)] : []),
      h('div', { class: 'queue-actions' }, ...actions));
  }
}
