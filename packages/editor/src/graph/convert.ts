/**
 * The editor's graph ↔ diffgraph/workflow@1. Inputs are named, links are { from, output }, node ids are
 * the node titles, positions go to ui.positions. The round trip is lossless: inputs left out stay left
 * out, literals stay exactly as loaded (even out-of-range ones, so the server can point at them), and
 * whatever the editor cannot show (unknown node types or inputs, dangling links) is carried through.
 */
import { LGraph, LGraphNode, LiteGraph } from '@comfyorg/litegraph';
import type { Link, Workflow } from '@diffgraph/engine';
import { Catalog, widgetKind, type SeedControl } from '../catalog.ts';
import { hooks, markExplicit, propsOf, syncApplicability, UNKNOWN_NODE, widgetOf } from './nodes.ts';
import { arrangeGraph } from './layout.ts';

export const FORMAT = 'diffgraph/workflow@1';

/** Graph-level state kept in litegraph's `graph.extra` (so undo snapshots carry it). */
export interface GraphExtra {
  /** `outputs` as loaded (and kept up to date as nodes come and go); undefined: the field is absent. */
  outputs?: string[];
  /** `ui` without the keys the editor writes itself. */
  ui?: Record<string, unknown>;
  hadUi: boolean;
  hadPositions: boolean;
  hadSeedControl: boolean;
  meta?: Record<string, unknown>;
  /** Layout positions of a file that had none: written back only once something moved. */
  autoPositions?: Record<string, [number, number]>;
}

export function isLink(value: unknown): value is Link {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const v = value as Record<string, unknown>;
  return Object.keys(v).length === 2 && typeof v.from === 'string' && typeof v.output === 'string';
}

export function extraOf(graph: LGraph): GraphExtra {
  const extra = graph.extra as Record<string, unknown>;
  extra.diffgraph ??= { hadUi: false, hadPositions: false, hadSeedControl: false } satisfies GraphExtra;
  return extra.diffgraph as GraphExtra;
}

const round = (v: number) => Math.round(v * 100) / 100 || 0; // never -0 (JSON would turn it into 0)

/** A node id for a new node of `type` that no node in the graph has: snake_case of the type, then _2, _3, … */
export function freshId(graph: LGraph, base: string, except?: LGraphNode): string {
  const taken = new Set(graph._nodes.filter((n) => n !== except).map((n) => n.title));
  const stem = base.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2').replace(/[^A-Za-z0-9_.-]+/g, '_').toLowerCase() || 'node';
  if (!taken.has(stem)) return stem;
  const m = /^(.*)_(\d+)$/.exec(stem);
  const root = m ? m[1] : stem;
  for (let i = m ? Number(m[2]) + 1 : 2; ; i++) if (!taken.has(`${root}_${i}`)) return `${root}_${i}`;
}

/** Loading state: node hooks (id uniqueness, outputs bookkeeping) stay quiet while a file is loaded. */
export const loading = { active: false };

