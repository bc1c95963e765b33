/**
 * The mask editor: paint a MASK over an input image (brush, eraser, size, invert, clear, undo) and
 * save it as a PNG that is white where painted (repaint) and black elsewhere — what LoadMask reads
 * with channel "red". No litegraph here: the app opens it and sets the saved name on the node.
 */
import { modal, toast } from './dialogs.ts';
import { h } from './dom.ts';

/** A mask file to start from, read the way LoadMask reads it. */
export interface StartMask {
  url: string;
  channel: string;
  invert: boolean;
}

export interface MaskEditorOptions {
  /** Image inputs to paint over (names), and the one to start with. */
  backgrounds: string[];
  background?: string;
  mask?: StartMask;
  urlOf(name: string): string;
  /** Stores the mask (a PNG); resolves true when it was stored and the editor may close. */
  save(png: Blob): Promise<boolean>;
}

const UNDO_LIMIT = 30;
const OVERLAY = 'rgba(40, 255, 120, 0.65)';
const STAGE = { width: 640, height: 460 };

function loadImage(url: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error(`cannot load ${url}`));
    img.src = url;
  });
}

function canvasOf(width: number, height: number): HTMLCanvasElement {
  const c = h('canvas');
  c.width = width;
  c.height = height;
  return c;
}

/** A mask value in [0, 1] per pixel from an image, as LoadMask computes it (alpha: transparent = repaint). */
function maskValue(data: Uint8ClampedArray, i: number, channel: string): number {
  switch (channel) {
    case 'red': return data[i] / 255;
    case 'green': return data[i + 1] / 255;
    case 'blue': return data[i + 2] / 255;
    case 'luminance': return (0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]) / 255;
    default: return 1 - data[i + 3] / 255;
  }
}

