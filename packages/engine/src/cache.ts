/** Signature → node outputs, least recently used evicted first, bounded by a byte budget. */
import type { NodeOutputs } from './types.ts';

/** Bytes a value holds: tensors and other buffers report exactly; plain data is estimated. */
export function sizeOf(value: unknown, seen = new Set<object>()): number {
  if (value === null || value === undefined) return 0;
  switch (typeof value) {
    case 'number':
      return 8;
    case 'boolean':
      return 4;
    case 'string':
      return 2 * value.length;
    case 'object':
      break;
    default:
      return 0;
  }
  const obj = value as Record<string, unknown>;
  if (seen.has(obj)) return 0;
  seen.add(obj);
  if (typeof obj.byteSize === 'number') return obj.byteSize;
  if (ArrayBuffer.isView(obj)) return obj.byteLength;
  if (obj instanceof ArrayBuffer) return obj.byteLength;
  if (Array.isArray(obj)) return obj.reduce((s: number, v) => s + sizeOf(v, seen), 16);
  let total = 16;
  for (const v of Object.values(obj)) total += sizeOf(v, seen);
  return total;
}

interface Entry {
  outputs: NodeOutputs;
  bytes: number;
}

export class OutputCache {
  private readonly entries = new Map<string, Entry>();
  private used = 0;
  hits = 0;
  misses = 0;
  evictions = 0;

  constructor(readonly budgetBytes: number) {}

  get(signature: string): NodeOutputs | undefined {
    const entry = this.entries.get(signature);
    if (!entry) {
      this.misses++;
      return undefined;
    }
    // Map keeps insertion order: re-inserting marks the entry most recently used.
    this.entries.delete(signature);
    this.entries.set(signature, entry);
    this.hits++;
    return entry.outputs;
  }

  has(signature: string): boolean {
    return this.entries.has(signature);
  }

  /** Stores unless the entry alone exceeds the budget; evicts the oldest entries to make room. */
  set(signature: string, outputs: NodeOutputs): boolean {
    const bytes = sizeOf(outputs);
    this.delete(signature);
    if (bytes > this.budgetBytes) return false;
    while (this.used + bytes > this.budgetBytes) {
      const oldest = this.entries.keys().next().value as string;
      this.delete(oldest);
      this.evictions++;
    }
    this.entries.set(signature, { outputs, bytes });
    this.used += bytes;
    return true;
  }

  delete(signature: string): void {
    const entry = this.entries.get(signature);
    if (entry) {
      this.used -= entry.bytes;
      this.entries.delete(signature);
    }
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }

  get size(): number {
    return this.entries.size;
  }

  get usedBytes(): number {
    return this.used;
  }
}