/** Replaces the graph's content with a workflow. */
export function loadWorkflow(graph: LGraph, workflow: Workflow, catalog: Catalog): void {
  loading.active = true;
  try {
    graph.clear();
    const ui = (workflow.ui ?? {}) as Record<string, unknown>;
    const positions = (ui.positions ?? undefined) as Record<string, [number, number]> | undefined;
    const seedControl = (ui.seed_control ?? {}) as Record<string, Record<string, SeedControl>>;
    const { positions: _p, seed_control: _s, ...restUi } = ui;
    const extra: GraphExtra = {
      outputs: workflow.outputs ? [...workflow.outputs] : undefined,
      ui: restUi,
      hadUi: workflow.ui !== undefined,
      hadPositions: positions !== undefined,
      hadSeedControl: ui.seed_control !== undefined,
      meta: workflow.meta,
    };
    (graph.extra as Record<string, unknown>).diffgraph = extra;

    const byId = new Map<string, LGraphNode>();
    const pending: { node: LGraphNode; input: string; link: Link }[] = [];
    for (const [id, wn] of Object.entries(workflow.nodes)) {
      const def = catalog.get(wn.type);
      const node = LiteGraph.createNode(def ? wn.type : UNKNOWN_NODE);
      if (!node) throw new Error(`cannot create a node of type ${wn.type}`);
      node.title = id;
      const props = propsOf(node);
      const inputs = wn.inputs ?? {};
      if (!def) {
        props.rawType = wn.type;
        // Everything is carried through; links still draw where they can.
        for (const [name, value] of Object.entries(inputs)) {
          if (isLink(value)) {
            node.addInput(name, '*');
            pending.push({ node, input: name, link: value });
          } else props.extra[name] = value;
        }
        if (!('inputs' in wn)) props.noInputs = true;
      } else {
        if (!('inputs' in wn)) props.noInputs = true;
        for (const [name, value] of Object.entries(inputs)) {
          const spec = Object.hasOwn(def.inputs, name) ? def.inputs[name] : undefined;
          if (!spec) {
            props.extra[name] = value;
            continue;
          }
          if (isLink(value)) {
            pending.push({ node, input: name, link: value });
            continue;
          }
          const kind = widgetKind(spec);
          const widget = widgetOf(node, name);
          if (kind === 'socket' || !widget) {
            props.extra[name] = value;
            continue;
          }
          // Loaded as is, unclamped: an out-of-range value stays visible for validation to point at.
          widget.value = kind === 'json' ? JSON.stringify(value) : value;
          markExplicit(node, name);
        }
        const seeds = seedControl[id];
        if (seeds) {
          for (const [input, mode] of Object.entries(seeds)) {
            props.seedControl[input] = mode;
            const w = widgetOf(node, `${input} control`);
            if (w) w.value = mode;
          }
        }
      }
      if (def) syncApplicability(node, catalog);
      const pos = positions?.[id] ?? [0, 0];
      node.pos = [pos[0], pos[1]];
      graph.add(node);
      byId.set(id, node);
    }
    for (const { node, input, link } of pending) {
      const source = byId.get(link.from);
      const slot = node.findInputSlot(input);
      let outIndex = source ? source.findOutputSlot(link.output) : -1;
      if (source && outIndex < 0 && propsOf(source).rawType !== undefined) {
        source.addOutput(link.output, '*');
        outIndex = source.findOutputSlot(link.output);
      }
      const connected = source && slot >= 0 && outIndex >= 0 ? source.connect(outIndex, node, slot) : null;
      if (!connected) {
        // A link the editor cannot draw (missing node or output, mismatched types): kept as it is.
        propsOf(node).extra[input] = link;
        if (propsOf(node).rawType !== undefined && slot >= 0) node.removeInput(slot);
      }
    }
    if (!positions) {
      // Laid out with the nodes' real sizes; a file without positions gets none back unless something moves.
      arrangeGraph(graph);
      extra.autoPositions = Object.fromEntries(graph._nodes.map((n) => [n.title, [round(n.pos[0]), round(n.pos[1])]]));
    }
  } finally {
    loading.active = false;
  }
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Makes node titles usable as ids: non-empty and unique (renaming the later duplicates). */
export function ensureUniqueIds(graph: LGraph): void {
  const seen = new Set<string>();
  for (const node of graph._nodes) {
    if (!node.title || seen.has(node.title)) node.title = freshId(graph, node.title || node.type, node);
    seen.add(node.title);
  }
}

/** The graph as a workflow. */
export function toWorkflow(graph: LGraph, catalog: Catalog): Workflow {
  ensureUniqueIds(graph);
  const extra = extraOf(graph);
  const nodes: Workflow['nodes'] = {};
  const positions: Record<string, [number, number]> = {};
  const seedControl: Record<string, Record<string, SeedControl>> = {};
  let moved = !extra.autoPositions;
  for (const node of graph._nodes) {
    const id = node.title;
    const props = propsOf(node);
    const inputs: Record<string, unknown> = {};
    const linkOf = (slotIndex: number): Link | undefined => {
      const linkId = node.inputs[slotIndex]?.link;
      if (linkId == null) return undefined;
      const link = graph.getLink(linkId);
      const source = link ? graph.getNodeById(link.origin_id) : null;
      if (!link || !source) return undefined;
      return { from: source.title, output: source.outputs[link.origin_slot].name };
    };
    const def = props.rawType === undefined ? catalog.get(node.type) : undefined;
    if (def) {
      for (const [name, spec] of Object.entries(def.inputs)) {
        const slotIndex = node.findInputSlot(name);
        const link = slotIndex >= 0 ? linkOf(slotIndex) : undefined;
        if (link) {
          inputs[name] = link;
          continue;
        }
        if (name in props.extra) continue;
        const kind = widgetKind(spec);
        if (kind === 'socket') continue;
        const widget = widgetOf(node, name);
        if (!widget) continue;
        let value: unknown = widget.value;
        if (kind === 'json') {
          if (value === '' || value === undefined) continue;
          try {
            value = JSON.parse(String(value));
          } catch {
            // Not JSON: sent as typed, so validation says what is wrong with it.
          }
        }
        const explicit = props.explicit.includes(name);
        if (explicit || (spec.default !== undefined && !sameJson(value, spec.default))) inputs[name] = value;
      }
    } else {
      for (let i = 0; i < node.inputs.length; i++) {
        const link = linkOf(i);
        if (link) inputs[node.inputs[i].name] = link;
      }
    }
    for (const [name, value] of Object.entries(props.extra)) {
      if (inputs[name] === undefined) inputs[name] = value;
    }
    const type = props.rawType ?? node.type;
    nodes[id] = Object.keys(inputs).length === 0 && props.noInputs ? { type } : { type, inputs };
    const pos: [number, number] = [round(node.pos[0]), round(node.pos[1])];
    positions[id] = pos;
    const auto = extra.autoPositions?.[id];
    if (!auto || auto[0] !== pos[0] || auto[1] !== pos[1]) moved = true;
    if (Object.keys(props.seedControl).length > 0) seedControl[id] = { ...props.seedControl };
  }
  if (extra.autoPositions && Object.keys(extra.autoPositions).length !== graph._nodes.length) moved = true;

  const ids = new Set(Object.keys(nodes));
  const workflow: Workflow = { format: FORMAT, nodes };
  if (extra.outputs) workflow.outputs = [...extra.outputs];
  void ids;
  const ui: Record<string, unknown> = { ...(extra.ui ?? {}) };
  if (extra.hadPositions || moved) ui.positions = positions;
  if (extra.hadSeedControl || Object.keys(seedControl).length > 0) ui.seed_control = seedControl;
  if (extra.hadUi || Object.keys(ui).length > 0) workflow.ui = ui;
  if (extra.meta !== undefined) workflow.meta = extra.meta;
  return workflow;
}

/** Keeps `outputs` in step with the graph: a removed node leaves it, a new output node joins it. */
export function installOutputBookkeeping(graph: LGraph, catalog: Catalog): void {
  hooks.onAdded = (node) => {
    if (loading.active || !node.graph) return;
    const g = node.graph as LGraph;
    const unique = freshId(g, node.title || node.type, node);
    if (unique !== node.title && g._nodes.some((n) => n !== node && n.title === node.title)) node.title = unique;
    const extra = extraOf(g);
    if (extra.outputs && catalog.get(node.type)?.output && !extra.outputs.includes(node.title)) extra.outputs.push(node.title);
  };
  hooks.onRemoved = (node) => {
    if (loading.active) return;
    const extra = extraOf(graph);
    if (extra.outputs) extra.outputs = extra.outputs.filter((id) => id !== node.title || graph._nodes.some((n) => n !== node && n.title === id));
  };
}
