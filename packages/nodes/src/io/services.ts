/** The file services a host (CLI or server) injects into node contexts. */
import { existsSync } from 'node:fs';
import type { NodeContext } from '@diffgraph/engine';
import { resolveInside } from './paths.ts';

export interface FileServices {
  /** Where output nodes write. */
  outputDir: string;
  /** Folders input paths are resolved in, first match wins. */
  inputRoots: string[];
}

export function fileServices(ctx: NodeContext): FileServices {
  const { outputDir, inputRoots } = ctx.services as Partial<FileServices>;
  return { outputDir: outputDir ?? 'out', inputRoots: inputRoots ?? [process.cwd()] };
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
