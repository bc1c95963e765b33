/**
 * The editor app: toolbar, palette, canvas, side panels (outputs gallery, problems, library), runs
 * over HTTP + WebSocket, files in and out (JSON, PNG with an embedded workflow), keyboard shortcuts.
 */
import type { Workflow } from '@diffgraph/engine';
import { checkWorkflowShape } from '@diffgraph/engine/limits';
import { Api, type ApiError } from './api.ts';
import { Catalog, IMAGE_LOADERS, isImageInput } from './catalog.ts';
import { EventClient, type PreviewEvent, type ServerEvent } from './events.ts';
import { FORMAT, GraphEditor, inputUrl, isLink, type InputAction, type LinkRelease, type NodeRunState } from './graph/index.ts';
import { openMaskEditor } from './ui/mask-editor.ts';
import { isJpeg, isOpaqueImage, maskBackground } from './input-files.ts';
import { isPng, readPngText } from './png-text.ts';
import { confirmDialog, modal, prompt, showTooltip, toast } from './ui/dialogs.ts';
import { clear, h } from './ui/dom.ts';
import { createPalette, DRAG_TYPE, searchPopup } from './ui/palette.ts';
import { QueuePanel } from './ui/queue.ts';
import { describeTensor, drawTensor, type Mixture, parseNpy, parseTensorJson, plotKind, type TensorData } from './ui/plots.ts';
import { openImageViewer, openTensorViewer } from './ui/viewer.ts';

const examples = import.meta.glob('../../../workflows/*.json', { eager: true, import: 'default' }) as Record<string, Workflow>;

export const SHORTCUTS: [string, string][] = [
  ['Ctrl+Enter', 'Run the workflow'],
  ['Ctrl+Z / Ctrl+Shift+Z, Ctrl+Y', 'Undo / redo'],
  ['Ctrl+C / Ctrl+V', 'Copy / paste the selected nodes (Ctrl+Shift+V keeps their input links)'],
  ['Delete, Backspace', 'Delete the selected nodes'],
  ['Ctrl+A', 'Select every node'],
  ['Ctrl+click, Shift+click', 'Add a node to the selection'],
  ['Ctrl+drag on empty canvas', 'Select nodes in a rectangle'],
  ['Drag on empty canvas, Space+drag', 'Pan'],
  ['Mouse wheel, + / −', 'Zoom'],
  ['F or .', 'Fit the whole graph in view'],
  ['/ or double-click on the canvas', 'Search and add a node'],
  ['Ctrl+S', 'Save (download) the workflow as JSON'],
  ['Ctrl+O', 'Open a workflow JSON or a PNG made by SaveImage (ComfyUI workflows and PNGs are converted); an image without a workflow becomes a LoadImage'],
  ['Drop a .json or .png file', 'Open it (a PNG restores the workflow embedded in it; ComfyUI\'s are converted)'],
  ['Drop an image (PNG without a workflow, JPEG)', 'Upload it: on empty canvas a LoadImage with it, on a LoadImage / LoadMask node its new image'],
  ['Drag from an output to an input', 'Connect (only compatible types connect)'],
  ['Drag a link onto a widget', 'Feed that input from a node instead of the widget value'],
  ['Double-click a node title', 'Rename the node (its id in the workflow)'],
  ['Right-click', 'Node and canvas menu'],
  ['?', 'This help'],
  ['Esc', 'Close a dialog'],
];

interface GalleryItem {
  runId: string;
  nodeId: string;
  label: string;
  url?: string;
  image: boolean;
}

const ACTIVE_STATES = new Set(['queued', 'running']);
const AUTOSAVE_KEY = 'diffgraph.autosave';
const isTensorFile = (url: string) => /\.(npy|json)$/i.test(url);

async function fetchTensor(url: string): Promise<TensorData> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
  return /\.npy$/i.test(url) ? parseNpy(await res.arrayBuffer()) : parseTensorJson(await res.json());
}
const CURRENT_RUN_KEY = 'diffgraph.run';
const CLIENT_ID_KEY = 'diffgraph.clientId';
/** Finished runs whose outputs refill the gallery after a reload. */
const GALLERY_RUNS = 10;
const MAX_EARLY_EVENTS = 1000;

function recall(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function remember(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // Storage disabled: the value lives as long as the page.
  }
}

function persistentClientId(): string {
  const known = recall(CLIENT_ID_KEY);
  if (known && /^editor-[a-z0-9]{8}$/.test(known)) return known;
  const id = `editor-${Math.random().toString(36).slice(2, 10).padEnd(8, '0')}`;
  remember(CLIENT_ID_KEY, id);
  return id;
}
/** The baseline of a restored graph that was unsaved when it was autosaved: it stays unsaved. */
const RESTORED_UNSAVED = '(restored unsaved work)';

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

const isDiffgraphWorkflow = (value: unknown): value is Workflow =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && 'format' in value;

export class App {
  readonly api = new Api();
  editor!: GraphEditor;
  catalog!: Catalog;
  events!: EventClient;
  private runId: string | undefined;
  private runStatus = 'idle';
  /** Events of other runs seen while a submission is answered: a fast run's first events can come
   * over the all-runs subscription before its id does, and are replayed once it is known. */
  private eventsBeforeRunId: ServerEvent[] = [];
  /** The workflow as last opened or saved (JSON), to tell unsaved changes. */
  private baseline = '';
  /** Node ids of the submitted workflow → planned, for mapping events onto nodes. */
  private gallery: GalleryItem[] = [];
  private problems: ApiError[] = [];
  /** Kept across reloads, so the runs (and outputs) of this browser are found again. */
  private readonly clientId = persistentClientId();
  private queue!: QueuePanel;
  private readonly tensors = new Map<string, Promise<TensorData>>();
  /** What the last run submitted, and the events it got (for the Problems panel and tests). */
  lastSubmitted: Workflow | undefined;
  readonly eventLog: { type: string; nodeId?: string }[] = [];
  private els!: {
    status: HTMLElement; conn: HTMLElement; title: HTMLElement; run: HTMLButtonElement; cancel: HTMLButtonElement;
    undo: HTMLButtonElement; redo: HTMLButtonElement; gallery: HTMLElement; problems: HTMLElement; problemsTab: HTMLElement;
    library: HTMLElement; fileInput: HTMLInputElement; uploadInput: HTMLInputElement; canvas: HTMLCanvasElement; tabs: Record<string, HTMLElement>; panes: Record<string, HTMLElement>;
  };

