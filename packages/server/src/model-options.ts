/** The model options `diffgraph run` and `serve` share: --device, --session-options, and the catalog's table. */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import type { CatalogEntry, SessionOptionsConfig } from '@diffgraph/nodes';

export const deviceOption = () =>
  new Option('--device <device>', 'where models run: auto (CUDA when its provider is installed, else CPU), cpu, or cuda (refuse if not installed)')
    .choices(['auto', 'cpu', 'cuda'])
    .default('auto');

export const sessionOptionsOption = () =>
  new Option('--session-options <json|@file>', 'onnxruntime options: {"default": {...}, "models": {"<model name>": {...}}} (docs/gpu.md)');

/**
 * `--session-options` as JSON text, or `@file` holding it; throws a message fit for a usage error.
 * Async because the node library (onnxruntime) is loaded only by the commands that use it.
 */
export async function readSessionOptions(text: string | undefined): Promise<SessionOptionsConfig | undefined> {
  if (text === undefined) return undefined;
  let source = text;
  if (text.startsWith('@')) {
    try {
      source = readFileSync(text.slice(1), 'utf8');
    } catch (e) {
      throw new Error(`--session-options: cannot read ${text.slice(1)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (e) {
    throw new Error(`--session-options is not valid JSON (${(e as Error).message})`);
  }
  const { parseSessionOptions } = await import('@diffgraph/nodes');
  try {
    return parseSessionOptions(value);
  } catch (e) {
    throw new Error(`--session-options: ${(e as Error).message}`);
  }
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** The catalog as an aligned table, problems listed under their model. */
export function formatCatalog(entries: readonly CatalogEntry[], root: string): string {
  if (entries.length === 0) return `no models found in ${root}\n`;
  const rows = [['NAME', 'KIND', 'LAYOUT', 'PREDICTION', 'LATENT', 'NATIVE', 'PRECISION', 'SIZE']];
  for (const e of entries) {
    rows.push([
      e.name, e.kind, e.layout, e.predictionType ?? '-', e.latentChannels === null ? '-' : String(e.latentChannels),
      e.nativeSize ? `${e.nativeSize[1]}x${e.nativeSize[0]}` : '-', e.precision ?? '-', bytes(e.sizeBytes),
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const lines = rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd());
  for (const e of entries) for (const problem of e.problems) lines.push(`  ${e.name}: ${problem}`);
  return `${lines.join('\n')}\n`;
}
