/** Reading a workflow file and applying `--set nodeId.input=value` overrides, with errors a user can act on. */
import { readFileSync } from 'node:fs';
import { parseWorkflowText, type ValidationError } from '@diffgraph/engine';
import { importPng, importWorkflowValue, isPng, type ImportedWorkflow } from './workflow-import.ts';

export class UnreadableFileError extends Error {}

export function readWorkflowFile(file: string): { ok: true; value: unknown } | { ok: false; errors: ValidationError[] } {
  return parseWorkflowText(readFileBytes(file).toString('utf8'));
}

/**
 * A workflow file as diffgraph runs it: JSON (ours, or ComfyUI's converted) or a PNG with a workflow
 * embedded (ours, or ComfyUI's executed prompt). Import failures throw (ComfyImportError, WorkflowImportError).
 */
export function readImportedWorkflowFile(file: string): { ok: true; imported: ImportedWorkflow; png: boolean } | { ok: false; errors: ValidationError[] } {
  const bytes = readFileBytes(file);
  if (isPng(bytes)) return { ok: true, imported: importPng(bytes, 'api'), png: true };
  const read = parseWorkflowText(bytes.toString('utf8'));
  return read.ok ? { ok: true, imported: importWorkflowValue(read.value), png: false } : read;
}

function readFileBytes(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    throw new UnreadableFileError(`cannot read ${file}: ${why}`);
  }
}

/**
 * `--set sample.steps=20` sets a literal input. The value is JSON when it parses as JSON, otherwise a
 * string, so `--set solver.kind=dpmsolver++` needs no quotes.
 */
export function applySets(workflow: unknown, sets: readonly string[]): unknown {
  if (sets.length === 0) return workflow;
  // Copies only the objects it changes: a deep copy would recurse into values validation has not yet
  // bounded (a literal nested 10,000 deep overflows structuredClone).
  const source = workflow as { nodes?: Record<string, { inputs?: Record<string, unknown> }> };
  const w = { ...source, nodes: source.nodes && typeof source.nodes === 'object' ? { ...source.nodes } : source.nodes };
  for (const set of sets) {
    const match = /^([^.=]+)\.([^=]+)=(.*)$/s.exec(set);
    if (!match) throw new Error(`--set "${set}": expected <nodeId>.<input>=<value>, e.g. --set sample.steps=20`);
    const [, nodeId, input, raw] = match;
    const node = w.nodes && Object.hasOwn(w.nodes, nodeId) ? w.nodes[nodeId] : undefined;
    if (!node || typeof node !== 'object') {
      throw new Error(`--set "${set}": the workflow has no node "${nodeId}" (nodes: ${Object.keys(w.nodes ?? {}).join(', ')})`);
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    w.nodes![nodeId] = { ...node, inputs: { ...(node.inputs ?? {}), [input]: value } };
  }
  return w;
}