  constructor(private readonly root: HTMLElement) {}

  async start(): Promise<void> {
    const [library, models, inputs] = await Promise.all([this.api.nodes(), this.api.models(), this.api.uploads()]);
    this.catalog = new Catalog({ ...library, models });
    this.catalog.inputs = inputs;
    this.buildLayout();
    this.editor = new GraphEditor(this.els.canvas, this.catalog, {
      onChange: () => this.updateButtons(),
      onRequestSearch: (x, y) => void this.searchAt(x, y),
      onLinkReleased: (release) => void this.searchForLink(release),
      onHover: (text, x, y) => showTooltip(text, x, y),
      onInputAction: (id, action) => void this.inputAction(id, action),
      prompt,
    });
    (this.editor.canvas as unknown as { onNodeTitleDblClick?: unknown }).onNodeTitleDblClick = undefined;
    this.editor.graph.onNodeAdded = undefined;
    this.els.canvas.addEventListener('dblclick', (e) => this.onDoubleClick(e));
    this.events = new EventClient({
      onEvent: (e) => {
        this.queue.onEvent(e);
        this.onEvent(e);
      },
      onPreview: (p) => this.onPreview(p),
      onStatus: (connected) => {
        this.els.conn.className = `conn ${connected ? 'on' : 'off'}`;
        this.els.conn.title = connected ? 'Connected to the server' : 'Not connected to the server (retrying)';
      },
    });
    const resize = () => this.editor.resize();
    new ResizeObserver(resize).observe(this.els.canvas);
    resize();
    this.installShortcuts();
    this.installDrop();
    if (!this.restoreAutosave()) {
      const first = Object.values(examples)[0];
      if (first) this.load(structuredClone(first), { quiet: true });
    }
    this.events.watchAll();
    await Promise.all([this.reattach(), this.rebuildGallery()]);
    (window as unknown as { diffgraph: unknown }).diffgraph = { app: this, editor: this.editor };
    document.body.dataset.ready = 'true';
  }

  // ---- layout ---------------------------------------------------------------------------------

  private buildLayout(): void {
    const button = (label: string, title: string, onclick: () => void, extra: Record<string, string> = {}) =>
      h('button', { title, onclick: () => onclick(), ...extra }, label);
    const run = button('▶ Run', 'Run the workflow (Ctrl+Enter)', () => void this.run(), { class: 'primary', 'data-testid': 'run' });
    const cancel = button('■ Cancel', 'Cancel the running workflow', () => void this.cancel(), { 'data-testid': 'cancel' });
    const undo = button('↶', 'Undo (Ctrl+Z)', () => this.editor.undo(), { 'data-testid': 'undo' });
    const redo = button('↷', 'Redo (Ctrl+Shift+Z)', () => this.editor.redo(), { 'data-testid': 'redo' });
    const fileInput = h('input', { type: 'file', accept: '.json,.png,.jpg,.jpeg,application/json,image/png,image/jpeg', hidden: true, 'data-testid': 'file-input' });
    const uploadInput = h('input', { type: 'file', hidden: true, 'data-testid': 'upload-input' });
    uploadInput.addEventListener('change', () => {
      const file = uploadInput.files?.[0];
      const target = this.uploadTarget;
      uploadInput.value = '';
      if (!file || target === undefined) return;
      void this.setLoaderFile(target, file);
    });
    fileInput.addEventListener('change', () => {
      const file = fileInput.files?.[0];
      if (file) void this.openFile(file);
      fileInput.value = '';
    });
    const examplesSelect = h('select', { title: 'Open an example workflow', 'data-testid': 'examples' },
      h('option', { value: '' }, 'Examples…'),
      ...Object.keys(examples).sort().map((k) => h('option', { value: k }, k.split('/').pop()!.replace(/\.json$/, ''))));
    examplesSelect.addEventListener('change', () => {
      const wf = examples[examplesSelect.value];
      if (wf) void this.open(structuredClone(wf));
      examplesSelect.value = '';
    });
    const status = h('span', { class: 'run-status', 'data-testid': 'run-status' }, 'idle');
    const conn = h('span', { class: 'conn off', title: 'Not connected' });
    const title = h('span', { class: 'wf-title', 'data-testid': 'wf-title' });
    const toolbar = h('header', { class: 'toolbar' },
      h('span', { class: 'brand' }, 'diffgraph'), title,
      h('span', { class: 'sep' }), run, cancel,
      h('span', { class: 'sep' }),
      button('New', 'Start an empty workflow', () => void this.open({ format: FORMAT, nodes: {} } as Workflow, { quiet: true })),
      button('Open…', 'Open a workflow JSON or a PNG made by SaveImage (Ctrl+O)', () => fileInput.click(), { 'data-testid': 'open' }),
      button('Save', 'Download the workflow as JSON (Ctrl+S)', () => this.download(), { 'data-testid': 'save' }),
      button('Save as…', 'Save the workflow in the server\'s library under a name', () => void this.saveToLibrary(), { 'data-testid': 'library-save' }),
      examplesSelect,
      h('span', { class: 'sep' }), undo, redo,
      button('Fit', 'Fit the graph in view (F)', () => this.editor.fitView(), { 'data-testid': 'fit' }),
      button('Arrange', 'Lay the nodes out in columns (undo with Ctrl+Z)', () => this.editor.arrange(), { 'data-testid': 'arrange' }),
      h('span', { class: 'grow' }), conn, status,
      button('?', 'Keyboard shortcuts and help (?)', () => this.help(), { 'data-testid': 'help' }),
      fileInput, uploadInput);
    const palette = h('aside', { class: 'palette', 'aria-label': 'Node palette' });
    const canvas = h('canvas', { class: 'graph', tabindex: 0, 'data-testid': 'canvas' });
    const main = h('main', { class: 'canvas-wrap' }, canvas);
    const tabs: Record<string, HTMLElement> = {};
    const panes: Record<string, HTMLElement> = {};
    const tabBar = h('div', { class: 'tabs', role: 'tablist' });
    const side = h('aside', { class: 'side' }, tabBar);
    for (const [key, label] of [['outputs', 'Outputs'], ['queue', 'Queue'], ['problems', 'Problems'], ['library', 'Library']] as const) {
      tabs[key] = h('button', { role: 'tab', 'data-testid': `tab-${key}`, onclick: () => this.showTab(key) }, label);
      panes[key] = h('div', { class: 'pane', role: 'tabpanel', 'data-testid': `pane-${key}` });
      tabBar.append(tabs[key]);
      side.append(panes[key]);
    }
    this.root.append(toolbar, h('div', { class: 'body' }, palette, main, side));
    this.els = {
      status, conn, title, run, cancel, undo, redo, fileInput, uploadInput, canvas, tabs, panes,
      gallery: panes.outputs, problems: panes.problems, problemsTab: tabs.problems, library: panes.library,
    };
    createPalette(palette, this.catalog, (type) => this.addNode(type));
    this.queue = new QueuePanel(panes.queue, this.api, { open: (runId) => void this.openRun(runId) });
    this.showTab('outputs');
    this.renderGallery();
    this.renderProblems();
    this.renderLibrary();
  }

