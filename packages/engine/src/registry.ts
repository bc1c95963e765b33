import type { NodeDefinition, NodePack } from './types.ts';
import { INPUT_ROLES, isPrimitiveType, ROLE_INPUT_TYPES } from './types.ts';

/** What a registry whose nodes read no services asks of a host. */
export type NoServices = Record<never, never>;

/** A registered pack: its name, its version when it declares one, and its node types (sorted). */
export interface PackInfo {
  name: string;
  version?: string;
  nodes: string[];
}

/** A node type or pack name that is already taken; `existingPack` names the pack that holds it. */
export class PackConflictError extends Error {
  constructor(message: string, readonly existingPack: string) {
    super(message);
    this.name = 'PackConflictError';
  }
}

const PASCAL_CASE = /^[A-Z][A-Za-z0-9]*$/;
const INPUT_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Node packs register here; the engine looks node types up by name. `Services` is what the packs'
 * nodes read from their context's `services` (an output folder, model roots, …): an Executor over this
 * registry takes exactly that on every run, so a host that leaves one out does not compile.
 */
export class NodeRegistry<Services extends object = NoServices> {
  /** Type-level only: the services this registry's nodes need (never set). */
  declare readonly servicesType?: Services;
  private readonly defs = new Map<string, NodeDefinition>();
  private readonly packOf = new Map<string, string>();
  private readonly packInfo = new Map<string, PackInfo>();
  /** sub → the socket types it may feed besides itself (INT feeds FLOAT). */
  private readonly supertypes = new Map<string, Set<string>>([['INT', new Set(['FLOAT'])]]);

  /** Let outputs of type `sub` feed inputs of type `sup` (a LATENT is a TENSOR). */
  declareSubtype(sub: string, sup: string): void {
    if (!this.supertypes.has(sub)) this.supertypes.set(sub, new Set());
    this.supertypes.get(sub)!.add(sup);
  }

  isAssignable(from: string, to: string): boolean {
    return from === to || (this.supertypes.get(from)?.has(to) ?? false);
  }

  register(def: NodeDefinition, pack = 'user'): void {
    checkDefinition(def);
    this.checkFree(def.type, pack);
    this.defs.set(def.type, def);
    this.packOf.set(def.type, pack);
  }

  /**
   * All of a pack or none of it: every definition is checked, and every type checked against the
   * registry and the rest of the pack, before the first one is registered.
   */
  registerPack(pack: NodePack): void {
    if (this.packInfo.has(pack.name)) throw new PackConflictError(`A node pack named "${pack.name}" is already registered`, pack.name);
    const seen = new Set<string>();
    for (const def of pack.nodes) {
      checkDefinition(def);
      this.checkFree(def.type, pack.name);
      if (seen.has(def.type)) throw new Error(`Node type "${def.type}" appears twice in pack "${pack.name}"`);
      seen.add(def.type);
    }
    for (const def of pack.nodes) {
      this.defs.set(def.type, def);
      this.packOf.set(def.type, pack.name);
    }
    this.packInfo.set(pack.name, { name: pack.name, ...(pack.version !== undefined ? { version: pack.version } : {}), nodes: [...seen].sort() });
  }

  private checkFree(type: string, pack: string): void {
    const existing = this.packOf.get(type);
    if (existing !== undefined) {
      throw new PackConflictError(`Node type "${type}" from pack "${pack}" is already registered by pack "${existing}"`, existing);
    }
  }

  get(type: string): NodeDefinition | undefined {
    return this.defs.get(type);
  }

  has(type: string): boolean {
    return this.defs.has(type);
  }

  pack(type: string): string | undefined {
    return this.packOf.get(type);
  }

  /** The packs registered with registerPack, in registration order. */
  packs(): PackInfo[] {
    return [...this.packInfo.values()].map((p) => ({ ...p, nodes: [...p.nodes] }));
  }

