/** The file services a host (CLI or server) injects into node contexts. */
import { existsSync } from 'node:fs';
import type { NodeContext } from '@diffgraph/engine';
import { resolveInside } from './paths.ts';

/** The folders file nodes read from and write to (HostServices extends it with the model side). */
export interface FileServices {
  /** Where output nodes write (on the server, the run's own folder). */
  outputDir: string;
  /** Folders input paths are resolved in; the first that holds the file wins. */
  inputRoots: readonly string[];
  /**
   * Where nodes keep results worth reusing across runs and processes (a searched schedule), keyed by
   * what they were computed from (io/cache-files.ts). The server uses <data>/cache; absent: nothing is kept.
   */
  cacheDir?: string;
}

/**
 * The host's folders. A host in TypeScript cannot leave them out (see HostServices); one in plain
 * JavaScript gets an error here rather than files read from or written to its working directory.
 */
export function fileServices(ctx: NodeContext): FileServices {
  const { outputDir, inputRoots } = ctx.services as Partial<FileServices>;
  if (typeof outputDir !== 'string' || !Array.isArray(inputRoots)) {
    throw new Error('the host gave this run no services.outputDir and services.inputRoots, so it cannot read or write files');
  }
  return { outputDir, inputRoots };
}

export function resolveInput(ctx: NodeContext, name: string): string {
  const { inputRoots } = fileServices(ctx);
  const candidates = inputRoots.map((root) => resolveInside(root, name, 'input path'));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`file "${name}" not found in ${inputRoots.join(' or ')}`);
  return found;
}

export function resolveOutput(ctx: NodeContext, name: string): string {
  return resolveInside(fileServices(ctx).outputDir, name, 'output path');
}