  private showTab(key: string): void {
    for (const [k, tab] of Object.entries(this.els.tabs)) tab.setAttribute('aria-selected', String(k === key));
    for (const [k, pane] of Object.entries(this.els.panes)) pane.hidden = k !== key;
    if (key === 'library') void this.renderLibrary();
    if (key === 'queue') void this.queue.refresh();
  }

  private updateButtons(): void {
    this.els.undo.disabled = !this.editor.canUndo;
    this.els.redo.disabled = !this.editor.canRedo;
    this.els.cancel.disabled = !ACTIVE_STATES.has(this.runStatus);
    this.els.title.textContent = this.editor.title ?? 'untitled';
    this.autosave();
  }

  private setStatus(status: string, detail?: string): void {
    this.runStatus = status;
    this.els.status.textContent = detail ? `${status}: ${detail}` : status;
    this.els.status.dataset.status = status;
    this.updateButtons();
  }

  // ---- nodes ----------------------------------------------------------------------------------

  addNode(type: string, at?: [number, number]): string | undefined {
    const id = this.editor.addNode(type, at);
    this.els.canvas.focus();
    return id;
  }

  private async searchAt(x: number, y: number): Promise<void> {
    const type = await searchPopup(this.catalog, x, y);
    if (type) this.addNode(type, [x, y]);
  }

  private async searchForLink(release: LinkRelease): Promise<void> {
    const among = release.wants === 'input' ? this.catalog.accepting(release.types) : this.catalog.feeding(release.types);
    const label = `Nodes that ${release.wants === 'input' ? 'take' : 'make'} ${release.types.join(' or ')}…`;
    const type = await searchPopup(this.catalog, release.clientX, release.clientY, { among, placeholder: label });
    if (!type) return;
    const id = this.addNode(type, [release.clientX, release.clientY]);
    if (id && !release.connect(id)) toast(`${type} was added but could not be connected (${release.types.join(' or ')}).`, 'error');
  }

  private onDoubleClick(e: MouseEvent): void {
    const [gx, gy] = this.editor.toGraph(e.clientX, e.clientY);
    const node = this.editor.graph.getNodeOnPos(gx, gy);
    if (node && gy < node.pos[1]) {
      const id = node.title;
      void prompt({ title: 'Node id', value: id, multiline: false, clientX: e.clientX, clientY: e.clientY }).then((to) => {
        if (to === null || to === id) return;
        if (!/^[A-Za-z0-9_.-]+$/.test(to)) toast('A node id is letters, digits, ".", "-" and "_".', 'error');
        else if (!this.editor.rename(id, to)) toast(`There is already a node "${to}".`, 'error');
      });
    }
  }

  // ---- files ----------------------------------------------------------------------------------

  /**
   * Replaces the graph with a workflow (New, Examples, Open, drop, the library). Unsaved changes are
   * only discarded when the user says so, and the graph before stays one undo step away.
   */
  async open(workflow: Workflow, options: { quiet?: boolean } = {}): Promise<boolean> {
    if (!this.loadable(workflow)) return false;
    if (this.isDirty()) {
      const discard = await confirmDialog({
        title: 'Discard unsaved changes?',
        message: `${this.editor.title ?? 'The workflow'} has changes that are not saved. Opening another workflow replaces it (Undo brings it back).`,
        confirm: 'Discard and open', cancel: 'Keep editing',
      });
      if (!discard) return false;
    }
    this.load(workflow, { ...options, undoable: true });
    return true;
  }

  private loadable(workflow: Workflow): boolean {
    if (!workflow || typeof workflow !== 'object' || workflow.format !== FORMAT || typeof workflow.nodes !== 'object') {
      toast(`Not a ${FORMAT} workflow.`, 'error');
      return false;
    }
    // Loading and undo snapshots serialize the workflow, which recurses: a file nested 10,000 deep
    // would overflow the stack. The engine's limits are checked first, without recursion.
    const [tooBig] = checkWorkflowShape(workflow);
    if (tooBig) {
      toast(`${tooBig.code}: ${tooBig.message}`, 'error');
      return false;
    }
    return true;
  }

