/** Loading node packs from folders: what loads, what is reported and skipped, collisions, defaults. */
import { describe, expect, it } from 'vitest';
import { Executor, nodeSignature } from '@diffgraph/engine';
import { buildRegistry, formatPackFailure, nodeDirsFromEnv } from '../src/plugins.ts';
import { arithmeticPack, packFolder } from './plugin-packs.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.ts';

const packageJson = (fields: Record<string, unknown>) => JSON.stringify({ type: 'module', ...fields });

describe('buildRegistry', () => {
  it('loads a single .mjs pack, a package folder and a .js file from one folder, with the built-in nodes', async () => {
    const dir = packFolder({
      'arith.mjs': arithmeticPack(),
      'pkg/package.json': packageJson({ name: 'pkg-pack', version: '0.3.0', exports: { '.': { import: './lib/main.js' } } }),
      'pkg/lib/main.js': `export default { nodes: [{ type: 'Negate', category: 'math', inputs: { x: { type: 'FLOAT' } }, outputs: { x: { type: 'FLOAT' } }, run: ({ x }) => ({ x: -x }) }] };`,
      'plain.js': `export default { name: 'plain', nodes: [{ type: 'Hello', category: 'text', inputs: {}, outputs: { text: { type: 'STRING' } }, run: () => ({ text: 'hi' }) }] };`,
      'README.md': 'not a pack',
      'types.d.ts': 'export {};',
    });
    const { registry, plugins } = await buildRegistry([dir]);
    expect(plugins.failed).toEqual([]);
    expect(plugins.loaded).toEqual([
      { name: 'arith', version: '2.1.0', path: path.join(dir, 'arith.mjs'), nodes: ['Doubled', 'Multiply'] },
      // Name and version from package.json when the default export leaves them out.
      { name: 'pkg-pack', version: '0.3.0', path: path.join(dir, 'pkg'), nodes: ['Negate'] },
      { name: 'plain', path: path.join(dir, 'plain.js'), nodes: ['Hello'] },
    ]);
    expect(registry.pack('Negate')).toBe('pkg-pack');
    expect(registry.pack('Sample')).toBe('diffgraph-core');
    expect(registry.packs().map((p) => p.name)).toEqual(['diffgraph-core', 'arith', 'pkg-pack', 'plain']);
  });

  it('takes a package folder or a pack file given directly, and the package entry from module or main', async () => {
    const viaModule = packFolder({ 'package.json': packageJson({ name: 'm', module: './m.js', main: './missing.js' }), 'm.js': `export default { nodes: [] };` });
    const viaMain = packFolder({ 'package.json': packageJson({ name: 'n', main: 'n.mjs' }), 'n.mjs': `export default { nodes: [] };` });
    const file = path.join(packFolder({ 'one.mjs': arithmeticPack('one') }), 'one.mjs');
    const { plugins } = await buildRegistry([viaModule, viaMain, file]);
    expect(plugins.failed).toEqual([]);
    expect(plugins.loaded.map((p) => p.name)).toEqual(['m', 'n', 'one']);
  });

  it('reports each broken pack with its reason and still loads the others', async () => {
    const dir = packFolder({
      'a-good.mjs': arithmeticPack('good'),
      'b-syntax.mjs': 'export default { name: "broken", nodes: [ };',
      'c-throws.mjs': 'throw new Error("no GPU here");\nexport default { name: "throws", nodes: [] };',
      'd-no-default.mjs': 'export const nodes = [];',
      'e-not-object.mjs': 'export default [1, 2];',
      'f-no-nodes.mjs': 'export default { name: "empty" };',
      'g-bad-node.mjs': `export default { name: 'badnode', nodes: [{ type: 'Fine', category: 'x', inputs: {}, outputs: {}, run() { return {}; } }, { type: 'Broken', category: 'x', inputs: { a: 'FLOAT' }, outputs: {}, run() { return {}; } }] };`,
      'h-no-run.mjs': `export default { name: 'norun', nodes: [{ type: 'NoRun', category: 'x', inputs: {}, outputs: {} }] };`,
      'i-unbuilt.ts': 'export default {};',
      'j-missing-entry/package.json': packageJson({ name: 'unbuilt', exports: './dist/index.js' }),
      'k-bad-json/package.json': '{ nope',
      'l-empty-folder/notes.txt': '',
      'm-bad-version.mjs': 'export default { name: "v", version: 2, nodes: [] };',
    });
    const { registry, plugins } = await buildRegistry([dir]);
    expect(plugins.loaded.map((p) => p.name)).toEqual(['good']);
    const reasons = Object.fromEntries(plugins.failed.map((f) => [path.basename(f.path), `${f.pack ?? '-'}: ${f.error}`]));
    expect(reasons).toEqual({
      // Node says "syntax error: Unexpected token" (the CLI tests see that); vitest's own module loader words it differently.
      'b-syntax.mjs': expect.stringMatching(/^-: (syntax error: Unexpected token|importing it threw: .*invalid JS syntax)/),
      'c-throws.mjs': '-: importing it threw: no GPU here',
      'd-no-default.mjs': '-: it has no default export: export default { name, version?, nodes: [...] }',
      'e-not-object.mjs': '-: its default export must be { name, version?, nodes: [...] }, not an array',
      'f-no-nodes.mjs': 'empty: nodes must be an array of node definitions, got undefined',
      'g-bad-node.mjs': 'badnode: Node definition "Broken": input "a" needs a type (a string such as "FLOAT" or "IMAGE")',
      'h-no-run.mjs': 'norun: Node definition "NoRun": run must be a function',
      'i-unbuilt.ts': '-: TypeScript is not loaded as is: build the pack to JavaScript (docs/custom-nodes.md)',
      'j-missing-entry': 'unbuilt: its package.json names the entry "./dist/index.js", which does not exist (is the pack built?)',
      'k-bad-json': expect.stringMatching(/^-: its package.json is not valid JSON \(/),
      'l-empty-folder': '-: a folder without package.json or index.js/index.mjs is not a node pack',
      'm-bad-version.mjs': 'v: version must be a string such as "1.0.0", got number 2',
    });
    // All of a pack or none of it: the valid node beside the invalid one is not registered either.
    expect(registry.has('Fine')).toBe(false);
    expect(registry.has('Multiply')).toBe(true);
    expect(formatPackFailure(plugins.failed.find((f) => f.pack === 'norun')!)).toBe(`node pack "norun" (${path.join(dir, 'h-no-run.mjs')}) skipped: Node definition "NoRun": run must be a function`);
  });

  it('refuses a node type that a built-in or an earlier pack has, naming both packs', async () => {
    const first = packFolder({ 'first.mjs': arithmeticPack('first') });
    const second = packFolder({ 'second.mjs': arithmeticPack('second') });
    const builtIn = packFolder({ 'sampler.mjs': `export default { name: 'my-sampler', nodes: [{ type: 'Sample', category: 'x', inputs: {}, outputs: {}, run() { return {}; } }] };` });
    const { registry, plugins } = await buildRegistry([first, second, builtIn]);
    expect(plugins.loaded.map((p) => p.name)).toEqual(['first']);
    expect(plugins.failed).toEqual([
      { path: path.join(second, 'second.mjs'), pack: 'second', error: `Node type "Multiply" from pack "second" is already registered by pack "first" (${path.join(first, 'first.mjs')})` },
      { path: path.join(builtIn, 'sampler.mjs'), pack: 'my-sampler', error: 'Node type "Sample" from pack "my-sampler" is already registered by pack "diffgraph-core" (built in)' },
    ]);
    expect(registry.pack('Multiply')).toBe('first');
  });

  it('reads a folder given twice once, and reports one that does not exist or a file that is not a module', async () => {
    const dir = packFolder({ 'arith.mjs': arithmeticPack(), 'notes.txt': '' });
    const { plugins } = await buildRegistry([dir, `${dir}/`, path.join(dir, 'nope'), path.join(dir, 'notes.txt')]);
    expect(plugins.loaded.map((p) => p.name)).toEqual(['arith']);
    expect(plugins.failed).toEqual([
      { path: path.join(dir, 'nope'), error: 'cannot read it (ENOENT)' },
      { path: path.join(dir, 'notes.txt'), error: 'not a folder of node packs, a package folder or a .js/.mjs file' },
    ]);
  });

  it('runs plain-JavaScript nodes, with description and version filled in and the version in the cache signature', async () => {
    const { registry } = await buildRegistry([packFolder({ 'arith.mjs': arithmeticPack() })]);
    const multiply = registry.get('Multiply')!;
    expect(multiply.description).toBe('');
    expect(multiply.version).toBe(1);
    expect(registry.get('Doubled')!.version).toBe(3);
    const node = { type: 'Multiply', inputs: { a: 3, b: 4 } };
    const signature = nodeSignature(multiply, node, () => '');
    expect(nodeSignature({ ...multiply, version: 2 }, node, () => '')).not.toBe(signature);
    const result = await new Executor(registry).run(
      { format: 'diffgraph/workflow@1', nodes: { d: { type: 'Doubled', inputs: { n: 5 } }, m: { type: 'Multiply', inputs: { a: { from: 'd', output: 'n' }, b: 1.5 } } } },
      { outputs: ['m'], services: { outputDir: packFolder({}), inputRoots: [], modelRoots: [], workflow: null } },
    );
    expect(result.outputs.m).toEqual({ status: 'succeeded', values: { product: 15 } });
  });
});

describe('docs/custom-nodes.md', () => {
  it('its plain-JavaScript pack loads and runs as the page says', async () => {
    const page = readFileSync(path.join(repoRoot, 'docs', 'custom-nodes.md'), 'utf8');
    const pack = [...page.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!).find((code) => code.includes("name: 'text-tools'"));
    expect(pack).toBeDefined();
    const { registry, plugins } = await buildRegistry([packFolder({ 'text-tools.mjs': pack! })]);
    expect(plugins.failed).toEqual([]);
    expect(registry.pack('Repeat')).toBe('text-tools');
    const result = await new Executor(registry).run(
      { format: 'diffgraph/workflow@1', nodes: { r: { type: 'Repeat', inputs: { times: 3 } } } },
      { outputs: ['r'], services: { outputDir: packFolder({}), inputRoots: [], modelRoots: [], workflow: null } },
    );
    expect(result.outputs.r).toEqual({ status: 'succeeded', values: { text: 'ababab' } });
  });
});

describe('nodeDirsFromEnv', () => {
  it('splits DIFFGRAPH_NODES like PATH and drops empty entries', () => {
    expect(nodeDirsFromEnv(['a', '', 'b c', ' '].join(path.delimiter))).toEqual(['a', 'b c']);
    expect(nodeDirsFromEnv(undefined)).toEqual([]);
  });
});
