/**
 * The folder layering of packages/nodes/src: the order is the `@layers` line of src/index.ts, and no
 * file may import from a folder later in that order. Imports are read with TypeScript's own scanner
 * (static, type-only and dynamic imports, and re-exports all count).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../src/', import.meta.url));

/** folder → the folders its files import (a file directly in src/ is the pack's entry, not a layer). */
function folderImports(root: string): Map<string, Map<string, string[]>> {
  const edges = new Map<string, Map<string, string[]>>();
  const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const from = folderOf(file);
    if (from === null) continue;
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(root, file), 'utf8'), true, true);
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const to = folderOf(path.relative(root, path.resolve(root, path.dirname(file), fileName)));
      if (to === null || to === from) continue;
      const byTarget = edges.get(from) ?? new Map<string, string[]>();
      byTarget.set(to, [...(byTarget.get(to) ?? []), file]);
      edges.set(from, byTarget);
    }
  }
  return edges;
}

function folderOf(relative: string): string | null {
  const parts = relative.split(/[\\/]/);
  return parts.length > 1 ? parts[0]! : null;
}

/** Every import that goes up (or into a folder the order does not list), and every cycle of folders. */
function layerProblems(edges: Map<string, Map<string, string[]>>, order: readonly string[]): string[] {
  const rank = new Map(order.map((f, i) => [f, i]));
  const problems: string[] = [];
  for (const folder of new Set([...edges.keys(), ...[...edges.values()].flatMap((m) => [...m.keys()])])) {
    if (!rank.has(folder)) problems.push(`folder "${folder}" is not in the @layers order`);
  }
  for (const [from, targets] of edges) {
    for (const [to, files] of targets) {
      if ((rank.get(to) ?? Infinity) > (rank.get(from) ?? -Infinity)) problems.push(`${from} imports ${to}, which is above it (${files.join(', ')})`);
    }
  }
  for (const cycle of cycles(edges)) problems.push(`import cycle: ${cycle.join(' → ')} → ${cycle[0]}`);
  return problems;
}

/** Strongly connected components of more than one folder (Tarjan). */
function cycles(edges: Map<string, Map<string, string[]>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    for (const w of edges.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.reverse());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) visit(v);
  return found;
}

function declaredOrder(): string[] {
  const line = /@layers ([a-z ]+)/.exec(readFileSync(path.join(src, 'index.ts'), 'utf8'));
  if (!line) throw new Error('src/index.ts has no @layers line');
  return line[1]!.trim().split(/\s+/);
}

describe('packages/nodes/src layering', () => {
  it('lists every folder once', () => {
    const order = declaredOrder();
    const folders = readdirSync(src, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    expect([...order].sort()).toEqual(folders.sort());
    expect(new Set(order).size).toBe(order.length);
  });

  it('no folder imports a folder above it, and no folders import each other in a cycle', () => {
    expect(layerProblems(folderImports(src), declaredOrder())).toEqual([]);
  });

  it('the check finds an upward import, an unlisted folder and a cycle', () => {
    const edges = new Map([
      ['contracts', new Map([['sampling', ['contracts/a.ts']]])],
      ['sampling', new Map([['contracts', ['sampling/b.ts']], ['extra', ['sampling/c.ts']]])],
    ]);
    expect(layerProblems(edges, ['contracts', 'sampling'])).toEqual([
      'folder "extra" is not in the @layers order',
      'contracts imports sampling, which is above it (contracts/a.ts)',
      'sampling imports extra, which is above it (sampling/c.ts)',
      'import cycle: contracts → sampling → contracts',
    ]);
  });
});