  private load(workflow: Workflow, options: { quiet?: boolean; undoable?: boolean; dirty?: boolean } = {}): void {
    this.problems = [];
    this.renderProblems();
    this.editor.load(workflow, { undoable: options.undoable });
    this.baseline = options.dirty ? RESTORED_UNSAVED : this.currentJson();
    if (!ACTIVE_STATES.has(this.runStatus)) this.setStatus('idle');
    this.updateButtons();
    if (!options.quiet) toast(`Opened ${this.editor.title ?? 'the workflow'} (${Object.keys(workflow.nodes).length} nodes)`);
  }

  private currentJson(): string {
    return JSON.stringify(this.editor.toWorkflow());
  }

  /** Whether the graph differs from what was last opened, downloaded or saved to the library. */
  isDirty(): boolean {
    return this.currentJson() !== this.baseline;
  }

  private markSaved(): void {
    this.baseline = this.currentJson();
    this.autosave();
  }

  /** Every change is kept in localStorage, so a crash, a closed tab or a reload loses nothing. */
  private autosave(): void {
    try {
      // The graph serialized once per change: the same text tells whether it is unsaved.
      const json = this.currentJson();
      localStorage.setItem(AUTOSAVE_KEY, `{"workflow":${json},"dirty":${json !== this.baseline},"savedAt":${Date.now()}}`);
    } catch {
      // Storage full or disabled: nothing to keep.
    }
  }

  private restoreAutosave(): boolean {
    let saved: { workflow?: Workflow; dirty?: boolean; savedAt?: number } | undefined;
    try {
      saved = JSON.parse(localStorage.getItem(AUTOSAVE_KEY) ?? 'null') ?? undefined;
    } catch {
      saved = undefined;
    }
    if (!saved?.workflow || !this.loadable(saved.workflow)) return false;
    this.load(saved.workflow, { quiet: true, dirty: saved.dirty });
    if (saved.dirty) toast(`Restored your unsaved workflow (autosaved ${new Date(saved.savedAt ?? Date.now()).toLocaleTimeString()}).`);
    return true;
  }

  /**
   * Opens a workflow file (JSON, or a PNG with a workflow embedded). An image without a workflow (a
   * PNG without one, a JPEG) is an input instead: uploaded, and loaded by a new LoadImage at `at`
   * (page pixels) or the middle of the view.
   */
  async openFile(file: File, at?: [number, number]): Promise<void> {
    const bytes = new Uint8Array(await file.arrayBuffer());
    try {
      if (isJpeg(bytes)) return await this.loadImageNode(file, at);
      if (isPng(bytes)) {
        const text = await readPngText(bytes);
        const embedded = text.workflow === undefined ? undefined : parseJson(text.workflow);
        if (isDiffgraphWorkflow(embedded)) await this.open(embedded);
        else if (text.workflow === undefined && text.prompt === undefined) await this.loadImageNode(file, at);
        else await this.importFile(file.name, bytes, 'image/png');
        return;
      }
      const value = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
      if (isDiffgraphWorkflow(value)) await this.open(value);
      else await this.importFile(file.name, bytes, 'application/json');
    } catch (e) {
      toast(`Cannot open ${file.name}: ${(e as Error).message}`, 'error');
    }
  }

  // ---- input files ----------------------------------------------------------------------------

  /** Uploads a file to the server's inputs (POST /api/uploads) and refreshes the loaders' lists; its name, or undefined (said in a toast). */
  private async uploadFile(file: Blob, label = file instanceof File ? file.name : 'the file'): Promise<string | undefined> {
    try {
      const { name } = await this.api.upload(file);
      this.catalog.inputs = await this.api.uploads();
      this.editor.redraw();
      return name;
    } catch (e) {
      toast(`Cannot upload ${label}: ${(e as Error).message}`, 'error');
      return undefined;
    }
  }

  private async loadImageNode(file: File, at?: [number, number]): Promise<void> {
    const name = await this.uploadFile(file);
    if (!name) return;
    const id = this.editor.addNode('LoadImage', at, { path: name });
    if (id) toast(`Uploaded ${file.name}: ${id} loads it`);
  }

  /** A file dropped at (x, y): an image on a LoadImage / LoadMask node becomes its image; anything else opens (openFile). */
  private async dropFile(file: File, x: number, y: number): Promise<void> {
    const target = this.editor.nodeAt(x, y);
    const type = target === undefined ? undefined : this.editor.node(target)?.type;
    if (target !== undefined && type && IMAGE_LOADERS.has(type)) {
      const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
      if (isPng(head) || isJpeg(head)) return this.setLoaderFile(target, file);
    }
    await this.openFile(file, [x, y]);
  }

  private uploadTarget: string | undefined;

  /**
   * Uploads `file` and makes it loader `id`'s file. A LoadMask reading the alpha channel of an image
   * that has none to speak of (every pixel opaque, any JPEG) would load an empty mask without a word:
   * it reads the luminance instead (white = repaint), and says so.
   */
  private async setLoaderFile(id: string, file: File): Promise<void> {
    const name = await this.uploadFile(file);
    if (!name) return;
    const node = this.editor.toWorkflow().nodes[id];
    const readsAlpha = node?.type === 'LoadMask' && (node.inputs?.channel ?? 'alpha') === 'alpha';
    if (readsAlpha && (await isOpaqueImage(file))) {
      this.editor.setInputs(id, { path: name, channel: 'luminance' });
      toast(`${file.name} has no transparency: ${id} reads its luminance (white = repaint).`);
    } else this.editor.setInputs(id, { path: name });
  }

