/**
 * Left-to-right layered layout (Sugiyama in brief): columns by longest path from a source, sources
 * pulled right to the column before their first consumer (a loader sits next to what it feeds, not in
 * a far-left column), rows ordered by the barycentre of their neighbours to cut link crossings, and
 * each column stacked by the nodes' real heights, so no two nodes ever overlap.
 */
import { LiteGraph, type LGraph, type LGraphNode } from '@comfyorg/litegraph';

export interface LayoutNode {
  id: string;
  /** Ids of the nodes that feed this one (duplicates and unknown ids are ignored). */
  sources: readonly string[];
  width: number;
  /** Height including the title bar. */
  height: number;
}

export interface LayoutOptions {
  left: number;
  top: number;
  columnGap: number;
  rowGap: number;
}

const DEFAULTS: LayoutOptions = { left: 40, top: 40, columnGap: 80, rowGap: 40 };
const SWEEPS = 4;

/** Top-left corner (of the title bar) of every node. */
export function layeredLayout(nodes: readonly LayoutNode[], options: Partial<LayoutOptions> = {}): Map<string, [number, number]> {
  const { left, top, columnGap, rowGap } = { ...DEFAULTS, ...options };
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const sources = new Map(nodes.map((n) => [n.id, [...new Set(n.sources)].filter((s) => byId.has(s) && s !== n.id)]));
  const consumers = new Map(nodes.map((n) => [n.id, [] as string[]]));
  for (const [id, from] of sources) for (const s of from) consumers.get(s)!.push(id);

  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const layerOf = (id: string): number => {
    const known = layer.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: validation reports it; the layout only has to end
    visiting.add(id);
    const l = Math.max(-1, ...sources.get(id)!.map(layerOf)) + 1;
    visiting.delete(id);
    layer.set(id, l);
    return l;
  };
  for (const n of nodes) layerOf(n.id);
  for (const n of nodes) {
    const used = consumers.get(n.id)!;
    if (sources.get(n.id)!.length === 0 && used.length > 0) layer.set(n.id, Math.max(0, Math.min(...used.map((c) => layer.get(c)!)) - 1));
  }

  const depth = Math.max(0, ...layer.values()) + 1;
  const columns: string[][] = Array.from({ length: depth }, () => []);
  for (const n of nodes) columns[layer.get(n.id)!].push(n.id);
  const rank = new Map<string, number>();
  const reRank = (column: string[]) => column.forEach((id, i) => rank.set(id, i / Math.max(1, column.length - 1)));
  columns.forEach(reRank);
  const reorder = (column: string[], neighbours: (id: string) => string[]) => {
    const key = new Map(column.map((id) => {
      const ranks = neighbours(id).map((m) => rank.get(m)!);
      return [id, ranks.length > 0 ? ranks.reduce((a, b) => a + b, 0) / ranks.length : rank.get(id)!];
    }));
    column.sort((a, b) => key.get(a)! - key.get(b)!);
    reRank(column);
  };
  for (let sweep = 0; sweep < SWEEPS; sweep++) {
    if (sweep % 2 === 0) for (let l = 1; l < depth; l++) reorder(columns[l], (id) => sources.get(id)!);
    else for (let l = depth - 2; l >= 0; l--) reorder(columns[l], (id) => consumers.get(id)!);
  }

  const out = new Map<string, [number, number]>();
  let x = left;
  for (const column of columns) {
    let y = top;
    let width = 0;
    for (const id of column) {
      const n = byId.get(id)!;
      out.set(id, [x, y]);
      y += n.height + rowGap;
      width = Math.max(width, n.width);
    }
    x += width + columnGap;
  }
  return out;
}

/** Lays out a litegraph graph in place (node.pos is the body's corner, under the title bar). */
export function arrangeGraph(graph: LGraph): void {
  const title = LiteGraph.NODE_TITLE_HEIGHT;
  const key = (node: LGraphNode) => String(node.id);
  const nodes = graph._nodes.map((node) => ({
    id: key(node),
    sources: node.inputs.flatMap((input) => {
      const link = input.link == null ? undefined : graph.getLink(input.link);
      return link ? [String(link.origin_id)] : [];
    }),
    width: node.size[0],
    height: node.size[1] + title,
  }));
  const positions = layeredLayout(nodes);
  for (const node of graph._nodes) {
    const [x, y] = positions.get(key(node))!;
    node.pos = [x, y + title];
  }
}
