/**
 * Limits on a workflow's shape, checked before anything walks it recursively. JSON.stringify, ajv,
 * canonical JSON and structuredClone all recurse, so a value nested 10,000 deep (60 KB of brackets,
 * which JSON.parse accepts) would overflow the stack in any of them. The walk here is iterative and
 * stops at the first limit it crosses, so it is safe and cheap on anything JSON.parse returned.
 *
 * This module has no dependencies, so the editor can check a file before it opens it.
 */

export interface WorkflowLimits {
  /** Deepest nesting of objects and arrays, the workflow object itself being level 1. */
  maxDepth: number;
  /** Largest workflow as JSON text, in UTF-8 bytes. */
  maxBytes: number;
  /** Most nodes in `nodes`. */
  maxNodes: number;
  /** Most problems a validation lists; one TOO_MANY_ERRORS entry stands for the rest. */
  maxErrors: number;
}

export const DEFAULT_WORKFLOW_LIMITS: Readonly<WorkflowLimits> = Object.freeze({
  maxDepth: 64,
  maxBytes: 16 * 1024 ** 2,
  maxNodes: 10_000,
  maxErrors: 100,
});

export type ShapeErrorCode = 'WORKFLOW_TOO_LARGE' | 'NESTING_TOO_DEEP' | 'TOO_MANY_NODES';

export interface ShapeError {
  nodeId: string | null;
  input?: string;
  code: ShapeErrorCode;
  message: string;
}

/** UTF-8 length of a string, without allocating its encoding (this also runs in the browser). */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

interface Frame {
  value: unknown;
  depth: number;
  key: string;
  parent: Frame | undefined;
}

const keyPath = (frame: Frame): string[] => {
  const keys: string[] = [];
  for (let f: Frame | undefined = frame; f?.parent; f = f.parent) keys.unshift(f.key);
  return keys;
};

const isContainer = (value: unknown): value is object => typeof value === 'object' && value !== null;
const skippedInObject = (value: unknown) => value === undefined || typeof value === 'function' || typeof value === 'symbol';

/**
 * The size of `JSON.stringify(value)` in UTF-8 bytes, computed without recursion; stops early (with
 * `exceeded`) at the first container nested deeper than `maxDepth` or once the size passes `maxBytes`.
 */
export function measureJson(value: unknown, maxDepth: number, maxBytes: number):
  { bytes: number; exceeded?: undefined } | { bytes: number; exceeded: 'bytes' } | { bytes: number; exceeded: 'depth'; path: string[] } {
  let bytes = 0;
  const stack: Frame[] = [{ value, depth: isContainer(value) ? 1 : 0, key: '', parent: undefined }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const v = frame.value;
    if (!isContainer(v)) {
      bytes += v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 4 : utf8Length(primitiveJson(v));
    } else {
      if (frame.depth > maxDepth) return { bytes, exceeded: 'depth', path: keyPath(frame) };
      if (Array.isArray(v)) {
        bytes += 2 + Math.max(0, v.length - 1);
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth: frame.depth + 1, key: String(i), parent: frame });
      } else {
        const entries = Object.entries(v).filter(([, item]) => !skippedInObject(item));
        bytes += 2 + Math.max(0, entries.length - 1);
        for (let i = entries.length - 1; i >= 0; i--) {
          const [key, item] = entries[i];
          bytes += utf8Length(JSON.stringify(key)) + 1;
          stack.push({ value: item, depth: isContainer(item) ? frame.depth + 1 : frame.depth, key, parent: frame });
        }
      }
    }
    if (bytes > maxBytes) return { bytes, exceeded: 'bytes' };
  }
  return { bytes };
}

function primitiveJson(value: unknown): string {
  if (typeof value === 'bigint') return String(value); // JSON.stringify throws; counted as its digits
  return JSON.stringify(value) ?? 'null';
}

/** Where a path inside a workflow points, for an error's nodeId/input. */
function locate(path: string[]): { nodeId: string | null; input?: string; where: string } {
  const where = path.length === 0 ? '(root)' : path.length > 8 ? `${path.slice(0, 8).join('.')}…` : path.join('.');
  if (path[0] === 'nodes' && path.length >= 2) {
    return { nodeId: path[1], ...(path[2] === 'inputs' && path.length >= 4 ? { input: path[3] } : {}), where };
  }
  return { nodeId: null, where };
}

/**
 * Size, nesting and node-count problems of a parsed workflow (or of anything claiming to be one),
 * found without recursion. Empty when the value is within the limits; at most one error otherwise,
 * since the checks after the first crossed limit would walk what it refuses.
 */
export function checkWorkflowShape(value: unknown, limits: Partial<WorkflowLimits> = {}): ShapeError[] {
  const { maxDepth, maxBytes, maxNodes } = { ...DEFAULT_WORKFLOW_LIMITS, ...limits };
  const nodes = isContainer(value) && !Array.isArray(value) ? (value as { nodes?: unknown }).nodes : undefined;
  if (isContainer(nodes) && !Array.isArray(nodes)) {
    const count = Object.keys(nodes).length;
    if (count > maxNodes) {
      return [{ nodeId: null, code: 'TOO_MANY_NODES', message: `The workflow has ${count} nodes; at most ${maxNodes} are accepted.` }];
    }
  }
  const measured = measureJson(value, maxDepth, maxBytes);
  if (measured.exceeded === 'bytes') {
    return [{ nodeId: null, code: 'WORKFLOW_TOO_LARGE', message: `The workflow is more than ${maxBytes} bytes as JSON, the most accepted.` }];
  }
  if (measured.exceeded === 'depth') {
    const { nodeId, input, where } = locate(measured.path);
    return [{
      nodeId, ...(input !== undefined ? { input } : {}), code: 'NESTING_TOO_DEEP',
      message: `Objects and arrays are nested more than ${maxDepth} levels deep at ${where}; a workflow may nest at most ${maxDepth} levels.`,
    }];
  }
  return [];
}

/** The same check on JSON text, before it is parsed: its size first, then the parsed value's shape. */
export function textTooLarge(text: string, limits: Partial<WorkflowLimits> = {}): ShapeError[] {
  const { maxBytes } = { ...DEFAULT_WORKFLOW_LIMITS, ...limits };
  // Each UTF-16 unit is at most 3 bytes: count exactly only when the cheap bound is over the limit.
  if (text.length * 3 <= maxBytes) return [];
  const bytes = utf8Length(text);
  if (bytes <= maxBytes) return [];
  return [{ nodeId: null, code: 'WORKFLOW_TOO_LARGE', message: `The workflow is ${bytes} bytes, more than the ${maxBytes} accepted.` }];
}