  private async inputAction(id: string, action: InputAction): Promise<void> {
    const type = this.editor.node(id)?.type;
    if (!type) return;
    if (action === 'upload') {
      this.uploadTarget = id;
      this.els.uploadInput.accept = IMAGE_LOADERS.has(type) ? '.png,.jpg,.jpeg,image/png,image/jpeg' : '.npy,.json,application/json';
      this.els.uploadInput.click();
      return;
    }
    const workflow = this.editor.toWorkflow();
    const inputs = workflow.nodes[id]?.inputs ?? {};
    const path = inputs.path;
    const known = typeof path === 'string' && isImageInput(path) && this.catalog.inputs.some((f) => f.name === path);
    const images = this.catalog.inputChoices('LoadImage');
    // On a LoadImage: a mask over its image, loaded by a new LoadMask under it. On a LoadMask: its own.
    const onImage = type === 'LoadImage';
    await openMaskEditor({
      backgrounds: images,
      background: onImage ? (known ? path : undefined) : maskBackground(workflow, id, new Set(images)),
      mask: known && !onImage ? { url: inputUrl(path), channel: String(inputs.channel ?? 'alpha'), invert: inputs.invert === true } : undefined,
      urlOf: inputUrl,
      save: async (png) => {
        const name = await this.uploadFile(png, 'the mask');
        if (!name) return false;
        // The saved PNG is white where painted: read with "red", as painted.
        const values = { path: name, channel: 'red', invert: false };
        if (onImage) {
          const mask = this.editor.addNode('LoadMask', this.editor.below(id), values);
          toast(`Saved the mask as ${name}: ${mask} loads it (connect its mask output).`);
        } else {
          this.editor.setInputs(id, values);
          toast(`Saved the mask as ${name}`);
        }
        return true;
      },
    });
  }

  /** ComfyUI's files (and anything else not ours) go through the server's converter, the one the CLI uses. */
  private async importFile(name: string, bytes: Uint8Array, type: 'application/json' | 'image/png'): Promise<void> {
    const result = await this.api.importFile(bytes, type);
    if (!result.ok) {
      toast(`Cannot open ${name}: ${result.errors.map((e) => `${e.code}: ${e.message}`).join(' ')}`, 'error');
      return;
    }
    const opened = await this.open(result.workflow as Workflow, { quiet: result.source !== 'diffgraph' });
    if (!opened || result.source === 'diffgraph') return;
    const format = result.source === 'comfyui-ui' ? 'UI' : 'API';
    const notes = result.notes.length > 0 ? ` Notes: ${result.notes.join(' ')}` : '';
    toast(`Converted ${name} from a ComfyUI workflow (${format} format).${notes}`);
  }

