/**
 * The node-definition API (DESIGN §3) and the workflow format (DESIGN §2). The engine knows socket
 * types only as strings: node packs decide what flows through them.
 */

/** Primitive input types: these may be literals in a workflow or links from a node that outputs them. */
export const PRIMITIVE_TYPES = ['INT', 'FLOAT', 'STRING', 'BOOLEAN', 'JSON'] as const;
export type PrimitiveType = (typeof PRIMITIVE_TYPES)[number];

export function isPrimitiveType(type: string): type is PrimitiveType {
  return (PRIMITIVE_TYPES as readonly string[]).includes(type);
}

/**
 * What an input means outside its own node, so hosts and editors never guess from input names:
 * `seed` gets the editor's seed control (fixed / increment / decrement / randomize); `steps`, `batch`,
 * `width` / `height`, `particles` and `shape` (a JSON list of dimensions) are held to a server's
 * limits; `model` is the file a loader opens (the editor offers the server's model list).
 */
export const INPUT_ROLES = ['seed', 'steps', 'batch', 'width', 'height', 'particles', 'shape', 'model'] as const;
export type InputRole = (typeof INPUT_ROLES)[number];

/** The type each role needs: a limit on a STRING input, or a seed control on a FLOAT, would mean nothing. */
export const ROLE_INPUT_TYPES: Readonly<Record<InputRole, PrimitiveType>> = {
  seed: 'INT', steps: 'INT', batch: 'INT', width: 'INT', height: 'INT', particles: 'INT', shape: 'JSON', model: 'STRING',
};

export interface InputSpec {
  /** A socket type (`MODEL`, `LATENT`, …) or a primitive (`INT`, `FLOAT`, `STRING`, `BOOLEAN`, `JSON`). */
  type: string;
  default?: unknown;
  min?: number;
  max?: number;
  step?: number;
  /** Allowed values of a STRING input (rendered as a dropdown). */
  enum?: readonly string[];
  multiline?: boolean;
  /** An optional input may be left out; one with a default is filled in when left out. */
  optional?: boolean;
  tooltip?: string;
  /**
   * A STRING input that names a file, and the root it must resolve inside (after symlinks). Hosts check
   * these before queuing a run; nodes resolve them again when they open the file. When the input is also
   * `optional`, an empty string names no file at all (e.g. "do not save"), and hosts let it pass.
   */
  path?: 'inputs' | 'outputs' | 'models';
  /** JSON Schema for the literal value of a `JSON` input. */
  schema?: Record<string, unknown>;
  /** What the input means to hosts and editors (limits, seed control); see INPUT_ROLES. */
  role?: InputRole;
  /**
   * Listed in the run summary SaveImage embeds in PNGs ("parameters"): `true` under the input's own
   * name, a string under that key (e.g. a prompt input summarized as "prompt").
   */
  summary?: true | string;
  /**
   * The input matters only while another (enum) input of the node has one of these values — a
   * Solver's UniPC `variant` only for `kind: unipc`. Editors hide it otherwise; the value is still
   * accepted and passed to `run()`.
   */
  appliesWhen?: { input: string; values: readonly string[] };
}

export interface OutputSpec {
  type: string;
  tooltip?: string;
}

export interface NodeContext {
  readonly runId: string;
  readonly nodeId: string;
  /** Aborted when the run is cancelled. Long loops check it every step. */
  readonly signal: AbortSignal;
  progress(value: number, max: number): void;
  preview(image: unknown): void;
  /** False when no one receives previews, so a node can skip encoding them (undefined: assume true). */
  readonly previewing?: boolean;
  log(message: string): void;
  /** What the host injects: output directory, model store, file store, … */
  readonly services: Readonly<Record<string, unknown>>;
  /**
   * The registry's definition of a node type, for nodes that describe a whole workflow from its
   * specs (SaveImage's summary of inputs tagged `summary`). Absent outside an Executor.
   */
  readonly definitionOf?: (type: string) => NodeDefinition | undefined;
}

export type NodeInputs = Record<string, any>;
export type NodeOutputs = Record<string, unknown>;

export interface NodeDefinition {
  /** PascalCase, unique in a registry. */
  type: string;
  category: string;
  description: string;
  /** Bump when the node's behaviour changes: it is part of every cache signature. */
  version: number;
  inputs: Record<string, InputSpec>;
  outputs: Record<string, OutputSpec>;
  /** A sink: computed when a workflow names no outputs. */
  output?: boolean;
  /** Never served from cache (and so neither are its descendants). */
  nondeterministic?: boolean;
  /** Has effects outside its outputs (writes a file, sends a preview): runs on every run, never cached. */
  sideEffects?: boolean;
  run(inputs: NodeInputs, ctx: NodeContext): NodeOutputs | Promise<NodeOutputs>;
}

export interface NodePack {
  /** Unique among the packs of a registry; `/api/nodes` and `diffgraph nodes` show it beside each node. */
  name: string;
  /** The pack's own release (e.g. its package.json version), shown beside its name. */
  version?: string;
  nodes: readonly NodeDefinition[];
}

export const WORKFLOW_FORMAT = 'diffgraph/workflow@1';

export interface Link {
  from: string;
  output: string;
}

export interface WorkflowNode {
  type: string;
  inputs?: Record<string, unknown>;
}

export interface Workflow {
  format: typeof WORKFLOW_FORMAT;
  nodes: Record<string, WorkflowNode>;
  outputs?: string[];
  ui?: Record<string, unknown>;
  meta?: Record<string, unknown>;
}

/** A link is exactly `{ from, output }` with two strings: any other object is a literal. */
export function isLink(value: unknown): value is Link {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  const v = value as Record<string, unknown>;
  return keys.length === 2 && typeof v.from === 'string' && typeof v.output === 'string';
}