  list(): NodeDefinition[] {
    return [...this.defs.values()].sort((a, b) => a.type.localeCompare(b.type));
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The shape first (definitions may come from plain JavaScript), then the rules a workflow relies on. */
function checkDefinition(def: NodeDefinition): void {
  if (!isRecord(def)) throw new Error(`Node definition must be an object, not ${describeValue(def)}`);
  if (typeof def.type !== 'string') throw new Error(`Node definition has no type (a PascalCase string), got ${describeValue(def.type)}`);
  const where = `Node definition "${def.type}"`;
  if (!PASCAL_CASE.test(def.type)) throw new Error(`${where}: type must be PascalCase`);
  for (const field of ['category', 'description'] as const) {
    if (typeof def[field] !== 'string') throw new Error(`${where}: ${field} must be a string, got ${describeValue(def[field])}`);
  }
  if (!Number.isInteger(def.version) || def.version < 1) throw new Error(`${where}: version must be a positive integer`);
  if (typeof def.run !== 'function') throw new Error(`${where}: run must be a function`);
  for (const flag of ['output', 'nondeterministic', 'sideEffects'] as const) {
    if (def[flag] !== undefined && typeof def[flag] !== 'boolean') throw new Error(`${where}: ${flag} must be true or false, got ${describeValue(def[flag])}`);
  }
  for (const side of ['inputs', 'outputs'] as const) {
    if (!isRecord(def[side])) throw new Error(`${where}: ${side} must be an object of { name: { type } }, got ${describeValue(def[side])}`);
    for (const [name, spec] of Object.entries(def[side])) {
      if (!isRecord(spec) || typeof spec.type !== 'string' || spec.type === '') {
        throw new Error(`${where}: ${side === 'inputs' ? 'input' : 'output'} "${name}" needs a type (a string such as "FLOAT" or "IMAGE")`);
      }
    }
  }
  for (const [name, spec] of Object.entries(def.inputs)) {
    if (!INPUT_NAME.test(name)) throw new Error(`${where}: input name "${name}" is not an identifier`);
    if (spec.default !== undefined && !isPrimitiveType(spec.type)) {
      throw new Error(`${where}: input "${name}" of socket type ${spec.type} cannot have a default`);
    }
    if (spec.enum !== undefined && (!Array.isArray(spec.enum) || spec.enum.some((v) => typeof v !== 'string'))) {
      throw new Error(`${where}: input "${name}": enum must be an array of strings`);
    }
    if (spec.role !== undefined) {
      const needs = (ROLE_INPUT_TYPES as Record<string, string | undefined>)[spec.role];
      if (needs === undefined) throw new Error(`${where}: input "${name}": unknown role "${String(spec.role)}" (one of ${INPUT_ROLES.join(', ')})`);
      if (spec.type !== needs) throw new Error(`${where}: input "${name}": role "${spec.role}" needs type ${needs}, not ${spec.type}`);
      if (spec.role === 'model' && spec.path !== 'models') throw new Error(`${where}: input "${name}": role "model" needs path "models"`);
    }
    if (spec.summary !== undefined && spec.summary !== true && !(typeof spec.summary === 'string' && INPUT_NAME.test(spec.summary))) {
      throw new Error(`${where}: input "${name}": summary must be true or a key name`);
    }
    if (spec.appliesWhen !== undefined) {
      const ruler = def.inputs[spec.appliesWhen.input];
      if (!ruler?.enum || spec.appliesWhen.input === name) throw new Error(`${where}: input "${name}": appliesWhen names "${spec.appliesWhen.input}", which is not another enum input of the node`);
      const unknown = spec.appliesWhen.values.filter((v) => !ruler.enum!.includes(v));
      if (unknown.length > 0) throw new Error(`${where}: input "${name}": appliesWhen values ${unknown.map((v) => `"${v}"`).join(', ')} are not in the enum of "${spec.appliesWhen.input}"`);
    }
    if (spec.enum && spec.type !== 'STRING') throw new Error(`${where}: input "${name}": enum needs type STRING`);
    if (spec.enum && spec.default !== undefined && !spec.enum.includes(spec.default as string)) {
      throw new Error(`${where}: input "${name}": default "${String(spec.default)}" is not in its enum`);
    }
    if (typeof spec.default === 'number') {
      if (spec.min !== undefined && spec.default < spec.min) throw new Error(`${where}: input "${name}": default below min`);
      if (spec.max !== undefined && spec.default > spec.max) throw new Error(`${where}: input "${name}": default above max`);
    }
  }
  for (const name of Object.keys(def.outputs)) {
    if (!INPUT_NAME.test(name)) throw new Error(`${where}: output name "${name}" is not an identifier`);
  }
}

/** A value as an error message names it: `null`, `an array`, `"text"`, `number 7`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value);
  return typeof value === 'object' || typeof value === 'function' ? `a${typeof value === 'object' ? 'n' : ''} ${typeof value}` : `${typeof value} ${String(value)}`;
}
