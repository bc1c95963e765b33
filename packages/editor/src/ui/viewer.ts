/**
 * Looking at results: an image viewer (full size, step through the gallery's images — a batch is a run
 * of them — with ←/→, compare two side by side) and a tensor viewer (a large plot, the summary, a
 * download link).
 */
import { modal } from './dialogs.ts';
import { h } from './dom.ts';
import { describeTensor, drawTensor, type Mixture, type TensorData } from './plots.ts';

export interface ImageItem {
  label: string;
  url: string;
}

export function openImageViewer(images: readonly ImageItem[], start: number): void {
  let index = start;
  let compare: number | null = null;
  const main = h('img', { class: 'viewer-image', 'data-testid': 'viewer-image', alt: '' });
  const other = h('img', { class: 'viewer-image', 'data-testid': 'viewer-compare', alt: '', hidden: true });
  const caption = h('div', { class: 'viewer-caption', 'data-testid': 'viewer-caption' });
  const choose = h('select', { 'data-testid': 'viewer-compare-select', title: 'Compare with another image' },
    h('option', { value: '' }, 'Compare with…'),
    ...images.map((item, i) => h('option', { value: String(i) }, item.label)));
  const show = () => {
    main.src = images[index].url;
    main.alt = images[index].label;
    other.hidden = compare === null;
    if (compare !== null) {
      other.src = images[compare].url;
      other.alt = images[compare].label;
    }
    caption.textContent = `${index + 1} / ${images.length} · ${images[index].label}${compare !== null ? `  ↔  ${images[compare].label}` : ''}`;
  };
  const step = (by: number) => {
    index = (index + by + images.length) % images.length;
    show();
  };
  choose.addEventListener('change', () => {
    compare = choose.value === '' ? null : Number(choose.value);
    show();
  });
  const prev = h('button', { 'data-testid': 'viewer-prev', title: 'Previous (←)', onclick: () => step(-1) }, '←');
  const next = h('button', { 'data-testid': 'viewer-next', title: 'Next (→)', onclick: () => step(1) }, '→');
  const body = h('div', { class: 'viewer' }, h('div', { class: 'viewer-images' }, main, other), h('div', { class: 'viewer-bar' }, prev, caption, next, choose));
  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      e.stopPropagation();
      step(e.key === 'ArrowLeft' ? -1 : 1);
    }
  };
  document.addEventListener('keydown', onKey, true);
  const view = modal('Image', body, 'image-viewer');
  void view.closed.then(() => document.removeEventListener('keydown', onKey, true));
  show();
}

export function openTensorViewer(label: string, url: string, tensor: TensorData, mixture?: Mixture): void {
  const canvas = h('canvas', { width: 520, height: 520, class: 'viewer-plot', 'data-testid': 'viewer-plot' });
  drawTensor(canvas, tensor, mixture);
  const body = h('div', { class: 'viewer' }, canvas,
    h('div', { class: 'viewer-caption', 'data-testid': 'viewer-summary' }, describeTensor(tensor)),
    h('a', { href: url, download: label.split(' · ').pop() ?? 'tensor', 'data-testid': 'viewer-download' }, 'Download'));
  modal(label, body, 'tensor-viewer');
}