  download(): void {
    const wf = this.editor.toWorkflow();
    const name = `${(this.editor.title ?? 'workflow').replace(/[^\w.-]+/g, '_').slice(0, 60) || 'workflow'}.json`;
    const a = h('a', { href: URL.createObjectURL(new Blob([`${JSON.stringify(wf, null, 2)}\n`], { type: 'application/json' })), download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    this.markSaved();
  }

  private installDrop(): void {
    window.addEventListener('dragover', (e) => {
      if (e.dataTransfer?.types.includes('Files') || e.dataTransfer?.types.includes(DRAG_TYPE)) {
        e.preventDefault();
        e.stopPropagation();
        e.dataTransfer.dropEffect = 'copy';
      }
    }, true);
    window.addEventListener('drop', (e) => {
      const type = e.dataTransfer?.getData(DRAG_TYPE);
      if (type) {
        e.preventDefault();
        e.stopPropagation();
        this.addNode(type, [e.clientX, e.clientY]);
        return;
      }
      const file = e.dataTransfer?.files?.[0];
      if (file) {
        e.preventDefault();
        e.stopPropagation();
        void this.dropFile(file, e.clientX, e.clientY);
      }
    }, true);
  }

  // ---- library --------------------------------------------------------------------------------

  private async saveToLibrary(): Promise<void> {
    const list = await this.api.libraryList();
    if (!list) {
      toast('This server has no workflow library (GET /api/workflows is missing); use Save to download instead.', 'error');
      return;
    }
    const r = this.els.run.getBoundingClientRect();
    const name = await prompt({ title: 'Save to the library as', value: this.editor.title ?? 'workflow', multiline: false, clientX: r.left + 200, clientY: r.bottom + 60 });
    if (!name) return;
    try {
      await this.api.librarySave(name, this.editor.toWorkflow());
      this.markSaved();
      toast(`Saved "${name}" to the library`);
      this.showTab('library');
    } catch (e) {
      toast(`Cannot save: ${(e as Error).message}`, 'error');
    }
  }

  private async renderLibrary(): Promise<void> {
    const pane = this.els.library;
    const list = await this.api.libraryList();
    clear(pane);
    if (!list) {
      pane.append(h('p', { class: 'empty' }, 'This server has no workflow library. Save downloads the workflow; Open and drag-and-drop load one.'));
      return;
    }
    if (list.length === 0) pane.append(h('p', { class: 'empty' }, 'No saved workflows yet: use “Save to library”.'));
    const ul = h('ul', { class: 'library' });
    for (const item of list) {
      const open = h('button', { class: 'link', 'data-testid': `library-open-${item.name}` }, item.name);
      open.addEventListener('click', () => {
        void this.api.libraryGet(item.name).then((wf) => this.open(wf as Workflow), (e: Error) => toast(e.message, 'error'));
      });
      const del = h('button', { class: 'small', title: `Delete "${item.name}"` }, '🗑');
      del.addEventListener('click', () => {
        if (!confirm(`Delete "${item.name}" from the library?`)) return;
        void this.api.libraryDelete(item.name).then(() => this.renderLibrary(), (e: Error) => toast(e.message, 'error'));
      });
      ul.append(h('li', {}, open, item.title && item.title !== item.name ? h('span', { class: 'muted' }, ` ${item.title}`) : null, del));
    }
    pane.append(ul);
  }

  // ---- runs -----------------------------------------------------------------------------------

  async run(): Promise<void> {
    const workflow = this.editor.toWorkflow();
    this.problems = [];
    this.editor.clearDecorations();
    this.setStatus('submitting');
    this.lastSubmitted = workflow;
    this.eventLog.length = 0;
    const result = await this.api.submit(workflow, this.clientId);
    if (!result.ok) {
      this.eventsBeforeRunId = [];
      this.setStatus('invalid', `${result.errors.length} problem${result.errors.length === 1 ? '' : 's'}`);
      this.showErrors(result.errors);
      return;
    }
    this.renderProblems();
    this.runId = result.runId;
    for (const id of plannedNodes(workflow, this.catalog)) this.editor.decoration(id).state = 'queued';
    this.editor.redraw();
    this.setStatus('queued');
    const early = this.eventsBeforeRunId.filter((e) => e.runId === result.runId);
    this.eventsBeforeRunId = [];
    for (const e of early) this.onEvent(e);
    remember(CURRENT_RUN_KEY, result.runId);
    this.events.watch(result.runId);
    this.editor.advanceSeeds();
  }

  /** After a reload: follow the run this page had started, if it is still queued or running. */
  private async reattach(): Promise<void> {
    const runId = recall(CURRENT_RUN_KEY);
    if (!runId) return;
    const run = await this.api.run(runId).catch(() => undefined);
    if (!run || !ACTIVE_STATES.has(String(run.status))) return;
    this.runId = runId;
    this.setStatus(String(run.status));
    this.events.watch(runId);
  }

  /** The Outputs tab after a reload: the outputs of this browser's latest finished runs. */
  private async rebuildGallery(): Promise<void> {
    const runs = await this.api.runs({ clientId: this.clientId, status: ['succeeded'], limit: GALLERY_RUNS }).catch(() => []);
    const views = await Promise.all(runs.map((r) => this.api.run(r.id).catch(() => undefined)));
    for (const [i, view] of [...views.entries()].reverse()) {
      if (view?.results) this.showResults(runs[i].id, view.results as Record<string, unknown>, { decorate: false });
    }
  }

  /** The Queue tab's Open: the run's workflow (asking before unsaved changes go) and its outputs. */
  async openRun(runId: string): Promise<void> {
    const run = await this.api.run(runId, { workflow: true });
    if (!run?.workflow) {
      toast(`Run ${runId} is no longer in the history.`, 'error');
      return;
    }
    if (!(await this.open(run.workflow as Workflow, { quiet: true }))) return;
    if (run.results) this.showResults(runId, run.results as Record<string, unknown>);
    this.showTab('outputs');
    toast(`Opened run ${String(run.title ?? runId)} (${String(run.status)})`);
  }

  async cancel(): Promise<void> {
    if (!this.runId) return;
    await this.api.cancel(this.runId);
  }

  private showErrors(errors: ApiError[]): void {
    this.problems = errors;
    for (const e of errors) {
      if (e.nodeId && this.editor.node(e.nodeId)) {
        const d = this.editor.decoration(e.nodeId);
        (d.errors ??= []).push({ input: e.input, code: e.code, message: e.message });
      }
    }
    this.editor.redraw();
    this.renderProblems();
    this.showTab('problems');
    const first = errors.find((e) => e.nodeId && this.editor.node(e.nodeId));
    toast(errors.length === 1 ? errors[0].message : `${errors.length} problems: see the Problems panel.`, 'error');
    void first;
  }

  /** A node's failure on the node and in Problems (once, however many times the server says it). */
  private nodeFailed(nodeId: string, message: string): void {
    if (this.editor.node(nodeId)) this.editor.decoration(nodeId).errors = [{ code: 'NODE_FAILED', message }];
    this.addProblem({ nodeId, code: 'NODE_FAILED', message });
    this.problems = this.problems.filter((p) => p.code !== 'RUN_FAILED');
    this.renderProblems();
  }

  private addProblem(problem: ApiError): void {
    if (this.problems.some((p) => p.nodeId === problem.nodeId && p.code === problem.code && p.message === problem.message)) return;
    this.problems.push(problem);
    this.renderProblems();
  }

  private renderProblems(): void {
    const pane = this.els.problems;
    clear(pane);
    this.els.problemsTab.textContent = this.problems.length ? `Problems (${this.problems.length})` : 'Problems';
    if (this.problems.length === 0) {
      pane.append(h('p', { class: 'empty' }, 'No problems.'));
      return;
    }
    const ul = h('ul', { class: 'problems' });
    for (const e of this.problems) {
      const where = e.nodeId ? `${e.nodeId}${e.input ? ` › ${e.input}` : ''}` : 'workflow';
      const li = h('li', { 'data-node': e.nodeId ?? '', 'data-input': e.input ?? '', 'data-code': e.code },
        h('div', { class: 'where' }, h('b', {}, where), h('span', { class: 'code' }, e.code)), h('div', {}, e.message));
      if (e.nodeId) li.addEventListener('click', () => this.editor.centerOn(e.nodeId!));
      ul.append(li);
    }
    pane.append(ul);
  }

  private onEvent(e: ServerEvent): void {
    if (e.runId && this.runStatus === 'submitting' && this.eventsBeforeRunId.length < MAX_EARLY_EVENTS) this.eventsBeforeRunId.push(e);
    if (!e.runId || e.runId !== this.runId) return;
    const nodeId = typeof e.nodeId === 'string' ? e.nodeId : undefined;
    this.eventLog.push({ type: e.type, nodeId });
    const set = (id: string, state: NodeRunState) => {
      if (!this.editor.node(id)) return;
      const d = this.editor.decoration(id);
      d.state = state;
      if (state !== 'running') delete d.progress;
    };
    switch (e.type) {
      case 'run.state': {
        // All a client that subscribed late gets (a run that failed before the editor subscribed):
        // failures are shown from it as from the live events.
        const run = e.run as { status: string; error?: string | null; nodes?: Record<string, { state: string; progress?: { value: number; max: number }; error?: { nodeId?: string; message: string } }>; results?: Record<string, unknown> | null };
        for (const [id, n] of Object.entries(run.nodes ?? {})) {
          const state = ({ pending: 'queued', running: 'running', cached: 'cached', finished: 'done', failed: 'failed', skipped: 'skipped', cancelled: 'cancelled' } as Record<string, NodeRunState>)[n.state];
          if (state) set(id, state);
          if (n.progress && this.editor.node(id)) this.editor.decoration(id).progress = n.progress;
          if (n.state === 'failed' && n.error) this.nodeFailed(id, n.error.message);
        }
        if (run.status === 'failed' && run.error && !this.problems.some((p) => p.code === 'NODE_FAILED')) this.addProblem({ nodeId: null, code: 'RUN_FAILED', message: run.error });
        this.setStatus(run.status === 'succeeded' ? 'done' : run.status, run.status === 'failed' && run.error ? run.error : undefined);
        if (run.results) this.showResults(e.runId, run.results);
        break;
      }
      case 'run.started':
        this.setStatus('running');
        for (const id of (e.nodes as string[] | undefined) ?? []) set(id, 'queued');
        break;
      case 'node.started':
        if (nodeId) set(nodeId, 'running');
        this.setStatus('running', nodeId);
        break;
      case 'node.cached':
        if (nodeId) set(nodeId, 'cached');
        break;
      case 'node.progress':
        if (nodeId && this.editor.node(nodeId)) {
          const d = this.editor.decoration(nodeId);
          d.state = 'running';
          d.progress = { value: Number(e.value), max: Number(e.max) };
          this.setStatus('running', `${nodeId} ${e.value}/${e.max}`);
        }
        break;
      case 'node.finished':
        if (nodeId) set(nodeId, 'done');
        break;
      case 'node.failed': {
        if (!nodeId) break;
        const error = e.error as { nodeId: string; message: string } | undefined;
        set(nodeId, error && error.nodeId !== nodeId ? 'skipped' : 'failed');
        if (error && error.nodeId === nodeId) this.nodeFailed(nodeId, error.message);
        break;
      }
      case 'run.finished':
      case 'run.failed':
      case 'run.cancelled': {
        for (const id of this.editor.nodeIds()) {
          const d = this.editor.decorationOf(id);
          if (d?.state === 'queued' || d?.state === 'running') set(id, e.type === 'run.cancelled' ? 'cancelled' : 'skipped');
        }
        if (e.type === 'run.failed' && e.message && !this.problems.some((p) => p.code === 'NODE_FAILED')) this.addProblem({ nodeId: null, code: 'RUN_FAILED', message: String(e.message) });
        this.setStatus(e.type === 'run.finished' ? 'done' : e.type === 'run.failed' ? 'failed' : 'cancelled', e.type === 'run.failed' ? String(e.message ?? '') : undefined);
        this.showResults(e.runId, (e.outputs ?? {}) as Record<string, unknown>);
        break;
      }
      case 'run.interrupted':
        this.setStatus('interrupted');
        break;
      default:
        return;
    }
    this.editor.redraw();
  }

  private onPreview(p: PreviewEvent): void {
    if (p.runId !== this.runId || !this.editor.node(p.nodeId)) return;
    this.eventLog.push({ type: 'node.preview', nodeId: p.nodeId });
    const img = new Image();
    img.onload = () => {
      const d = this.editor.decoration(p.nodeId);
      const images = d.images && d.live ? [...d.images] : [];
      images[p.index] = img;
      d.images = images.filter(Boolean);
      d.live = true;
      this.editor.fitImages(p.nodeId);
    };
    img.src = p.url;
    const def = this.catalog.get(this.editor.node(p.nodeId)!.type);
    if (def?.output) this.addToGallery({ runId: p.runId, nodeId: p.nodeId, label: `${p.nodeId} (preview ${p.index + 1})`, url: p.url, image: true });
  }

  /** A run's files in the gallery and, with `decorate` (the run of the graph on screen), on its nodes. */
  private showResults(runId: string, results: Record<string, unknown>, options: { decorate?: boolean } = {}): void {
    const decorate = options.decorate ?? true;
    for (const [nodeId, r] of Object.entries(results)) {
      const result = r as { status: string; values?: Record<string, unknown>; error?: { message: string } };
      if (result.status !== 'succeeded' || !result.values) continue;
      const files = collectFiles(result.values);
      const notes: string[] = [];
      const images: HTMLImageElement[] = [];
      for (const f of files) {
        const image = /\.(png|jpe?g)$/i.test(f.file);
        if (image && decorate) {
          const img = new Image();
          img.onload = () => this.editor.fitImages(nodeId);
          img.src = f.url;
          images.push(img);
        } else notes.push(`file: ${f.file.split('/').pop()}`);
        this.addToGallery({ runId, nodeId, label: `${nodeId} · ${f.file.split('/').pop()}`, url: f.url, image });
      }
      for (const [name, v] of Object.entries(result.values)) {
        const t = (v as { tensor?: { shape: number[]; dtype: string } } | null)?.tensor;
        if (t) notes.push(`${name}: ${t.dtype}[${t.shape.join('×')}]`);
      }
      if (decorate && this.editor.node(nodeId)) {
        const d = this.editor.decoration(nodeId);
        if (images.length) {
          d.images = images;
          d.live = false;
        }
        if (notes.length) d.notes = notes;
      }
    }
    this.editor.redraw();
  }

  private addToGallery(item: GalleryItem): void {
    if (item.url && this.gallery.some((g) => g.url === item.url && g.label === item.label)) return;
    this.gallery.unshift(item);
    this.gallery = this.gallery.slice(0, 200);
    this.renderGallery();
  }

  private renderGallery(): void {
    const pane = this.els.gallery;
    clear(pane);
    if (this.gallery.length === 0) {
      pane.append(h('p', { class: 'empty' }, 'Outputs of your runs appear here.'));
      return;
    }
    const grid = h('div', { class: 'gallery' });
    const images = this.gallery.filter((g) => g.image && g.url).map((g) => ({ label: g.label, url: g.url! }));
    for (const item of this.gallery) {
      let content: HTMLElement;
      if (item.image && item.url) {
        const at = images.findIndex((i) => i.url === item.url && i.label === item.label);
        content = h('img', { src: item.url, alt: item.label, loading: 'lazy', title: 'Open the viewer', onclick: () => openImageViewer(images, at) });
      } else if (item.url && isTensorFile(item.url)) content = this.tensorThumbnail(item.label, item.url);
      else content = h('a', { class: 'file', href: item.url ?? '#', target: '_blank', rel: 'noopener' }, (item.label.split('.').pop() ?? 'file').slice(0, 5));
      grid.append(h('figure', { 'data-node': item.nodeId }, content, h('figcaption', {}, item.label)));
    }
    pane.append(grid);
  }

  /** A tensor file drawn small (a click opens it large); parsed once per file. */
  private tensorThumbnail(label: string, url: string): HTMLElement {
    const canvas = h('canvas', { width: 160, height: 160, class: 'plot', 'data-testid': 'tensor-plot', title: 'Loading…' });
    const tensor = (this.tensors.get(url) ?? this.tensors.set(url, fetchTensor(url)).get(url))!;
    void tensor.then((t) => {
      drawTensor(canvas, t, this.mixtureInGraph());
      canvas.title = describeTensor(t);
      canvas.dataset.kind = plotKind(t);
      canvas.onclick = () => openTensorViewer(label, url, t, this.mixtureInGraph());
    }, (e: Error) => {
      canvas.title = `Cannot read ${label}: ${e.message}`;
    });
    return canvas;
  }

  /** The Gaussian mixture of the graph on screen, for drawing 2-D samples over its density. */
  private mixtureInGraph(): Mixture | undefined {
    const node = Object.values(this.editor.toWorkflow().nodes).find((n) => n.type === 'GaussianMixtureModel');
    const value = (node?.inputs?.mixture ?? this.catalog.get('GaussianMixtureModel')?.inputs.mixture?.default) as Mixture | undefined;
    return value && Array.isArray(value.means) && Array.isArray(value.weights) && Array.isArray(value.stds) ? value : undefined;
  }

  // ---- help and shortcuts ---------------------------------------------------------------------

  help(): void {
    const table = h('table', { class: 'shortcuts' }, ...SHORTCUTS.map(([k, v]) => h('tr', {}, h('td', {}, h('kbd', {}, k)), h('td', {}, v))));
    const body = h('div', {},
      table,
      h('p', { class: 'muted' }, 'Node states: queued (grey), running (amber, with progress), cached (blue), done (green), failed (red). Hover a widget, socket or node title for its description.'));
    modal('Keyboard shortcuts', body, 'help-panel');
  }

  private installShortcuts(): void {
    document.addEventListener('keydown', (e) => {
      const target = e.target as HTMLElement;
      const typing = target.closest('input, textarea, select, [contenteditable]') !== null;
      // A modal panel (help, the mask editor) has the keyboard: nothing reaches the graph behind it.
      if (typing || document.querySelector('.modal-backdrop')) return;
      const ctrl = e.ctrlKey || e.metaKey;
      const onCanvas = target === this.els.canvas;
      const key = e.key.toLowerCase();
      let handled = true;
      if (ctrl && key === 'enter') void this.run();
      else if (ctrl && key === 'z' && !e.shiftKey) this.editor.undo();
      else if (ctrl && ((key === 'z' && e.shiftKey) || key === 'y')) this.editor.redo();
      else if (ctrl && key === 's') this.download();
      else if (ctrl && key === 'o') this.els.fileInput.click();
      else if (ctrl && key === 'c' && !onCanvas) this.editor.copy();
      else if (ctrl && key === 'v' && !onCanvas) this.editor.paste();
      else if (ctrl && key === 'a' && !onCanvas) this.editor.selectAll();
      else if ((key === 'delete' || key === 'backspace') && !onCanvas) this.editor.deleteSelected();
      else if (!ctrl && (key === 'f' || key === '.')) this.editor.fitView();
      else if (!ctrl && (key === '+' || key === '=')) this.editor.zoom(1.2);
      else if (!ctrl && key === '-') this.editor.zoom(1 / 1.2);
      else if (!ctrl && key === '?') this.help();
      else if (!ctrl && key === '/') {
        const r = this.els.canvas.getBoundingClientRect();
        void this.searchAt(r.left + r.width / 2 - 150, r.top + 80);
      } else handled = false;
      if (handled) {
        e.preventDefault();
        e.stopPropagation();
      }
    }, true);
  }
}

/** The nodes a run computes: ancestors of the outputs (as the server plans). */
export function plannedNodes(workflow: Workflow, catalog: Catalog): string[] {
  const targets = workflow.outputs ?? Object.entries(workflow.nodes).filter(([, n]) => catalog.get(n.type)?.output).map(([id]) => id);
  const seen = new Set<string>();
  const stack = targets.filter((id) => Object.hasOwn(workflow.nodes, id));
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const v of Object.values(workflow.nodes[id]?.inputs ?? {})) if (isLink(v) && Object.hasOwn(workflow.nodes, v.from)) stack.push(v.from);
  }
  return [...seen];
}

/** File references in an output value: the server sends every file a run wrote as a { file, url } object. */
export function collectFiles(value: unknown): { file: string; url: string }[] {
  const out: { file: string; url: string }[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.file === 'string' && typeof o.url === 'string') {
        out.push({ file: o.file, url: o.url });
        return;
      }
      Object.values(o).forEach(visit);
    }
  };
  visit(value);
  return out;
}
