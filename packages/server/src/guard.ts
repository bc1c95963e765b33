/**
 * What the server refuses before anything is queued: paths that leave their root (after symlinks,
 * `..`, absolute paths and percent-encoded variants) and workflows over the configured limits.
 */
import path from 'node:path';
import { isInside, realpathOfNearest } from '@diffgraph/nodes';
import type { InputRole, NodeRegistry, Workflow } from '@diffgraph/engine';
import { isLink } from '@diffgraph/engine';
import type { Limits } from './limits.ts';

export { DEFAULT_LIMITS, type Limits } from './limits.ts';

export interface GuardError {
  nodeId: string | null;
  input?: string;
  code: 'LIMIT_EXCEEDED' | 'PATH_OUTSIDE_ROOT' | 'PATH_EMPTY' | 'WORKFLOW_TOO_LARGE';
  message: string;
}

export type RootKind = 'inputs' | 'outputs' | 'models';


export class PathError extends Error {
  constructor(message: string, readonly status = 403, readonly code: 'PATH_OUTSIDE_ROOT' | 'PATH_EMPTY' = 'PATH_OUTSIDE_ROOT') {
    super(message);
  }
}

/**
 * Resolves `name` inside `root` after following every symlink; throws PathError when the result is
 * outside. Absolute names, NUL bytes and names whose percent-decoded form escapes are refused too.
 */
export function confine(root: string, name: string, what = 'path'): string {
  if (typeof name !== 'string' || name.length === 0) throw new PathError(`${what} is empty`, 400, 'PATH_EMPTY');
  if (name.includes('\0')) throw new PathError(`${what} "${name}" contains a NUL byte`);
  const variants = new Set([name]);
  try {
    variants.add(decodeURIComponent(name));
  } catch {
    // Not valid percent-encoding: only the raw name matters.
  }
  const realRoot = realpathOfNearest(path.resolve(root));
  let resolved = '';
  for (const variant of variants) {
    if (variant.includes('\0')) throw new PathError(`${what} "${name}" contains a NUL byte`);
    if (path.isAbsolute(variant) || /^[a-zA-Z]:[\\/]/.test(variant) || variant.startsWith('\\')) {
      throw new PathError(`${what} "${name}" is absolute; name a file inside the ${path.basename(root)} folder instead`);
    }
    const target = realpathOfNearest(path.resolve(realRoot, variant));
    if (!isInside(realRoot, target)) throw new PathError(`${what} "${name}" is outside the allowed folder`);
    if (variant === name) resolved = target;
  }
  return resolved;
}

/** The limit each input role is held to: read from the node's spec, so renaming an input keeps it. */
const LIMITED: Partial<Record<InputRole, { limit: keyof Limits; what: string }>> = {
  steps: { limit: 'maxSteps', what: 'steps' },
  batch: { limit: 'maxBatch', what: 'batch size' },
  width: { limit: 'maxResolution', what: 'resolution' },
  height: { limit: 'maxResolution', what: 'resolution' },
  particles: { limit: 'maxParticles', what: 'particles' },
};

export interface GuardContext {
  registry: NodeRegistry;
  limits: Limits;
  roots: Record<RootKind, string>;
  /** Output paths are resolved inside this run's own folder (a subfolder of the outputs root). */
  runOutputDir: string;
}

/** Every limit and path problem of a (schema-valid) workflow, all at once. */
export function guardWorkflow(workflow: Workflow, ctx: GuardContext): GuardError[] {
  const errors: GuardError[] = [];
  const { limits } = ctx;
  // The node count (maxNodes) is the engine's check, made before its per-node validation.
  const ids = Object.keys(workflow.nodes);
  for (const id of ids) {
    const node = workflow.nodes[id];
    const def = ctx.registry.get(node.type);
    for (const [input, value] of Object.entries(node.inputs ?? {})) {
      if (isLink(value)) continue;
      const spec = def?.inputs[input];
      const limited = spec?.role && LIMITED[spec.role];
      if (limited && typeof value === 'number' && value > (limits[limited.limit] as number)) {
        const max = limits[limited.limit] as number;
        errors.push({ nodeId: id, input, code: 'LIMIT_EXCEEDED', message: `Input "${input}" is ${value}; this server allows at most ${max} ${limited.what} (--${flagOf(limited.limit)}).` });
      }
      if (spec?.role === 'shape' && Array.isArray(value) && value.some((d) => typeof d === 'number' && d > limits.maxResolution)) {
        errors.push({ nodeId: id, input, code: 'LIMIT_EXCEEDED', message: `Input "${input}" has a dimension above ${limits.maxResolution}, this server's resolution limit (--max-resolution).` });
      }
      const root: RootKind | undefined = spec?.path;
      // An optional path input left empty names no file ("do not save", "the default sidecar").
      if (root && typeof value === 'string' && !(value === '' && spec?.optional)) {
        const base = root === 'outputs' ? ctx.runOutputDir : ctx.roots[root];
        try {
          confine(base, value, `${root === 'models' ? 'model' : root === 'inputs' ? 'input' : 'output'} path`);
        } catch (e) {
          errors.push({ nodeId: id, input, code: e instanceof PathError ? e.code : 'PATH_OUTSIDE_ROOT', message: (e as Error).message });
        }
      }
    }
  }
  return errors;
}

function flagOf(limit: keyof Limits): string {
  return limit.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
