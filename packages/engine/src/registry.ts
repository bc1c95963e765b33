import type { NodeDefinition, NodePack } from './types.ts';
import { INPUT_ROLES, isPrimitiveType, ROLE_INPUT_TYPES } from './types.ts';

/** What a registry whose nodes read no services asks of a host. */
export type NoServices = Record<never, never>;

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
    const existing = this.packOf.get(def.type);
    if (existing !== undefined) {
      throw new Error(`Node type "${def.type}" from pack "${pack}" is already registered by pack "${existing}"`);
    }
    this.defs.set(def.type, def);
    this.packOf.set(def.type, pack);
  }

  registerPack(pack: NodePack): void {
    for (const def of pack.nodes) this.register(def, pack.name);
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

  list(): NodeDefinition[] {
    return [...this.defs.values()].sort((a, b) => a.type.localeCompare(b.type));
  }
}

function checkDefinition(def: NodeDefinition): void {
  const where = `Node definition "${def.type}"`;
  if (!PASCAL_CASE.test(def.type)) throw new Error(`${where}: type must be PascalCase`);
  if (!Number.isInteger(def.version) || def.version < 1) throw new Error(`${where}: version must be a positive integer`);
  if (typeof def.run !== 'function') throw new Error(`${where}: run must be a function`);
  for (const [name, spec] of Object.entries(def.inputs)) {
    if (!INPUT_NAME.test(name)) throw new Error(`${where}: input name "${name}" is not an identifier`);
    if (!spec.type) throw new Error(`${where}: input "${name}" has no type`);
    if (spec.default !== undefined && !isPrimitiveType(spec.type)) {
      throw new Error(`${where}: input "${name}" of socket type ${spec.type} cannot have a default`);
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
