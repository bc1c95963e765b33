/**
 * What the server tells clients about its own files. Node messages (errors, log lines) name absolute
 * paths, which is right for the CLI on the user's machine but leaks the server's layout over the API.
 * Here a path inside one of the server's folders becomes relative to it — the form a workflow uses to
 * name a file (`data/x.png`, `shapes-32/unet/model.onnx`, `<runId>/x_00001.png`) — and the folder
 * itself is shown by a label (`<inputs>`). Paths outside every folder are never produced by the nodes.
 */
import { realpathOfNearest } from '@diffgraph/nodes';

export interface PublicFolder {
  /** Absolute path of the folder on the server. */
  dir: string;
  /** What clients see for the folder itself, e.g. `<models>`. */
  label: string;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A function that rewrites every absolute path under `folders` in a text. */
export function pathScrubber(folders: readonly PublicFolder[]): (text: string) => string {
  const byPrefix = new Map<string, string>();
  for (const { dir, label } of folders) {
    for (const variant of new Set([dir, realpathOfNearest(dir)])) {
      const trimmed = variant.replace(/[\\/]+$/, '');
      if (trimmed !== '' && !byPrefix.has(trimmed)) byPrefix.set(trimmed, label);
    }
  }
  if (byPrefix.size === 0) return (text) => text;
  // Longest first, so a folder inside another (staging inside the data folder) wins.
  const prefixes = [...byPrefix.keys()].sort((a, b) => b.length - a.length);
  // A prefix counts only as a whole path: not preceded by a path character, and followed by a
  // separator (a path inside: made relative) or by something that cannot continue a file name.
  const pattern = new RegExp(`(?<![\\w.~/\\\\-])(${prefixes.map(escapeRegExp).join('|')})(?:[\\\\/]|(?![\\w.~-]))`, 'g');
  return (text) => text.replace(pattern, (match, prefix: string) => (match.length > prefix.length ? '' : byPrefix.get(prefix)!));
}

/** `value` (JSON-safe: what results and events are) with every string scrubbed. */
export function scrubDeep<T>(value: T, scrub: (text: string) => string): T {
  if (typeof value === 'string') return scrub(value) as T;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, scrub)) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, scrub)])) as T;
  }
  return value;
}
