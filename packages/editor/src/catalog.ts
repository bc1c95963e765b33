/**
 * The node library as the editor sees it (from GET /api/nodes): definitions by type, categories,
 * which socket types may feed which, socket colors, and which widget edits each input.
 * No UI library here: the litegraph adapter (src/graph/) and the panels both read it.
 */
import type { InputSpec, NodeDefinition, OutputSpec } from '@diffgraph/engine';

/** A node definition as served (no `run`), plus the pack that registered it. */
/**
 * `aliases`: other names of the node (the server sends ComfyUI's class and display names); `seeAlso`:
 * names under which it is one of several (a KSampler is Sample plus Solver, Schedule, …).
 */
export type NodeInfo = Omit<NodeDefinition, 'run'> & { pack?: string; aliases?: string[]; seeAlso?: string[] };

export interface NodeLibrary {
  nodes: NodeInfo[];
  schema?: unknown;
  /** Optional: sub → the types it may feed besides itself (INT → FLOAT). Defaults below when absent. */
  subtypes?: Record<string, string[]>;
  /** Optional: what GET /api/models lists; loaders' `path` inputs offer these names. */
  models?: ModelChoice[];
}

/** The part of a GET /api/models entry the editor uses. */
export interface ModelChoice {
  name: string;
  kind: string;
  /** The node type that opens it (LoadPipeline, LoadOnnxModel, LoadClassifier), or null. */
  loader: string | null;
}

/** A file in the server's inputs folder, as GET /api/uploads lists it. */
export interface InputChoice {
  name: string;
  bytes: number;
  type: string;
  mtime: number;
}

/** Loaders whose `path` names an image (the others, LoadTensor and LoadTPM, name .npy or JSON files). */
export const IMAGE_LOADERS = new Set(['LoadImage', 'LoadMask']);

export const isImageInput = (name: string): boolean => /\.(png|jpe?g)$/i.test(name);

export type { InputSpec, OutputSpec };

