/**
 * Results worth keeping across runs and processes, in the host's cache folder (FileServices.cacheDir):
 * one JSON file per key under a folder per kind, confined to the cache folder like every other path.
 * Writes go to a temporary file first and are renamed into place, so a crash or a second process never
 * leaves half a file under the key.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { NodeContext } from '@diffgraph/engine';
import { resolveInside } from './paths.ts';

const KEY = /^[0-9a-f]{16,128}$/;

/** The host's cache folder, or undefined when it keeps none. */
export function cacheFolder(ctx: NodeContext): string | undefined {
  const dir = (ctx.services as { cacheDir?: unknown }).cacheDir;
  return typeof dir === 'string' && dir !== '' ? dir : undefined;
}

function cachePath(root: string, kind: string, key: string): string {
  if (!/^[a-z0-9-]+$/.test(kind) || !KEY.test(key)) throw new Error(`cache entry "${kind}/${key}" is not a kind and a hex key`);
  return resolveInside(root, path.join(kind, `${key}.json`), 'cache path');
}

/** The entry's parsed JSON, or undefined when there is none (or it cannot be read). */
export function readCacheEntry(root: string, kind: string, key: string): unknown {
  try {
    return JSON.parse(readFileSync(cachePath(root, kind, key), 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Stores the entry; returns its path. */
export function writeCacheEntry(root: string, kind: string, key: string, value: unknown): string {
  const file = cachePath(root, kind, key);
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  writeFileSync(temporary, JSON.stringify(value));
  renameSync(temporary, file);
  return file;
}