export async function openMaskEditor(options: MaskEditorOptions): Promise<void> {
  let background: HTMLImageElement | undefined;
  let start: HTMLImageElement | undefined;
  try {
    if (options.background) background = await loadImage(options.urlOf(options.background));
    if (options.mask) start = await loadImage(options.mask.url);
  } catch (e) {
    toast(`Cannot open the mask editor: ${(e as Error).message}`, 'error');
    return;
  }
  const size = background ?? start;
  if (!size) {
    toast('Upload an image first: the mask is painted over one.', 'error');
    return;
  }
  const width = size.naturalWidth;
  const height = size.naturalHeight;
  // The mask itself: white with alpha = how much to repaint.
  const mask = canvasOf(width, height);
  const mctx = mask.getContext('2d', { willReadFrequently: true })!;
  if (start && options.mask) {
    const probe = canvasOf(width, height).getContext('2d', { willReadFrequently: true })!;
    probe.drawImage(start, 0, 0, width, height);
    const src = probe.getImageData(0, 0, width, height).data;
    const out = mctx.createImageData(width, height);
    for (let i = 0; i < src.length; i += 4) {
      const v = maskValue(src, i, options.mask.channel);
      out.data.set([255, 255, 255, Math.round((options.mask.invert ? 1 - v : v) * 255)], i);
    }
    mctx.putImageData(out, 0, 0);
  }

  const view = h('canvas', { class: 'mask-canvas', 'data-testid': 'mask-canvas' });
  view.width = width;
  view.height = height;
  const scale = Math.min(STAGE.width / width, STAGE.height / height);
  view.style.width = `${Math.round(width * scale)}px`;
  view.style.height = `${Math.round(height * scale)}px`;
  const vctx = view.getContext('2d')!;
  const tint = canvasOf(width, height);
  const tctx = tint.getContext('2d')!;
  const draw = () => {
    vctx.clearRect(0, 0, width, height);
    vctx.fillStyle = '#000';
    vctx.fillRect(0, 0, width, height);
    if (background) vctx.drawImage(background, 0, 0, width, height);
    tctx.globalCompositeOperation = 'copy';
    tctx.drawImage(mask, 0, 0);
    tctx.globalCompositeOperation = 'source-in';
    tctx.fillStyle = OVERLAY;
    tctx.fillRect(0, 0, width, height);
    vctx.drawImage(tint, 0, 0);
  };

  const undoStack: ImageData[] = [];
  const remember = () => {
    undoStack.push(mctx.getImageData(0, 0, width, height));
    if (undoStack.length > UNDO_LIMIT) undoStack.shift();
    undo.disabled = false;
  };

  // ---- tools --------------------------------------------------------------------------------
  let erasing = false;
  const brush = h('button', { 'data-testid': 'mask-brush', 'aria-pressed': 'true', title: 'Paint: mark where to repaint' }, 'Brush');
  const eraser = h('button', { 'data-testid': 'mask-eraser', 'aria-pressed': 'false', title: 'Erase: keep what is there' }, 'Eraser');
  const setTool = (erase: boolean) => {
    erasing = erase;
    brush.setAttribute('aria-pressed', String(!erase));
    eraser.setAttribute('aria-pressed', String(erase));
  };
  brush.addEventListener('click', () => setTool(false));
  eraser.addEventListener('click', () => setTool(true));
  const maxSize = Math.max(2, Math.round(Math.max(width, height) / 2));
  const sizeInput = h('input', { type: 'range', min: 1, max: maxSize, step: 1, 'data-testid': 'mask-size', title: 'Brush size (image pixels)' });
  sizeInput.value = String(Math.max(1, Math.round(Math.min(width, height) / 8)));
  const sizeLabel = h('span', { class: 'muted', 'data-testid': 'mask-size-label' });
  const showSize = () => (sizeLabel.textContent = `${sizeInput.value}px`);
  sizeInput.addEventListener('input', showSize);
  showSize();
  const invert = h('button', { 'data-testid': 'mask-invert', title: 'Repaint what is not painted, and the other way round' }, 'Invert');
  invert.addEventListener('click', () => {
    remember();
    const current = mctx.getImageData(0, 0, width, height);
    for (let i = 3; i < current.data.length; i += 4) {
      current.data[i - 3] = current.data[i - 2] = current.data[i - 1] = 255;
      current.data[i] = 255 - current.data[i];
    }
    mctx.putImageData(current, 0, 0);
    draw();
  });
  const clearButton = h('button', { 'data-testid': 'mask-clear', title: 'Erase the whole mask' }, 'Clear');
  clearButton.addEventListener('click', () => {
    remember();
    mctx.clearRect(0, 0, width, height);
    draw();
  });
  const undo = h('button', { 'data-testid': 'mask-undo', title: 'Undo the last stroke, invert or clear' }, '↶ Undo');
  undo.disabled = true;
  undo.addEventListener('click', () => {
    const last = undoStack.pop();
    if (last) mctx.putImageData(last, 0, 0);
    undo.disabled = undoStack.length === 0;
    draw();
  });
  const backgroundSelect = h('select', { 'data-testid': 'mask-background', title: 'The image to paint over (only shown here; the mask is saved alone)' },
    ...options.backgrounds.map((name) => h('option', { value: name }, name)));
  if (options.background) backgroundSelect.value = options.background;
  backgroundSelect.addEventListener('change', () => {
    void loadImage(options.urlOf(backgroundSelect.value)).then((img) => {
      background = img;
      draw();
    }, (e: Error) => toast(e.message, 'error'));
  });

  // ---- painting -----------------------------------------------------------------------------
  let last: [number, number] | undefined;
  const toImage = (e: PointerEvent): [number, number] => {
    const r = view.getBoundingClientRect();
    return [((e.clientX - r.left) / r.width) * width, ((e.clientY - r.top) / r.height) * height];
  };
  const stroke = (from: [number, number], to: [number, number]) => {
    mctx.save();
    mctx.globalCompositeOperation = erasing ? 'destination-out' : 'source-over';
    mctx.strokeStyle = '#fff';
    mctx.lineCap = mctx.lineJoin = 'round';
    mctx.lineWidth = Number(sizeInput.value);
    mctx.beginPath();
    mctx.moveTo(...from);
    mctx.lineTo(...to);
    mctx.stroke();
    mctx.restore();
    draw();
  };
  view.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    view.setPointerCapture(e.pointerId);
    remember();
    last = toImage(e);
    stroke(last, last);
  });
  view.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = toImage(e);
    stroke(last, p);
    last = p;
  });
  const end = () => (last = undefined);
  view.addEventListener('pointerup', end);
  view.addEventListener('pointercancel', end);

  // ---- saving -------------------------------------------------------------------------------
  const save = h('button', { class: 'primary', 'data-testid': 'mask-save', title: 'Upload the mask and set it on the node' }, 'Save mask');
  const cancel = h('button', { 'data-testid': 'mask-cancel' }, 'Cancel');
  const body = h('div', { class: 'mask-editor' },
    h('div', { class: 'mask-tools' }, brush, eraser, h('label', {}, 'Size ', sizeInput), sizeLabel, invert, clearButton, undo),
    h('div', { class: 'mask-stage' }, view),
    h('div', { class: 'mask-tools' }, h('label', {}, 'Over ', backgroundSelect), h('span', { class: 'grow' }), cancel, save));
  const dialog = modal('Paint a mask (painted = repaint)', body, 'mask-editor');
  cancel.addEventListener('click', () => dialog.close());
  // While it is open, its keys act on the mask, not on the graph behind it.
  const onKey = (e: KeyboardEvent) => {
    if ((e.target as HTMLElement).closest('input, select, textarea') && e.key !== 'Escape') return;
    const ctrl = e.ctrlKey || e.metaKey;
    const key = e.key.toLowerCase();
    if (ctrl && key === 'z' && !e.shiftKey) undo.click();
    else if (!ctrl && key === 'b') setTool(false);
    else if (!ctrl && key === 'e') setTool(true);
    else if (!ctrl && (key === '[' || key === ']')) {
      sizeInput.value = String(Number(sizeInput.value) + (key === ']' ? 1 : -1));
      showSize();
    } else return;
    e.preventDefault();
    e.stopPropagation();
  };
  document.addEventListener('keydown', onKey, true);
  void dialog.closed.then(() => document.removeEventListener('keydown', onKey, true));
  save.addEventListener('click', () => {
    const out = canvasOf(width, height);
    const octx = out.getContext('2d')!;
    octx.fillStyle = '#000';
    octx.fillRect(0, 0, width, height);
    octx.drawImage(mask, 0, 0);
    save.disabled = true;
    out.toBlob((blob) => {
      if (!blob) {
        save.disabled = false;
        toast('Cannot encode the mask as PNG.', 'error');
        return;
      }
      void options.save(blob).then((ok) => {
        save.disabled = false;
        if (ok) dialog.close();
      });
    }, 'image/png');
  });
  draw();
  await dialog.closed;
}