export const PRIMITIVES = new Set(['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'JSON']);

/** The relations the engine's default registry declares (used when /api/nodes does not list them). */
export const DEFAULT_SUBTYPES: Record<string, string[]> = { INT: ['FLOAT'], LATENT: ['TENSOR'], TENSOR: ['LATENT'] };

export type WidgetKind =
  | 'socket' // needs a link
  | 'int'
  | 'float'
  | 'seed' // an INT with the role seed: number + control (fixed / increment / decrement / randomize)
  | 'enum'
  | 'toggle'
  | 'text'
  | 'multiline'
  | 'model' // an input with the role model: a list of the server's models, free text when it lists none
  | 'input' // a loader's file in the inputs folder: a list of the server's inputs, with an upload button
  | 'json'; // JSON literal (or an optional value without default), edited as JSON text

export const SEED_CONTROLS = ['fixed', 'increment', 'decrement', 'randomize'] as const;
export type SeedControl = (typeof SEED_CONTROLS)[number];

/** The widget an input gets: from its type and its spec's role (never from its name). */
export function widgetKind(spec: InputSpec): WidgetKind {
  if (!PRIMITIVES.has(spec.type)) return 'socket';
  const noDefault = spec.default === undefined;
  if (spec.type === 'JSON') return 'json';
  // Optional with no default: left out unless given, so it is edited as (possibly empty) JSON text.
  if (noDefault && spec.optional && spec.type !== 'STRING') return 'json';
  if (spec.type === 'INT') return spec.role === 'seed' ? 'seed' : 'int';
  if (spec.type === 'FLOAT') return 'float';
  if (spec.type === 'BOOLEAN') return 'toggle';
  if (spec.enum) return 'enum';
  // A loader's model (not a sidecar such as LoadOnnxModel's `config`, which also lies in the model roots).
  if (spec.type === 'STRING' && spec.role === 'model') return 'model';
  if (spec.type === 'STRING' && spec.path === 'inputs' && !spec.optional) return 'input';
  return spec.multiline ? 'multiline' : 'text';
}

/** The value a fresh widget shows. */
export function initialValue(kind: WidgetKind, spec: InputSpec): unknown {
  if (kind === 'json') return spec.default === undefined ? '' : JSON.stringify(spec.default);
  if (spec.default !== undefined) return spec.default;
  switch (kind) {
    case 'int':
    case 'seed':
    case 'float':
      return spec.min !== undefined && spec.min > 0 ? spec.min : 0;
    case 'toggle':
      return false;
    case 'enum':
      return spec.enum?.[0] ?? '';
    default:
      return '';
  }
}

/** A stable, readable color per socket type (hue from a string hash; a few fixed for the common ones). */
const FIXED_COLORS: Record<string, string> = {
  MODEL: '#b39ddb', TEXT_ENCODER: '#ffd180', VAE: '#ff8a80', CONDITIONING: '#ffcc80', LATENT: '#f48fb1',
  IMAGE: '#80cbc4', MASK: '#a5d6a7', NOISE: '#b0bec5', SIGMAS: '#80deea', SOLVER: '#9fa8da', GUIDER: '#ce93d8',
  TENSOR: '#f8bbd0', INT: '#aed581', FLOAT: '#c5e1a5', STRING: '#fff59d', BOOLEAN: '#ffab91', JSON: '#bcaaa4',
};

export function typeColor(type: string): string {
  const fixed = FIXED_COLORS[type];
  if (fixed) return fixed;
  let h = 0;
  for (let i = 0; i < type.length; i++) h = (h * 31 + type.charCodeAt(i)) >>> 0;
  return `hsl(${h % 360}, 60%, 70%)`;
}

export class Catalog {
  readonly byType = new Map<string, NodeInfo>();
  private readonly subtypes: Record<string, string[]>;

  constructor(readonly library: NodeLibrary) {
    for (const def of library.nodes) this.byType.set(def.type, def);
    this.subtypes = library.subtypes ?? DEFAULT_SUBTYPES;
  }

  get(type: string): NodeInfo | undefined {
    return this.byType.get(type);
  }

  get nodes(): NodeInfo[] {
    return [...this.byType.values()];
  }

  /** Categories in alphabetical order, each with its nodes by type. */
  categories(): { category: string; nodes: NodeInfo[] }[] {
    const groups = new Map<string, NodeInfo[]>();
    for (const def of this.nodes) {
      const list = groups.get(def.category) ?? [];
      list.push(def);
      groups.set(def.category, list);
    }
    return [...groups.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([category, nodes]) => ({ category, nodes: nodes.sort((a, b) => a.type.localeCompare(b.type)) }));
  }

  isAssignable(from: string, to: string): boolean {
    return from === to || (this.subtypes[from]?.includes(to) ?? false);
  }

  /** Every output type that may feed an input of `to` (itself first). */
  acceptedBy(to: string): string[] {
    const out = [to];
    for (const [sub, sups] of Object.entries(this.subtypes)) if (sub !== to && sups.includes(to)) out.push(sub);
    return out;
  }

  /** Names of the server's models that node type `loader` opens (empty: the server listed none). */
  modelChoices(loader: string): string[] {
    return (this.library.models ?? []).filter((m) => m.loader === loader).map((m) => m.name);
  }

  /** The server's input files (GET /api/uploads), newest first; replaced when they change. */
  inputs: InputChoice[] = [];

  /** Names of the input files loader `nodeType` opens: images for LoadImage / LoadMask, the rest for the others. */
  inputChoices(nodeType: string): string[] {
    const images = IMAGE_LOADERS.has(nodeType);
    return this.inputs.filter((f) => f.type.startsWith('image/') === images).map((f) => f.name);
  }

  /** Every socket type named by some definition. */
  allTypes(): string[] {
    const types = new Set<string>();
    for (const def of this.nodes) {
      for (const s of Object.values(def.inputs)) types.add(s.type);
      for (const s of Object.values(def.outputs)) types.add(s.type);
    }
    return [...types].sort();
  }

  /** Nodes with an input that an output of one of `types` may feed (for a link dropped on empty canvas). */
  accepting(types: readonly string[]): NodeInfo[] {
    return this.nodes.filter((def) => Object.values(def.inputs).some((spec) => !PRIMITIVES.has(spec.type) && types.some((t) => this.isAssignable(t, spec.type))));
  }

  /** Nodes with an output that may feed an input of one of `types`. */
  feeding(types: readonly string[]): NodeInfo[] {
    return this.nodes.filter((def) => Object.values(def.outputs).some((spec) => types.some((t) => this.isAssignable(spec.type, t))));
  }

  /**
   * Node search. A query that is a node's whole name or alias ranks first, then one that is a name it
   * shares with others (seeAlso); otherwise every word must appear in a name, the category or the
   * description, names ranking before descriptions.
   */
  search(query: string, among: NodeInfo[] = this.nodes): NodeInfo[] {
    const words = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (words.length === 0) return [...among].sort((a, b) => a.type.localeCompare(b.type));
    const squash = (text: string) => text.toLowerCase().replace(/[^a-z0-9]/g, '');
    const phrase = squash(query);
    const scored: { def: NodeInfo; score: number }[] = [];
    for (const def of among) {
      const names = [def.type, ...(def.aliases ?? [])].map((n) => n.toLowerCase());
      const related = (def.seeAlso ?? []).map((n) => n.toLowerCase());
      let score: number;
      if (names.some((n) => squash(n) === phrase)) score = -2;
      else if (related.some((n) => squash(n) === phrase)) score = -1;
      else {
        const all = [...names, ...related];
        const hay = `${all.join(' ')} ${def.category.toLowerCase()} ${def.description.toLowerCase()}`;
        if (!words.every((w) => hay.includes(w))) continue;
        score = 0;
        for (const w of words) score += all.some((n) => n.startsWith(w)) ? 0 : all.some((n) => n.includes(w)) ? 1 : 3;
      }
      scored.push({ def, score });
    }
    return scored.sort((a, b) => a.score - b.score || a.def.type.localeCompare(b.def.type)).map((s) => s.def);
  }
}
