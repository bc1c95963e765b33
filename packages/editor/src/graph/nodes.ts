/**
 * litegraph node classes generated from the node library: one class per node type, with a widget per
 * primitive input (each also an input socket: link a node's output onto the widget to feed it), a
 * socket per typed input, typed outputs and socket colors. Everything that touches litegraph lives in
 * this folder (src/graph/), so changing the graph library touches only this folder.
 */
import { LGraphCanvas, LGraphNode, LiteGraph, NumberWidget, type IWidget } from '@comfyorg/litegraph';
import { Catalog, initialValue, SEED_CONTROLS, typeColor, widgetKind, type InputSpec, type NodeInfo, type SeedControl, type WidgetKind } from '../catalog.ts';

type AnyWidget = IWidget & { options: Record<string, any>; value: any; name: string; setValue?: (v: unknown, o: unknown) => void };

/** What a diffgraph node keeps in litegraph's (serialized) properties. */
export interface NodeProps {
  /** Input names set explicitly (given in the loaded file, or edited): written out even when equal to the default. */
  explicit: string[];
  /** Inputs the editor cannot show (unknown names, literals on socket inputs, links it cannot draw): kept as they are. */
  extra: Record<string, unknown>;
  /** Seed inputs whose value changes before each run. */
  seedControl: Record<string, SeedControl>;
  /** Placeholder nodes (type not in the library): the type and inputs as loaded. */
  rawType?: string;
  [key: string]: unknown;
}

export const UNKNOWN_NODE = 'diffgraph/unknown';

export function propsOf(node: LGraphNode): NodeProps {
  const p = node.properties as unknown as NodeProps;
  p.explicit ??= [];
  p.extra ??= {};
  p.seedControl ??= {};
  return p;
}

export function markExplicit(node: LGraphNode, input: string): void {
  const p = propsOf(node);
  if (!p.explicit.includes(input)) p.explicit.push(input);
}

export interface NodeHooks {
  /** A widget value changed by the user. */
  onWidgetEdited?(node: LGraphNode, input: string): void;
  /** Draws run state (status, progress, previews, outputs, errors) on top of a node. */
  onDrawForeground?(node: LGraphNode, ctx: CanvasRenderingContext2D): void;
  /** Keeps node ids unique when nodes are added (palette, paste). */
  onAdded?(node: LGraphNode): void;
  onRemoved?(node: LGraphNode): void;
  /** A loader's button: upload a file for its `path`, or paint a mask (LoadMask: its own; LoadImage: one over its image). */
  onInputAction?(node: LGraphNode, action: InputAction): void;
}

export type InputAction = 'upload' | 'mask';

/** Names of the buttons under a loader's `path` dropdown. */
export const INPUT_BUTTONS: Record<InputAction, string> = { upload: '⇪ upload…', mask: '✎ paint mask…' };

export const hooks: NodeHooks = {};

export function definitionOf(catalog: Catalog, node: LGraphNode): NodeInfo | undefined {
  return catalog.get(node.type);
}

/** Slot type of an input: every output type that may feed it, comma-separated (litegraph's own convention). */
function acceptType(catalog: Catalog, type: string): string {
  return catalog.acceptedBy(type).join(',');
}

function floatStep(spec: InputSpec): number {
  if (spec.step !== undefined) return spec.step;
  if (spec.min !== undefined && spec.max !== undefined && spec.max - spec.min <= 2) return 0.01;
  return 0.1;
}

