/**
 * The graph editor: a litegraph canvas with diffgraph's node classes, conversion to and from the
 * workflow format, undo/redo, clipboard, fit-to-view, and the run overlay drawn on the nodes (state,
 * progress, live previews, outputs, validation errors). The rest of the app talks to this class only.
 */
import { LGraph, LGraphCanvas, LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import type { Workflow } from '@diffgraph/engine';
import { IMAGE_LOADERS, isImageInput, type Catalog } from '../catalog.ts';
import { extraOf, freshId, installOutputBookkeeping, loading, loadWorkflow, toWorkflow } from './convert.ts';
import { hooks, installSafeNumberPrompt, type InputAction, markExplicit, propsOf, registerNodeTypes, syncApplicability, widgetOf } from './nodes.ts';
import { arrangeGraph } from './layout.ts';

export type NodeRunState = 'queued' | 'running' | 'cached' | 'done' | 'failed' | 'skipped' | 'cancelled';

export interface NodeError {
  input?: string;
  code: string;
  message: string;
}

export interface NodeDecoration {
  state?: NodeRunState;
  progress?: { value: number; max: number };
  /** Live preview (sampler) or output images, drawn in the node body. */
  images?: HTMLImageElement[];
  /** Short text lines about the outputs (files, tensors). */
  notes?: string[];
  errors?: NodeError[];
  /** The images are a live preview (replaced frame by frame) rather than outputs. */
  live?: boolean;
}

export interface EditorCallbacks {
  /** The graph changed (a new undo step). */
  onChange?(): void;
  /** Double-click on empty canvas: open the node search there. */
  onRequestSearch?(clientX: number, clientY: number): void;
  /**
   * A link dragged from a socket was dropped on empty canvas: offer the nodes that can take it
   * (`wants: 'input'`: nodes with an input for a `type` output; `'output'`: nodes with an output for a
   * `type` input), then `connect` the chosen node's id.
   */
  onLinkReleased?(release: LinkRelease): void;
  /** A loader's upload or paint-mask button was pressed on node `id`. */
  onInputAction?(id: string, action: InputAction): void;
  /** Hover help: the text under the pointer (or null). */
  onHover?(text: string | null, clientX: number, clientY: number): void;
  /** A value prompt (number and text widgets, rename). */
  prompt(options: { title: string; value: string; multiline: boolean; clientX: number; clientY: number }): Promise<string | null>;
}

export interface LinkRelease {
  clientX: number;
  clientY: number;
  /** The socket's types (an input may accept several). */
  types: string[];
  wants: 'input' | 'output';
  connect(nodeId: string): boolean;
}

type MenuEntry = { content?: string } | null;
const NODE_MENU = new Set(['Resize', 'Collapse', 'Expand', 'Pin', 'Unpin', 'Clone', 'Align Selected To', 'Distribute Nodes', 'Remove']);
const CANVAS_MENU = new Set(['Add Node', 'Align']);

/** The entries on the list, with separators only between kept entries. */
function supportedEntries(entries: MenuEntry[], supported: Set<string>): MenuEntry[] {
  const kept = entries.filter((e) => e === null || (e.content !== undefined && supported.has(e.content)));
  return kept.filter((e, i) => e !== null || (i > 0 && i < kept.length - 1 && kept[i - 1] !== null));
}

/** Litegraph writes the types an input accepts as one comma-separated string. */
const socketTypes = (type: unknown): string[] => String(type).split(',').filter(Boolean);

const STATE_COLORS: Record<NodeRunState, string> = {
  queued: '#9e9e9e', running: '#ffb300', cached: '#42a5f5', done: '#66bb6a', failed: '#ef5350', skipped: '#8d6e63', cancelled: '#757575',
};
const ERROR_COLOR = '#ff5252';
const UNDO_LIMIT = 100;
/** Below this height (graph units) a loader's image is drawn as a thumbnail in its title instead. */
const MIN_PREVIEW = 40;

type Snapshot = string;

export class GraphEditor {
  readonly graph = new LGraph();
  readonly canvas: LGraphCanvas;
  private readonly decorations = new Map<string, NodeDecoration>();
  private undoStack: Snapshot[] = [];
  private redoStack: Snapshot[] = [];
  private checkpointTimer: ReturnType<typeof setTimeout> | undefined;
  private restoring = false;
  /** Thumbnails of the inputs that LoadImage / LoadMask nodes name, by input name. */
  private readonly inputImages = new Map<string, HTMLImageElement>();

  constructor(private readonly element: HTMLCanvasElement, private readonly catalog: Catalog, private readonly callbacks: EditorCallbacks) {
    LiteGraph.saveViewportWithGraph = false;
    LiteGraph.release_link_on_empty_shows_menu = false;
    LiteGraph.alwaysSnapToGrid = false;
    registerNodeTypes(catalog);
    installSafeNumberPrompt();
    installOutputBookkeeping(this.graph, catalog);
    const added = hooks.onAdded;
    const removed = hooks.onRemoved;
    hooks.onAdded = (node) => {
      added?.(node);
      if (!loading.active) syncApplicability(node, catalog, 'fit');
      this.scheduleCheckpoint();
    };
    hooks.onRemoved = (node) => {
      removed?.(node);
      this.scheduleCheckpoint();
    };
    hooks.onWidgetEdited = (node, input) => {
      if (input === 'path') this.growForInput(node);
      this.scheduleCheckpoint();
    };
    hooks.onInputAction = (node, action) => this.callbacks.onInputAction?.(node.title, action);
    hooks.onDrawForeground = (node, ctx) => this.drawDecoration(node, ctx);
    this.graph.onConnectionChange = () => this.scheduleCheckpoint();

    this.canvas = new LGraphCanvas(element, this.graph, { skip_render: false });
    const canvas = this.canvas as unknown as Record<string, any>;
    canvas.render_canvas_border = false;
    canvas.show_info = false;
    canvas.onDrawForeground = (ctx: CanvasRenderingContext2D) => this.drawErrorBoxes(ctx);
    canvas.allow_searchbox = true;
    canvas.showSearchBox = (event: MouseEvent) => {
      this.callbacks.onRequestSearch?.(event.clientX, event.clientY);
      return undefined;
    };
    this.installLinkRelease();
    this.installMenus();
    canvas.prompt = (title: string, value: unknown, callback: (v: string) => void, event: MouseEvent, multiline?: boolean) => {
      void this.callbacks
        .prompt({ title, value: value == null ? '' : String(value), multiline: !!multiline, clientX: event?.clientX ?? 200, clientY: event?.clientY ?? 200 })
        .then((v) => {
          if (v !== null) {
            callback(v);
            this.scheduleCheckpoint();
            this.canvas.setDirty(true, true);
          }
        });
      return undefined;
    };
    canvas.onNodeTitleDblClick = undefined;
    for (const type of catalog.allTypes()) {
      canvas.default_connection_color_byType[type] = LGraphCanvas.link_type_colors[type];
    }
    // After litegraph's own handlers (drag, connect, paste, delete): one undo step per gesture.
    element.addEventListener('pointerup', () => this.checkpoint());
    element.addEventListener('keyup', () => this.checkpoint());
    element.addEventListener('pointermove', (e) => this.hover(e));
    element.addEventListener('pointerleave', () => this.callbacks.onHover?.(null, 0, 0));
  }

  // ---- content --------------------------------------------------------------------------------

  /** Replaces the graph; with `undoable`, the graph before stays one undo step away. */
  load(workflow: Workflow, options: { fit?: boolean; undoable?: boolean } = {}): void {
    this.decorations.clear();
    if (options.undoable) this.checkpoint();
    loadWorkflow(this.graph, workflow, this.catalog);
    const snap = this.snapshot();
    if (options.undoable && this.undoStack.length > 0) {
      if (this.undoStack.at(-1) !== snap) this.undoStack.push(snap);
      if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
    } else this.undoStack = [snap];
    this.redoStack = [];
    if (options.fit !== false) this.fitView();
    this.canvas.setDirty(true, true);
    this.callbacks.onChange?.();
  }

  toWorkflow(): Workflow {
    return toWorkflow(this.graph, this.catalog);
  }

  get title(): string | undefined {
    const t = extraOf(this.graph).meta?.title;
    return typeof t === 'string' ? t : undefined;
  }

  /** Adds a node of `type`, with widget `values`; at `clientPos` (page pixels) or the middle of the view. Returns its id. */
  addNode(type: string, clientPos?: [number, number], values: Record<string, unknown> = {}): string | undefined {
    if (!this.catalog.get(type)) return undefined;
    const node = LiteGraph.createNode(type);
    if (!node || !this.applyInputs(node, values)) return undefined;
    node.title = freshId(this.graph, type);
    const [x, y] = clientPos ? this.toGraph(clientPos[0], clientPos[1]) : this.viewCenter();
    node.pos = [Math.round(x - (clientPos ? 20 : node.size[0] / 2)), Math.round(y - (clientPos ? 10 : node.size[1] / 2))];
    this.graph.add(node);
    this.canvas.selectNode(node);
    this.canvas.setDirty(true, true);
    this.checkpoint();
    return node.title;
  }

  /**
   * Only menu entries whose effect the workflow format keeps: litegraph's subgraphs, modes, groups,
   * colours, shapes, titles and property panels would be lost on save (or, for subgraphs, break the graph).
   */
  private installMenus(): void {
    const canvas = this.canvas as unknown as { getNodeMenuOptions(node: LGraphNode): MenuEntry[]; getCanvasMenuOptions(): MenuEntry[] };
    const nodeMenu = canvas.getNodeMenuOptions.bind(canvas);
    const canvasMenu = canvas.getCanvasMenuOptions.bind(canvas);
    canvas.getNodeMenuOptions = (node) => supportedEntries(nodeMenu(node), NODE_MENU);
    canvas.getCanvasMenuOptions = () => supportedEntries(canvasMenu(), CANVAS_MENU);
  }

  /** Litegraph drops a link released on empty canvas; we offer the nodes that can take it instead. */
  private installLinkRelease(): void {
    const connector = (this.canvas as unknown as { linkConnector: { events: EventTarget; renderLinks: { node: LGraphNode; fromSlot: { name: string; type: unknown } }[]; state: { connectingTo?: string } } }).linkConnector;
    connector.events.addEventListener('dropped-on-canvas', (event) => {
      const link = connector.renderLinks[0];
      const e = (event as CustomEvent<MouseEvent>).detail;
      if (!link || !this.callbacks.onLinkReleased || !e) return;
      const wants = connector.state.connectingTo === 'input' ? 'input' : 'output';
      const { node: from, fromSlot } = link;
      this.callbacks.onLinkReleased({
        clientX: e.clientX, clientY: e.clientY, types: socketTypes(fromSlot.type), wants,
        connect: (id) => this.connectReleased(from, fromSlot.name, wants, id),
      });
    });
  }

  /** Connects a new node to the socket a released link came from: its first socket that fits. */
  private connectReleased(from: LGraphNode, slotName: string, wants: 'input' | 'output', id: string): boolean {
    const added = this.node(id);
    if (!added || !this.graph._nodes.includes(from)) return false;
    let linked = false;
    if (wants === 'input') {
      const out = from.findOutputSlot(slotName);
      const type = String(from.outputs[out]?.type);
      const slot = added.inputs.findIndex((input) => socketTypes(input.type).some((t) => this.catalog.isAssignable(type, t)));
      linked = out >= 0 && slot >= 0 && from.connect(out, added, slot) != null;
    } else {
      const input = from.findInputSlot(slotName);
      const types = socketTypes(from.inputs[input]?.type);
      const slot = added.outputs.findIndex((output) => types.some((t) => this.catalog.isAssignable(String(output.type), t)));
      linked = input >= 0 && slot >= 0 && added.connect(slot, from, input) != null;
    }
    this.canvas.setDirty(true, true);
    this.checkpoint();
    return linked;
  }

  node(id: string): LGraphNode | undefined {
    return this.graph._nodes.find((n) => n.title === id);
  }

  nodeIds(): string[] {
    return this.graph._nodes.map((n) => n.title);
  }

  /** Sets widget inputs as the user would (explicit, one undo step); false when the node lacks one of them. */
  setInputs(id: string, values: Record<string, unknown>): boolean {
    const node = this.node(id);
    if (!node || !this.applyInputs(node, values)) return false;
    if ('path' in values) this.growForInput(node);
    this.canvas.setDirty(true, true);
    this.checkpoint();
    return true;
  }

  /**
   * Makes room for the image a loader was just given (by upload, drop, the dropdown or the mask
   * editor). Only then: a loaded workflow keeps its layout, and its loaders show a small thumbnail
   * in the title when their body has no room.
   */
  private growForInput(node: LGraphNode): void {
    const img = this.inputImage(node);
    if (!img) return;
    if (img.complete && img.naturalWidth) this.fitImages(node.title);
    else img.addEventListener('load', () => this.fitImages(node.title), { once: true });
  }

  private applyInputs(node: LGraphNode, values: Record<string, unknown>): boolean {
    const widgets = Object.keys(values).map((input) => widgetOf(node, input));
    if (widgets.some((w) => !w)) return false;
    for (const [input, value] of Object.entries(values)) {
      widgetOf(node, input)!.value = value;
      markExplicit(node, input);
    }
    return true;
  }

  /** Page position just below node `id` (where a node made from it goes). */
  below(id: string): [number, number] | undefined {
    const node = this.node(id);
    return node && this.toClient(node.pos[0] + 20, node.pos[1] + node.size[1] + LiteGraph.NODE_TITLE_HEIGHT + 40);
  }

  /** The id of the node under a page position, if any. */
  nodeAt(clientX: number, clientY: number): string | undefined {
    return this.graph.getNodeOnPos(...this.toGraph(clientX, clientY))?.title;
  }

  rename(id: string, to: string): boolean {
    const node = this.node(id);
    if (!node || !to || this.node(to)) return false;
    const outputs = extraOf(this.graph).outputs;
    if (outputs) extraOf(this.graph).outputs = outputs.map((o) => (o === id ? to : o));
    const d = this.decorations.get(id);
    if (d) {
      this.decorations.delete(id);
      this.decorations.set(to, d);
    }
    node.title = to;
    this.canvas.setDirty(true, true);
    this.checkpoint();
    return true;
  }

  /** Seeds set to increment / decrement / randomize change (after a run was queued). */
  advanceSeeds(): void {
    let changed = false;
    for (const node of this.graph._nodes) {
      const def = this.catalog.get(node.type);
      for (const [input, mode] of Object.entries(propsOf(node).seedControl)) {
        const widget = widgetOf(node, input);
        const spec = def?.inputs[input];
        if (!widget || !spec || mode === 'fixed') continue;
        const min = spec.min ?? 0;
        const max = spec.max ?? Number.MAX_SAFE_INTEGER;
        const current = Number(widget.value);
        let next = current;
        if (mode === 'increment') next = current + 1;
        else if (mode === 'decrement') next = current - 1;
        else next = min + Math.floor(Math.random() * Math.min(max - min + 1, 2 ** 48));
        widget.value = Math.max(min, Math.min(max, next));
        markExplicit(node, input);
        changed = true;
      }
    }
    if (changed) {
      this.canvas.setDirty(true, true);
      this.checkpoint();
    }
  }

  // ---- editing --------------------------------------------------------------------------------

  private snapshot(): Snapshot {
    const data = this.graph.serialize() as unknown as Record<string, any>;
    delete data.revision;
    data.nodes = [...(data.nodes as { id: number; order?: number }[])].sort((a, b) => a.id - b.id).map(({ order: _o, ...n }) => n);
    return JSON.stringify(data);
  }

  private scheduleCheckpoint(): void {
    if (this.restoring || loading.active) return;
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = setTimeout(() => this.checkpoint(), 30);
  }

  /** Records an undo step when the graph differs from the last one. */
  checkpoint(): void {
    if (this.restoring || loading.active) return;
    clearTimeout(this.checkpointTimer);
    const snap = this.snapshot();
    if (this.undoStack.at(-1) === snap) return;
    this.undoStack.push(snap);
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.callbacks.onChange?.();
  }

  get canUndo(): boolean {
    return this.undoStack.length > 1;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  undo(): void {
    this.checkpoint();
    if (this.undoStack.length < 2) return;
    this.redoStack.push(this.undoStack.pop()!);
    this.restore(this.undoStack.at(-1)!);
  }

  redo(): void {
    const snap = this.redoStack.pop();
    if (!snap) return;
    this.undoStack.push(snap);
    this.restore(snap);
  }

  private restore(snap: Snapshot): void {
    this.restoring = true;
    loading.active = true;
    try {
      this.graph.configure(JSON.parse(snap));
      // Sizes come from the snapshot: only the hidden state is re-derived.
      for (const node of this.graph._nodes) syncApplicability(node, this.catalog, false);
    } finally {
      loading.active = false;
      this.restoring = false;
    }
    this.canvas.setDirty(true, true);
    this.callbacks.onChange?.();
  }

  copy(): void {
    if (this.canvas.selectedItems.size > 0) this.canvas.copyToClipboard();
  }

  paste(): void {
    this.canvas.pasteFromClipboard({ position: [...this.canvas.graph_mouse] as [number, number] });
    this.checkpoint();
  }

  deleteSelected(): void {
    this.canvas.deleteSelected();
    this.checkpoint();
  }

  selectAll(): void {
    this.canvas.selectItems();
    this.canvas.setDirty(true, true);
  }

  selectedIds(): string[] {
    return [...this.canvas.selectedItems].filter((i): i is LGraphNode => i instanceof LGraphNode).map((n) => n.title);
  }

  // ---- view -----------------------------------------------------------------------------------

  resize(): void {
    const { clientWidth, clientHeight } = this.element;
    if (clientWidth && clientHeight && (this.element.width !== clientWidth || this.element.height !== clientHeight)) {
      this.element.width = clientWidth;
      this.element.height = clientHeight;
    }
    this.canvas.setDirty(true, true);
  }

  fitView(): void {
    const nodes = this.graph._nodes;
    if (nodes.length === 0) {
      this.canvas.ds.reset();
      this.canvas.setDirty(true, true);
      return;
    }
    let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
    for (const n of nodes) {
      x0 = Math.min(x0, n.pos[0]);
      y0 = Math.min(y0, n.pos[1] - LiteGraph.NODE_TITLE_HEIGHT);
      x1 = Math.max(x1, n.pos[0] + n.size[0]);
      y1 = Math.max(y1, n.pos[1] + n.size[1]);
    }
    const pad = 40;
    const ds = this.canvas.ds;
    ds.fitToBounds([x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad], { zoom: 1 });
    if (ds.scale > 1.25) ds.changeScale(1.25, [this.element.width / 2, this.element.height / 2]);
    // Below litegraph's low-quality threshold nodes are drawn as grey boxes without text: a graph
    // too big for the view is shown readable from its start (left, top) instead; pan for the rest.
    if (ds.scale < this.readableScale) {
      ds.scale = this.readableScale;
      ds.offset[0] = pad - x0;
      ds.offset[1] = pad - y0;
    }
    this.canvas.setDirty(true, true);
  }

  /** The smallest zoom at which litegraph still draws node text. */
  get readableScale(): number {
    return this.canvas.low_quality_zoom_threshold;
  }

  zoom(factor: number): void {
    this.canvas.ds.changeScale(this.canvas.ds.scale * factor, [this.element.width / 2, this.element.height / 2]);
    this.canvas.setDirty(true, true);
  }

  centerOn(id: string): void {
    const node = this.node(id);
    if (!node) return;
    this.canvas.centerOnNode(node);
    this.canvas.selectNode(node);
    this.canvas.setDirty(true, true);
  }

  /** Page pixels → graph coordinates. */
  toGraph(clientX: number, clientY: number): [number, number] {
    const r = this.element.getBoundingClientRect();
    const p = this.canvas.ds.convertCanvasToOffset([clientX - r.left, clientY - r.top]);
    return [p[0], p[1]];
  }

  /** Graph coordinates → page pixels. */
  toClient(x: number, y: number): [number, number] {
    const r = this.element.getBoundingClientRect();
    const p = this.canvas.ds.convertOffsetToCanvas([x, y]);
    return [r.left + p[0], r.top + p[1]];
  }

  private viewCenter(): [number, number] {
    const r = this.element.getBoundingClientRect();
    return this.toGraph(r.left + r.width / 2, r.top + r.height / 2);
  }

  /**
   * Where things are on screen (page pixels), for pointer-driven tests and tours: a node's title,
   * an input socket or widget, an output socket.
   */
  locate(id: string, part: { input?: string; output?: string; title?: boolean }): [number, number] | undefined {
    const node = this.node(id);
    if (!node) return undefined;
    this.canvas.draw(true, true);
    if (part.output !== undefined) {
      const i = node.findOutputSlot(part.output);
      return i < 0 ? undefined : this.toClient(...(node.getOutputPos(i) as [number, number]));
    }
    if (part.input !== undefined) {
      const widget = widgetOf(node, part.input);
      if (widget) return this.toClient(node.pos[0] + node.size[0] / 2, node.pos[1] + widget.y + LiteGraph.NODE_WIDGET_HEIGHT / 2);
      const i = node.findInputSlot(part.input);
      return i < 0 ? undefined : this.toClient(...(node.getInputPos(i) as [number, number]));
    }
    return this.toClient(node.pos[0] + node.size[0] / 2, node.pos[1] - LiteGraph.NODE_TITLE_HEIGHT / 2);
  }

  // ---- run overlay ----------------------------------------------------------------------------

  decoration(id: string): NodeDecoration {
    let d = this.decorations.get(id);
    if (!d) this.decorations.set(id, (d = {}));
    return d;
  }

  decorationOf(id: string): NodeDecoration | undefined {
    return this.decorations.get(id);
  }

  clearDecorations(keep?: (d: NodeDecoration) => Partial<NodeDecoration>): void {
    if (keep) {
      for (const [id, d] of this.decorations) this.decorations.set(id, keep(d));
    } else this.decorations.clear();
    this.redraw();
  }

  redraw(): void {
    this.canvas.setDirty(true, true);
  }

  /** Grows a node so that its images (outputs, or the input image it loads) or output notes fit under the widgets. */
  fitImages(id: string): void {
    const node = this.node(id);
    if (!node) return;
    const d = this.decorations.get(id) ?? {};
    const input = this.inputImage(node);
    const images = d.images?.length ? d.images : input?.naturalWidth ? [input] : [];
    let wanted = 0;
    if (images.length) {
      const img = images[0];
      const width = node.size[0] - 16;
      const ratio = img.naturalWidth ? img.naturalHeight / img.naturalWidth : 1;
      const n = images.length;
      const cols = Math.ceil(Math.sqrt(n));
      wanted = this.contentBottom(node) + 8 + Math.min(256, (width / cols) * ratio) * Math.ceil(n / cols) + 8;
    } else if (d.notes?.length) {
      wanted = this.contentBottom(node) + 8 + Math.min(4, d.notes.length) * 16 + 4;
    }
    if (node.size[1] < wanted) node.setSize([node.size[0], wanted]);
    this.redraw();
  }

  /** Lays the graph out left to right (layout.ts), undoable. */
  arrange(): void {
    arrangeGraph(this.graph);
    this.fitView();
    this.checkpoint();
  }

  private contentBottom(node: LGraphNode): number {
    let bottom = 0;
    for (const w of node.widgets ?? []) bottom = Math.max(bottom, (w.y ?? 0) + (w.computedHeight ?? LiteGraph.NODE_WIDGET_HEIGHT + 4));
    const slots = Math.max(node.inputs.filter((s) => !(s as { widget?: unknown }).widget).length, node.outputs.length);
    return Math.max(bottom, slots * LiteGraph.NODE_SLOT_HEIGHT + 4);
  }

  /**
   * The thumbnail of the image a LoadImage / LoadMask node names, once the server has listed that
   * input (so a name typed by hand that is not there never turns into a failed request).
   */
  inputImage(node: LGraphNode): HTMLImageElement | undefined {
    if (!IMAGE_LOADERS.has(node.type)) return undefined;
    const name = widgetOf(node, 'path')?.value;
    if (typeof name !== 'string' || !isImageInput(name) || !this.catalog.inputs.some((f) => f.name === name)) return undefined;
    let img = this.inputImages.get(name);
    if (!img) {
      img = new Image();
      img.onload = () => this.redraw();
      img.src = inputUrl(name);
      this.inputImages.set(name, img);
    }
    return img;
  }

  private drawDecoration(node: LGraphNode, ctx: CanvasRenderingContext2D): void {
    const d = this.decorations.get(node.title) ?? {};
    const input = d.images?.length ? undefined : this.inputImage(node);
    const [w, h] = node.size;
    const th = LiteGraph.NODE_TITLE_HEIGHT;
    ctx.save();
    if (input) {
      const room = h - this.contentBottom(node) - 12;
      if (room >= MIN_PREVIEW) drawImages(ctx, [input], 8, this.contentBottom(node) + 4, w - 16, room);
      else drawImages(ctx, [input], w - 3 * th, -th + 3, th - 6, th - 6);
    }
    const color = d.errors?.length ? ERROR_COLOR : d.state ? STATE_COLORS[d.state] : undefined;
    if (color) {
      ctx.lineWidth = d.state === 'running' || d.errors?.length ? 3 : 2;
      ctx.strokeStyle = color;
      ctx.beginPath();
      ctx.roundRect(-5, -th - 5, w + 10, h + th + 10, 10);
      ctx.stroke();
    }
    if (d.state) {
      const label = d.state === 'running' && d.progress ? `${d.progress.value}/${d.progress.max}` : d.state;
      ctx.font = '11px sans-serif';
      const tw = ctx.measureText(label).width + 10;
      ctx.fillStyle = STATE_COLORS[d.state];
      ctx.beginPath();
      ctx.roundRect(w - tw - 4, -th + 6, tw, 16, 8);
      ctx.fill();
      ctx.fillStyle = '#111';
      ctx.textAlign = 'left';
      ctx.fillText(label, w - tw + 1, -th + 18);
    }
    if (d.progress && d.progress.max > 0) {
      const f = Math.max(0, Math.min(1, d.progress.value / d.progress.max));
      ctx.fillStyle = '#333';
      ctx.fillRect(0, 0, w, 5);
      ctx.fillStyle = d.state === 'failed' ? ERROR_COLOR : '#66bb6a';
      ctx.fillRect(0, 0, w * f, 5);
    }
    const top = this.contentBottom(node) + 4;
    if (d.images?.length) drawImages(ctx, d.images, 8, top, w - 16, h - top - 8);
    if (d.notes?.length && !d.images?.length) {
      ctx.font = '12px sans-serif';
      ctx.fillStyle = '#cfd8dc';
      ctx.textAlign = 'left';
      d.notes.slice(0, 4).forEach((line, i) => ctx.fillText(line, 10, Math.min(h - 6, top + 14 + i * 16)));
    }
    if (d.errors?.length) {
      for (const e of d.errors) {
        if (!e.input) continue;
        const widget = widgetOf(node, e.input);
        ctx.strokeStyle = ERROR_COLOR;
        ctx.lineWidth = 2;
        if (widget && widget.y !== undefined) {
          ctx.beginPath();
          ctx.roundRect(6, widget.y - 1, w - 12, LiteGraph.NODE_WIDGET_HEIGHT + 2, 6);
          ctx.stroke();
        } else {
          const i = node.findInputSlot(e.input);
          if (i >= 0) {
            const p = node.getInputPos(i);
            ctx.beginPath();
            ctx.arc(p[0] - node.pos[0], p[1] - node.pos[1], 7, 0, Math.PI * 2);
            ctx.stroke();
          }
        }
      }
    }
    ctx.restore();
  }

  /** Error messages under their nodes, drawn after every node so no other node covers them. */
  private drawErrorBoxes(ctx: CanvasRenderingContext2D): void {
    for (const [id, d] of this.decorations) {
      if (!d.errors?.length) continue;
      const node = this.node(id);
      if (!node) continue;
      const [w, h] = node.size;
      ctx.save();
      ctx.translate(node.pos[0], node.pos[1]);
      ctx.font = '12px sans-serif';
      ctx.textAlign = 'left';
      const width = Math.max(w, 260);
      const lines = d.errors.flatMap((e) => wrap(ctx, `${e.input ? `${e.input}: ` : ''}${e.message}`, width - 12));
      ctx.fillStyle = 'rgba(60, 10, 10, 0.95)';
      ctx.strokeStyle = ERROR_COLOR;
      ctx.lineWidth = 1;
      ctx.beginPath();
      ctx.roundRect(0, h + 10, width, lines.length * 16 + 8, 6);
      ctx.fill();
      ctx.stroke();
      ctx.fillStyle = '#ffcdd2';
      lines.forEach((line, i) => ctx.fillText(line, 6, h + 26 + i * 16));
      ctx.restore();
    }
  }

  // ---- hover help -----------------------------------------------------------------------------

  private hover(e: PointerEvent): void {
    if (!this.callbacks.onHover || e.buttons) return;
    const [x, y] = this.toGraph(e.clientX, e.clientY);
    const node = this.graph.getNodeOnPos(x, y);
    if (!node) return this.callbacks.onHover(null, 0, 0);
    const def = this.catalog.get(node.type);
    let text: string | null = null;
    const widget = node.getWidgetOnPos(x, y, true);
    if (widget && def) {
      const name = widget.name.replace(/ control$/, '');
      const spec = def.inputs[name];
      if (spec) text = `${name} (${spec.type}${spec.min !== undefined || spec.max !== undefined ? `, ${spec.min ?? '−∞'}…${spec.max ?? '∞'}` : ''})${spec.tooltip ? `: ${spec.tooltip}` : ''}`;
      if (widget.name.endsWith(' control')) text = `${name}: what happens to the seed after each run (fixed, increment, decrement, randomize)`;
    }
    if (!text && def) {
      const slot = node.getSlotInPosition(x, y);
      if (slot?.input) {
        const spec = def.inputs[slot.input.name];
        if (spec) text = `${slot.input.name} (${spec.type}${spec.optional ? ', optional' : ''})${spec.tooltip ? `: ${spec.tooltip}` : ''}`;
      } else if (slot?.output) {
        const spec = def.outputs[slot.output.name];
        if (spec) text = `${slot.output.name} → ${spec.type}${spec.tooltip ? `: ${spec.tooltip}` : ''}`;
      }
    }
    if (!text && y < node.pos[1]) {
      text = def ? `${node.type} (${def.category}): ${def.description}` : `Unknown node type "${propsOf(node).rawType}"`;
    }
    this.callbacks.onHover(text, e.clientX, e.clientY);
  }
}

/** Where the server serves an input file (GET /api/uploads/<name>). */
export function inputUrl(name: string): string {
  return `/api/uploads/${name.split('/').map(encodeURIComponent).join('/')}`;
}

/** Images in a grid inside the box (x, y, width, height), each scaled to fit its cell. */
function drawImages(ctx: CanvasRenderingContext2D, images: HTMLImageElement[], x: number, y: number, width: number, height: number): void {
  const n = images.length;
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  const cellW = width / cols;
  const cellH = Math.max(8, height / rows);
  images.forEach((img, i) => {
    if (!img.complete || !img.naturalWidth) return;
    const s = Math.min(cellW / img.naturalWidth, cellH / img.naturalHeight);
    const iw = img.naturalWidth * s;
    const ih = img.naturalHeight * s;
    const cx = x + (i % cols) * cellW + (cellW - iw) / 2;
    const cy = y + Math.floor(i / cols) * cellH + (cellH - ih) / 2;
    ctx.imageSmoothingEnabled = s < 1;
    ctx.drawImage(img, cx, cy, iw, ih);
  });
}

function wrap(ctx: CanvasRenderingContext2D, text: string, width: number): string[] {
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    const next = line ? `${line} ${word}` : word;
    if (ctx.measureText(next).width > width && line) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line) lines.push(line);
  return lines.slice(0, 8);
}
