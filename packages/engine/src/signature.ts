/**
 * Merkle signatures: a node's signature hashes its type, version, literal inputs (canonical JSON)
 * and, for links, the upstream signature plus the output name. Node ids never enter, so renaming a
 * node or moving it in the editor keeps its cache entry.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { NodeDefinition, WorkflowNode } from './types.ts';
import { isLink } from './types.ts';

/** JSON with object keys sorted at every level, so equal values hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return JSON.stringify(String(value));
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function nodeSignature(
  def: NodeDefinition,
  node: WorkflowNode,
  upstream: (nodeId: string) => string,
): string {
  const inputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(node.inputs ?? {})) {
    inputs[name] = isLink(value) ? { link: upstream(value.from), output: value.output } : { literal: value };
  }
  // A nondeterministic or side-effecting node gets a fresh salt, so neither it nor anything downstream
  // is a cache hit: its value (or its effect, such as a saved file) must be produced on every run.
  const salt = def.nondeterministic || def.sideEffects ? randomUUID() : null;
  return createHash('sha256')
    .update(canonicalJson({ type: def.type, version: def.version, inputs, salt }))
    .digest('hex');
}