function decimals(x: number): number {
  const s = String(x);
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

function addInputWidget(node: LGraphNode, catalog: Catalog, nodeType: string, name: string, spec: InputSpec, kind: WidgetKind): void {
  const value = initialValue(kind, spec);
  const edited = () => {
    markExplicit(node, name);
    syncApplicability(node, catalog);
    hooks.onWidgetEdited?.(node, name);
  };
  let widget: AnyWidget;
  switch (kind) {
    case 'int':
    case 'seed':
      widget = node.addWidget('number', name, value as number, edited, {
        min: spec.min, max: spec.max, step2: spec.step ?? 1, precision: 0, round: 1,
      } as any) as unknown as AnyWidget;
      break;
    case 'float': {
      const step = floatStep(spec);
      widget = node.addWidget('number', name, value as number, edited, {
        min: spec.min, max: spec.max, step2: step, precision: Math.max(2, Math.min(6, decimals(step))),
      } as any) as unknown as AnyWidget;
      break;
    }
    case 'enum':
      widget = node.addWidget('combo', name, value as string, edited, { values: [...(spec.enum ?? [])] }) as unknown as AnyWidget;
      break;
    case 'model': {
      // The node's own type is the loader: LoadPipeline lists pipelines, LoadClassifier classifiers.
      const choices = catalog.modelChoices(nodeType);
      widget = choices.length > 0
        ? (node.addWidget('combo', name, value as string, edited, { values: choices }) as unknown as AnyWidget)
        : (node.addWidget('text', name, value as string, edited, {}) as unknown as AnyWidget);
      break;
    }
    case 'input':
      // Read at each opening, so a file uploaded meanwhile is there.
      widget = node.addWidget('combo', name, value as string, edited, { values: () => catalog.inputChoices(nodeType) } as any) as unknown as AnyWidget;
      break;
    case 'toggle':
      widget = node.addWidget('toggle', name, value as boolean, edited, { on: 'true', off: 'false' }) as unknown as AnyWidget;
      break;
    case 'multiline':
    case 'json':
      widget = node.addWidget('text', name, value as string, edited, { multiline: true, json: kind === 'json' } as any) as unknown as AnyWidget;
      break;
    default:
      widget = node.addWidget('text', name, value as string, edited, {}) as unknown as AnyWidget;
  }
  (widget as any).tooltip = spec.tooltip;
  const slot = node.addInput(name, acceptType(catalog, spec.type), { widget: { name } } as any);
  slot.color_on = slot.color_off = typeColor(spec.type);
  if (kind === 'input') {
    node.addWidget('button', INPUT_BUTTONS.upload, '', () => hooks.onInputAction?.(node, 'upload'), {});
    if (nodeType === 'LoadMask' || nodeType === 'LoadImage') node.addWidget('button', INPUT_BUTTONS.mask, '', () => hooks.onInputAction?.(node, 'mask'), {});
  }
  if (kind === 'seed') {
    node.addWidget('combo', `${name} control`, 'fixed', (v: unknown) => {
      propsOf(node).seedControl[name] = v as SeedControl;
      if (v === 'fixed') delete propsOf(node).seedControl[name];
      hooks.onWidgetEdited?.(node, name);
    }, { values: [...SEED_CONTROLS] });
  }
}

/** Builds the slots and widgets of a node of type `def`. */
function build(node: LGraphNode, catalog: Catalog, def: NodeInfo): void {
  const p = propsOf(node);
  void p;
  for (const [name, spec] of Object.entries(def.inputs)) {
    const kind = widgetKind(spec);
    if (kind === 'socket') {
      const slot = node.addInput(name, acceptType(catalog, spec.type));
      slot.color_on = slot.color_off = typeColor(spec.type);
      if (spec.optional) slot.label = `${name}?`;
    } else {
      addInputWidget(node, catalog, def.type, name, spec, kind);
    }
  }
  for (const [name, spec] of Object.entries(def.outputs)) {
    const slot = node.addOutput(name, spec.type);
    slot.color_on = slot.color_off = typeColor(spec.type);
  }
  node.serialize_widgets = true;
  syncApplicability(node, catalog, false);
  const [w, h] = node.computeSize();
  node.size = [Math.max(w, 240), h];
}

/** arrange() adds 4 to a widget's height. */
const HIDDEN_WIDGET_SIZE = (): [number, number] => [0, -4];

/**
 * Shows only the inputs that apply to the node's current settings (InputSpec.appliesWhen: no UniPC
 * `variant` on DPM-Solver++); the node grows or shrinks to fit (`'fit'`: to its content even when nothing
 * changed — a pasted node). Hidden inputs keep their values.
 */
export function syncApplicability(node: LGraphNode, catalog: Catalog, resize: boolean | 'fit' = true): void {
  const def = catalog.get(propsOf(node).rawType ?? node.type);
  if (!def) return;
  let changed = false;
  for (const [name, spec] of Object.entries(def.inputs)) {
    if (!spec.appliesWhen) continue;
    const widget = widgetOf(node, name) as (AnyWidget & { hidden?: boolean; computeSize?: () => [number, number] }) | undefined;
    const ruler = widgetOf(node, spec.appliesWhen.input);
    if (!widget || !ruler) continue;
    const hidden = !spec.appliesWhen.values.includes(String(ruler.value));
    if (Boolean(widget.hidden) !== hidden) {
      widget.hidden = hidden;
      // litegraph 0.17 skips hidden widgets when it draws and sizes a node, but still stacks them when
      // it arranges one (and grows the node to fit): a hidden widget gets no height there.
      if (hidden) widget.computeSize = HIDDEN_WIDGET_SIZE;
      else delete widget.computeSize;
      changed = true;
    }
  }
  const ruled = Object.values(def.inputs).some((spec) => spec.appliesWhen);
  if ((changed && resize) || (ruled && resize === 'fit')) node.setSize([node.size[0], node.computeSize()[1]]);
}

export function widgetOf(node: LGraphNode, name: string): AnyWidget | undefined {
  return node.widgets?.find((w) => w.name === name) as AnyWidget | undefined;
}

/** What every diffgraph node class shares: the hooks the editor draws and renames through. */
class BaseNode extends LGraphNode {
  constructor(title: string) {
    super(title);
    this.properties = { explicit: [], extra: {}, seedControl: {} } as any;
  }
  override onAdded(): void {
    hooks.onAdded?.(this);
  }
  override onRemoved(): void {
    hooks.onRemoved?.(this);
  }
  override onDrawForeground(ctx: CanvasRenderingContext2D): void {
    hooks.onDrawForeground?.(this, ctx);
  }
  override onConfigure(): void {
    // Restores the seed control widgets from the properties (undo/redo, paste).
    for (const [input, mode] of Object.entries(propsOf(this).seedControl)) {
      const w = widgetOf(this, `${input} control`);
      if (w) w.value = mode;
    }
  }
}

let registered: Catalog | undefined;

/** Registers a litegraph class per node type (again after the library changes). */
export function registerNodeTypes(catalog: Catalog): void {
  if (registered) {
    for (const def of registered.nodes) if (LiteGraph.registered_node_types[def.type]) LiteGraph.unregisterNodeType(def.type);
  }
  registered = catalog;
  LiteGraph.auto_load_slot_types = false;
  for (const def of catalog.nodes) {
    class DiffgraphNode extends BaseNode {
      static override title = def.type;
      static override category = def.category;
      constructor(title: string) {
        super(title);
        build(this, catalog, def);
      }
    }
    Object.defineProperty(DiffgraphNode, 'name', { value: `Diffgraph_${def.type}` });
    LiteGraph.registerNodeType(def.type, DiffgraphNode);
  }
  if (!LiteGraph.registered_node_types[UNKNOWN_NODE]) {
    class UnknownNode extends BaseNode {
      static override title = 'Unknown';
      constructor(title: string) {
        super(title);
        this.color = '#633';
        this.bgcolor = '#422';
        this.size = [240, 60];
      }
    }
    LiteGraph.registerNodeType(UNKNOWN_NODE, UnknownNode);
  }
  for (const type of catalog.allTypes()) {
    LGraphCanvas.link_type_colors[type] = typeColor(type);
  }
}

/**
 * The number widget's own value prompt evaluates what is typed with eval(); this one parses it:
 * a number, or + - * / ( ) arithmetic on numbers, and nothing else. Values go through setValue, so
 * min/max clamping applies (and INT widgets round).
 */
export function installSafeNumberPrompt(): void {
  const proto = NumberWidget.prototype as any;
  if (proto.__diffgraphSafe) return;
  proto.__diffgraphSafe = true;
  const originalSetValue = proto.setValue;
  proto.setValue = function (this: AnyWidget, value: number, options: unknown) {
    let v = Number(value);
    if (this.options?.round && Number.isFinite(v)) v = Math.round(v);
    return originalSetValue.call(this, v, options);
  };
  proto.onClick = function (this: AnyWidget & { width?: number }, { e, node, canvas }: { e: any; node: LGraphNode; canvas: LGraphCanvas }) {
    const x = e.canvasX - node.pos[0];
    const width = this.width || node.size[0];
    const delta = x < 40 ? -1 : x > width - 40 ? 1 : 0;
    const step = this.options.step2 ?? (this.options.step ?? 10) * 0.1;
    if (delta) {
      (this as any).setValue(Number(this.value) + delta * step, { e, node, canvas });
      return;
    }
    canvas.prompt('Value', this.value, (text: string) => {
      const v = evaluateArithmetic(String(text));
      if (v !== undefined) (this as any).setValue(v, { e, node, canvas });
    }, e);
  };
}

/** Evaluates a number or simple arithmetic (+ - * / parentheses, unary minus); undefined when not that. */
export function evaluateArithmetic(text: string): number | undefined {
  const tokens = text.match(/\d+(?:\.\d*)?(?:e[+-]?\d+)?|\.\d+(?:e[+-]?\d+)?|[-+*/()]|\S/gi) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const expr = (): number => {
    let v = term();
    while (peek() === '+' || peek() === '-') v = tokens[i++] === '+' ? v + term() : v - term();
    return v;
  };
  const term = (): number => {
    let v = factor();
    while (peek() === '*' || peek() === '/') v = tokens[i++] === '*' ? v * factor() : v / factor();
    return v;
  };
  const factor = (): number => {
    const t = tokens[i++];
    if (t === '-') return -factor();
    if (t === '+') return factor();
    if (t === '(') {
      const v = expr();
      if (tokens[i++] !== ')') throw new Error('expected )');
      return v;
    }
    if (t !== undefined && /^[\d.]/.test(t)) return Number(t);
    throw new Error(`unexpected ${t}`);
  };
  try {
    if (tokens.length === 0) return undefined;
    const v = expr();
    return i === tokens.length && Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
