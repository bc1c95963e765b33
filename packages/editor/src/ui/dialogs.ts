/** Small overlays: a value prompt, a toast, the hover tooltip, a modal panel. */
import { h } from './dom.ts';

export function prompt(options: { title: string; value: string; multiline: boolean; clientX: number; clientY: number }): Promise<string | null> {
  return new Promise((resolve) => {
    const field = options.multiline
      ? h('textarea', { class: 'prompt-input', rows: 6, spellcheck: 'false', 'data-testid': 'prompt-input' })
      : h('input', { class: 'prompt-input', type: 'text', spellcheck: 'false', 'data-testid': 'prompt-input' });
    field.value = options.value;
    const ok = h('button', { class: 'primary', 'data-testid': 'prompt-ok' }, 'OK');
    const cancel = h('button', {}, 'Cancel');
    const box = h('div', { class: 'prompt', role: 'dialog', 'aria-label': options.title },
      h('div', { class: 'prompt-title' }, options.title, options.multiline ? h('span', { class: 'hint' }, ' Ctrl+Enter to confirm') : null),
      field, h('div', { class: 'prompt-buttons' }, cancel, ok));
    const backdrop = h('div', { class: 'prompt-backdrop' }, box);
    const done = (value: string | null) => {
      backdrop.remove();
      resolve(value);
    };
    ok.addEventListener('click', () => done(field.value));
    cancel.addEventListener('click', () => done(null));
    backdrop.addEventListener('pointerdown', (e) => {
      if (e.target === backdrop) done(null);
    });
    field.addEventListener('keydown', (e) => {
      const ev = e as KeyboardEvent;
      ev.stopPropagation();
      if (ev.key === 'Escape') done(null);
      else if (ev.key === 'Enter' && (!options.multiline || ev.ctrlKey || ev.metaKey)) {
        ev.preventDefault();
        done(field.value);
      }
    });
    document.body.append(backdrop);
    const w = options.multiline ? 420 : 280;
    box.style.left = `${Math.max(8, Math.min(window.innerWidth - w - 8, options.clientX - w / 2))}px`;
    box.style.top = `${Math.max(8, Math.min(window.innerHeight - 220, options.clientY - 30))}px`;
    box.style.width = `${w}px`;
    field.focus();
    field.select();
  });
}

let toastTimer: ReturnType<typeof setTimeout> | undefined;

export function toast(message: string, kind: 'info' | 'error' = 'info'): void {
  let el = document.querySelector<HTMLDivElement>('.toast');
  if (!el) {
    el = h('div', { class: 'toast', role: 'status', 'data-testid': 'toast' });
    document.body.append(el);
  }
  el.textContent = message;
  el.className = `toast ${kind} visible`;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => el!.classList.remove('visible'), kind === 'error' ? 6000 : 3000);
}

let tooltip: HTMLDivElement | undefined;
let tooltipTimer: ReturnType<typeof setTimeout> | undefined;

export function showTooltip(text: string | null, x: number, y: number): void {
  tooltip ??= document.body.appendChild(h('div', { class: 'tooltip', role: 'tooltip' }));
  clearTimeout(tooltipTimer);
  if (!text) {
    tooltip.classList.remove('visible');
    return;
  }
  const el = tooltip;
  tooltipTimer = setTimeout(() => {
    el.textContent = text;
    el.style.left = `${Math.min(window.innerWidth - 330, x + 14)}px`;
    el.style.top = `${y + 16}px`;
    el.classList.add('visible');
  }, 350);
}

/** A modal panel with a title and a close button; resolves when closed. */
export function modal(title: string, body: Node, testId?: string): { close(): void; closed: Promise<void> } {
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const closeButton = h('button', { class: 'close', 'aria-label': 'Close' }, '×');
  const panel = h('div', { class: 'modal', role: 'dialog', 'aria-label': title, 'data-testid': testId }, h('div', { class: 'modal-head' }, h('h2', {}, title), closeButton), body);
  const backdrop = h('div', { class: 'modal-backdrop' }, panel);
  const close = () => {
    backdrop.remove();
    document.removeEventListener('keydown', onKey, true);
    resolveClosed();
  };
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      close();
    }
  };
  closeButton.addEventListener('click', close);
  backdrop.addEventListener('pointerdown', (e) => {
    if (e.target === backdrop) close();
  });
  document.addEventListener('keydown', onKey, true);
  document.body.append(backdrop);
  return { close, closed };
}

/** A yes/no question; resolves true when the user confirms. Escape, the backdrop and Cancel say no. */
export function confirmDialog(options: { title: string; message: string; confirm: string; cancel?: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const ok = h('button', { class: 'primary danger', 'data-testid': 'confirm-ok' }, options.confirm);
    const no = h('button', { 'data-testid': 'confirm-cancel' }, options.cancel ?? 'Cancel');
    const box = h('div', { class: 'prompt confirm', role: 'alertdialog', 'aria-label': options.title, 'data-testid': 'confirm' },
      h('div', { class: 'prompt-title' }, options.title), h('p', {}, options.message), h('div', { class: 'prompt-buttons' }, no, ok));
    const backdrop = h('div', { class: 'prompt-backdrop' }, box);
    const done = (value: boolean) => {
      backdrop.remove();
      document.removeEventListener('keydown', onKey, true);
      resolve(value);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        done(false);
      }
    };
    ok.addEventListener('click', () => done(true));
    no.addEventListener('click', () => done(false));
    backdrop.addEventListener('pointerdown', (e) => {
      if (e.target === backdrop) done(false);
    });
    document.addEventListener('keydown', onKey, true);
    document.body.append(backdrop);
    box.style.left = `${Math.max(8, window.innerWidth / 2 - 180)}px`;
    box.style.top = `${Math.max(8, window.innerHeight / 3 - 60)}px`;
    box.style.width = '360px';
    no.focus();
  });
}
