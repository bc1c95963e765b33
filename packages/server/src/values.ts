/**
 * Output values as JSON: tensors by shape and dtype, files a run wrote as links to /api/files (also
 * inside arrays and objects, e.g. SaveImage's list), plain data as it is, and anything else (models,
 * solvers, …) by a short description.
 */
import path from 'node:path';
import type { OutputResult } from '@diffgraph/engine';

export interface FileRef {
  file: string;
  url: string;
}

export interface SerializedOutputs {
  results: Record<string, unknown>;
  /** One row per output value, for the outputs index. */
  index: { nodeId: string; name: string; value: unknown; file: string | null }[];
}

/** The name (relative to the outputs root) of a file a run wrote, or null when it is not one. */
export type FileNamer = (absolutePath: string) => string | null;

const MAX_INLINE_JSON = 16 * 1024;

export function fileUrl(relative: string): string {
  return `/api/files/${relative.split(path.sep).map(encodeURIComponent).join('/')}`;
}

function fileRef(value: string, nameOf: FileNamer): FileRef | undefined {
  if (!path.isAbsolute(value)) return undefined;
  const rel = nameOf(value);
  return rel === null ? undefined : { file: rel.split(path.sep).join('/'), url: fileUrl(rel) };
}

export function serializeValue(value: unknown, nameOf: FileNamer): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return fileRef(value, nameOf) ?? value;
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>;
    if (Array.isArray(v.shape) && ArrayBuffer.isView(v.data)) {
      return { tensor: { shape: v.shape, dtype: (v as { dtype?: string }).dtype ?? 'float32', bytes: (v.data as ArrayBufferView).byteLength } };
    }
    try {
      const text = JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'string' ? fileRef(inner, nameOf) ?? inner : inner));
      if (text !== undefined && text.length <= MAX_INLINE_JSON && !/"__proto__"/.test(text)) return JSON.parse(text);
    } catch {
      // Cyclic or otherwise not JSON: described below.
    }
    const name = (value as object).constructor?.name;
    const label = typeof v.name === 'string' ? v.name : name && name !== 'Object' ? name : 'object';
    return { opaque: label };
  }
  return { opaque: typeof value };
}

export function serializeOutputs(outputs: Record<string, OutputResult>, nameOf: FileNamer): SerializedOutputs {
  const results: Record<string, unknown> = {};
  const index: SerializedOutputs['index'] = [];
  for (const [nodeId, r] of Object.entries(outputs)) {
    if (r.status !== 'succeeded') {
      results[nodeId] = r;
      continue;
    }
    const values: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(r.values)) {
      const s = serializeValue(value, nameOf);
      values[name] = s;
      const file = typeof s === 'object' && s !== null && 'file' in s ? (s as FileRef).file : null;
      index.push({ nodeId, name, value: s, file });
    }
    results[nodeId] = { status: 'succeeded', values };
  }
  return { results, index };
}
