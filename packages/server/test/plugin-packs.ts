/** Node packs written as plain JavaScript into temporary folders, for the plugin tests. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** Writes `files` (relative path → content) into a fresh temporary folder and returns it. */
export function packFolder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-nodes-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), content);
  }
  return dir;
}

/**
 * A single-file pack of plain-JavaScript nodes with no import from diffgraph: `Multiply` (FLOAT × FLOAT,
 * an output node, no description or version) and `Doubled` (INT → INT, which can feed a built-in's steps).
 */
export const arithmeticPack = (name = 'arith', extra = '') => `
export default {
  name: '${name}',
  version: '2.1.0',
  nodes: [
    {
      type: 'Multiply', category: 'math', output: true,
      inputs: { a: { type: 'FLOAT', default: 1 }, b: { type: 'FLOAT', default: 1 } },
      outputs: { product: { type: 'FLOAT' } },
      run: ({ a, b }) => ({ product: a * b }),
    },
    {
      type: 'Doubled', category: 'math', description: 'n + n', version: 3,
      inputs: { n: { type: 'INT', min: 0 } },
      outputs: { n: { type: 'INT' } },
      run: ({ n }, ctx) => { ctx.log('doubling ' + n); return { n: n + n }; },
    },${extra}
  ],
};
`;
