/**
 * The node palette (categories and search, generated from GET /api/nodes) and the floating search
 * opened by double-clicking the canvas or pressing "/". Click adds a node in the middle of the view;
 * dragging an entry onto the canvas adds it where it is dropped.
 */
import type { Catalog, NodeInfo } from '../catalog.ts';
import { typeColor } from '../catalog.ts';
import { clear, h } from './dom.ts';

export const DRAG_TYPE = 'application/x-diffgraph-node';

function describeNode(def: NodeInfo): string {
  const ins = Object.entries(def.inputs).map(([n, s]) => `${n}: ${s.type}${s.optional ? '?' : ''}`);
  const outs = Object.entries(def.outputs).map(([n, s]) => `${n}: ${s.type}`);
  return `${def.type} — ${def.description}\nin: ${ins.join(', ') || '—'}\nout: ${outs.join(', ') || '—'}`;
}

function entry(def: NodeInfo, onPick: (type: string) => void): HTMLElement {
  const dots = h('span', { class: 'dots' }, ...Object.values(def.outputs).map((o) => {
    const dot = h('span', { class: 'dot' });
    dot.style.background = typeColor(o.type);
    return dot;
  }));
  const item = h('li', { class: 'node-entry', draggable: 'true', title: describeNode(def), 'data-type': def.type, 'data-testid': `palette-${def.type}`, tabindex: 0 },
    h('div', { class: 'node-name' }, def.type, dots),
    h('div', { class: 'node-desc' }, def.description));
  item.addEventListener('click', () => onPick(def.type));
  item.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') onPick(def.type);
  });
  item.addEventListener('dragstart', (e) => {
    const ev = e as DragEvent;
    ev.dataTransfer?.setData(DRAG_TYPE, def.type);
    ev.dataTransfer?.setData('text/plain', def.type);
    if (ev.dataTransfer) ev.dataTransfer.effectAllowed = 'copy';
  });
  return item;
}

export function createPalette(root: HTMLElement, catalog: Catalog, onPick: (type: string) => void): { focusSearch(): void } {
  const search = h('input', { type: 'search', class: 'palette-search', placeholder: 'Search nodes…', 'aria-label': 'Search nodes', 'data-testid': 'palette-search' });
  const list = h('div', { class: 'palette-list' });
  const render = () => {
    clear(list);
    const q = search.value.trim();
    if (q) {
      const found = catalog.search(q);
      list.append(found.length ? h('ul', {}, ...found.map((d) => entry(d, onPick))) : h('p', { class: 'empty' }, 'No node matches.'));
      return;
    }
    for (const { category, nodes } of catalog.categories()) {
      const details = h('details', { open: true }, h('summary', {}, category), h('ul', {}, ...nodes.map((d) => entry(d, onPick))));
      list.append(details);
    }
  };
  search.addEventListener('input', render);
  search.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter') {
      const first = catalog.search(search.value)[0];
      if (first) onPick(first.type);
    }
  });
  root.append(h('div', { class: 'palette-head' }, search), list);
  render();
  return { focusSearch: () => search.focus() };
}

/** The floating node search at a point; resolves with the chosen type (or null). */
export function searchPopup(catalog: Catalog, clientX: number, clientY: number, options: { among?: NodeInfo[]; placeholder?: string } = {}): Promise<string | null> {
  return new Promise((resolve) => {
    const placeholder = options.placeholder ?? 'Add a node…';
    const input = h('input', { type: 'search', placeholder, 'aria-label': placeholder, 'data-testid': 'search-popup' });
    const list = h('ul', {});
    const box = h('div', { class: 'search-popup' }, input, list);
    let selected = 0;
    let results: NodeInfo[] = [];
    const done = (value: string | null) => {
      box.remove();
      document.removeEventListener('pointerdown', outside, true);
      resolve(value);
    };
    const outside = (e: Event) => {
      if (!box.contains(e.target as Node)) done(null);
    };
    const render = () => {
      results = catalog.search(input.value, options.among).slice(0, 12);
      selected = Math.min(selected, Math.max(0, results.length - 1));
      clear(list);
      results.forEach((def, i) => {
        const alias = def.aliases?.[0] ?? def.seeAlso?.[0];
        const li = h('li', { class: i === selected ? 'selected' : '', title: def.description, 'data-type': def.type },
          h('b', {}, def.type), h('span', {}, ` ${def.category}`), ...(alias ? [h('span', { class: 'alias' }, ` · ${alias}`)] : []));
        li.addEventListener('pointerdown', (e) => {
          e.preventDefault();
          done(def.type);
        });
        list.append(li);
      });
    };
    input.addEventListener('input', () => {
      selected = 0;
      render();
    });
    input.addEventListener('keydown', (e) => {
      const ev = e as KeyboardEvent;
      ev.stopPropagation();
      if (ev.key === 'Escape') done(null);
      else if (ev.key === 'ArrowDown') {
        selected = Math.min(results.length - 1, selected + 1);
        render();
        ev.preventDefault();
      } else if (ev.key === 'ArrowUp') {
        selected = Math.max(0, selected - 1);
        render();
        ev.preventDefault();
      } else if (ev.key === 'Enter') done(results[selected]?.type ?? null);
    });
    box.style.left = `${Math.min(window.innerWidth - 320, clientX)}px`;
    box.style.top = `${Math.min(window.innerHeight - 360, clientY)}px`;
    document.body.append(box);
    document.addEventListener('pointerdown', outside, true);
    render();
    input.focus();
  });
}
