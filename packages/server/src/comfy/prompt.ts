/**
 * ComfyUI's two workflow files as one shape: the API format ("prompt": node id → class_type and
 * inputs, a link being [nodeId, outputIndex]) as it is, and the UI format (nodes, links,
 * widgets_values) turned into it by naming each widget value by its position.
 */

import { COMFY_CLASSES, CONTROL, widgetNames } from './classes.ts';

export type ComfyLink = [string, number];
export interface ComfyNode { classType: string; inputs: Record<string, unknown>; pos?: [number, number] }
export type ComfyPrompt = Map<string, ComfyNode>;

export class ComfyImportError extends Error {
  /** `nodes`: the ComfyUI nodes at fault (with the input, when one input is). */
  constructor(readonly code: 'COMFY_UNSUPPORTED_NODES' | 'COMFY_UNSUPPORTED_SETTING' | 'COMFY_INVALID_WORKFLOW', message: string, readonly nodes: { id: string; classType: string; input?: string }[] = []) {
    super(message);
  }
}

/** Widget names in widgets_values order, per class. */
export const WIDGETS: Record<string, string[]> = Object.fromEntries(Object.entries(COMFY_CLASSES).map(([type, spec]) => [type, widgetNames(spec)]));

/** Front-end-only nodes that carry no computation. */
const COMMENT_NODES = new Set(['Note', 'MarkdownNote']);
/** Front-end-only nodes on a link: a Reroute passes its one input on; a PrimitiveNode's value is already in the widgets it feeds. */
const REROUTE = 'Reroute';
const PRIMITIVE = 'PrimitiveNode';
/** LiteGraph node modes: 2 = muted (left out of the prompt), 4 = bypassed. */
const MUTED = 2;
const BYPASSED = 4;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function isComfyLink(value: unknown): value is ComfyLink {
  return Array.isArray(value) && value.length === 2 && (typeof value[0] === 'string' || typeof value[0] === 'number') && Number.isInteger(value[1]);
}

/** 'api' or 'ui' for a ComfyUI workflow, null for anything else (a diffgraph workflow among them). */
export function comfyFormat(value: unknown): 'api' | 'ui' | null {
  if (!isObject(value) || 'format' in value) return null;
  if (Array.isArray(value.nodes) && Array.isArray(value.links)) {
    return value.nodes.every((n) => isObject(n) && typeof n.type === 'string' && 'id' in n) ? 'ui' : null;
  }
  const entries = Object.values(value);
  return entries.length > 0 && entries.every((n) => isObject(n) && typeof n.class_type === 'string' && isObject(n.inputs)) ? 'api' : null;
}

export function apiToPrompt(api: Record<string, unknown>): ComfyPrompt {
  const prompt: ComfyPrompt = new Map();
  for (const [id, node] of Object.entries(api)) {
    const { class_type: classType, inputs } = node as { class_type: string; inputs: Record<string, unknown> };
    prompt.set(id, { classType, inputs: { ...inputs } });
  }
  return prompt;
}

/** Old files store links as arrays [id, from, fromSlot, to, toSlot, type], newer ones as objects. */
function linkTargets(links: unknown[]): Map<number, ComfyLink> {
  const byId = new Map<number, ComfyLink>();
  for (const link of links) {
    if (Array.isArray(link) && link.length >= 3) byId.set(Number(link[0]), [String(link[1]), Number(link[2])]);
    else if (isObject(link)) byId.set(Number(link.id), [String(link.origin_id), Number(link.origin_slot)]);
  }
  return byId;
}

/** The node a link really comes from, through any Reroutes; undefined when it comes from a PrimitiveNode or nowhere. */
function linkOrigin(link: unknown, links: Map<number, ComfyLink>, nodes: Map<string, Record<string, unknown>>): ComfyLink | undefined {
  let source = links.get(Number(link));
  for (let hops = 0; source && hops <= nodes.size; hops++) {
    const origin = nodes.get(source[0]);
    if (origin?.type === PRIMITIVE) return undefined;
    if (origin?.type !== REROUTE) return source;
    const input = Array.isArray(origin.inputs) ? origin.inputs[0] : undefined;
    source = isObject(input) && input.link !== null && input.link !== undefined ? links.get(Number(input.link)) : undefined;
  }
  return undefined;
}

export function uiToPrompt(ui: { nodes: Record<string, unknown>[]; links: unknown[] }): ComfyPrompt {
  const links = linkTargets(ui.links);
  const nodes = new Map(ui.nodes.map((node) => [String(node.id), node]));
  const prompt: ComfyPrompt = new Map();
  for (const node of ui.nodes) {
    const type = String(node.type);
    if (COMMENT_NODES.has(type) || type === REROUTE || type === PRIMITIVE || node.mode === MUTED) continue;
    const id = String(node.id);
    const pos = Array.isArray(node.pos) && node.pos.length >= 2 ? [Number(node.pos[0]), Number(node.pos[1])] as [number, number] : undefined;
    // A bypassed node passes its inputs through by type; reporting it beats guessing which one.
    const classType = node.mode === BYPASSED ? `${type} (bypassed)` : type;
    const inputs: Record<string, unknown> = {};
    const values = Array.isArray(node.widgets_values) ? node.widgets_values : [];
    const names = WIDGETS[type] ?? [];
    // Files saved without the seed's control value have one value fewer.
    const named = values.length === names.length - 1 && names.includes(CONTROL) ? names.filter((n) => n !== CONTROL) : names;
    named.forEach((name, i) => {
      if (name !== CONTROL && i < values.length) inputs[name] = values[i];
    });
    for (const input of Array.isArray(node.inputs) ? node.inputs : []) {
      if (!isObject(input) || input.link === null || input.link === undefined) continue;
      const source = linkOrigin(input.link, links, nodes);
      if (source) inputs[String(input.name)] = source;
    }
    prompt.set(id, { classType, inputs, pos });
  }
  return prompt;
}
