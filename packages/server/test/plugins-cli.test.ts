/**
 * Node packs through the front doors: `diffgraph nodes|validate|run --nodes` and DIFFGRAPH_NODES in a
 * subprocess, and `diffgraph serve --nodes` with `<data>/nodes` over the HTTP API.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, smallWorkflow, waitForStatus } from './helpers.ts';
import { arithmeticPack, packFolder } from './plugin-packs.ts';
import { cli, serve, stop } from './subprocess.ts';

/** The solver lab with its steps from the plugin's Doubled (2 → 4) and a Multiply output beside it. */
function pluginWorkflow(): unknown {
  const w = smallWorkflow(42, 99);
  w.nodes.twice = { type: 'Doubled', inputs: { n: 2 } };
  w.nodes.schedule.inputs.steps = { from: 'twice', output: 'n' };
  w.nodes.product = { type: 'Multiply', inputs: { a: { from: 'twice', output: 'n' }, b: 2.5 } };
  w.outputs = ['save', 'product'];
  return w;
}

function workDir(): { dir: string; workflow: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-plugin-cli-'));
  const workflow = path.join(dir, 'plugin.json');
  writeFileSync(workflow, JSON.stringify(pluginWorkflow()));
  return { dir, workflow };
}

describe('diffgraph nodes|validate|run with node packs', () => {
  it('nodes lists each node with its pack, and --json lists the packs', async () => {
    const nodes = packFolder({ 'arith.mjs': arithmeticPack() });
    const text = await cli(['nodes', '--nodes', nodes], nodes);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Multiply  [math] (arith) (output)\n');
    expect(text.stdout).toContain('Sample  [sampling] (diffgraph-core)\n');
    const json = await cli(['nodes', '--json', '--nodes', nodes], nodes);
    const library = JSON.parse(json.stdout);
    expect(library.nodes.find((n: { type: string }) => n.type === 'Doubled')).toMatchObject({ pack: 'arith', version: 3, description: 'n + n' });
    expect(library.packs.find((p: { name: string }) => p.name === 'arith')).toEqual({ name: 'arith', version: '2.1.0', nodes: ['Doubled', 'Multiply'] });
    expect(library.packErrors).toEqual([]);
    expect(library.schema.definitions['Multiply.inputs']).toBeDefined();
  });

  it('nodes reports a broken pack on stderr with its reason, lists the rest and exits 1', async () => {
    const nodes = packFolder({ 'arith.mjs': arithmeticPack(), 'broken.mjs': 'export default { name: "broken", nodes: [ };' });
    const r = await cli(['nodes', '--nodes', nodes], nodes);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`diffgraph: node pack ${path.join(nodes, 'broken.mjs')} skipped: syntax error: Unexpected token '}'\n`);
    expect(r.stdout).toContain('Multiply  [math] (arith)');
  });

  it('run --nodes runs a workflow whose plugin node feeds a built-in one', async () => {
    const { dir, workflow } = workDir();
    const nodes = packFolder({ 'arith.mjs': arithmeticPack() });
    const r = await cli(['run', workflow, '--nodes', nodes, '--out', path.join(dir, 'out')], dir);
    expect(r.stderr).not.toContain('skipped');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('succeeded\n');
    expect(r.stdout).toContain('✓ product: product = 10');
    // The schedule really took its steps from the plugin: 4 steps, 5 sigmas.
    const events = await cli(['run', workflow, '--nodes', nodes, '--json', '--out', path.join(dir, 'out')], dir);
    const lines = events.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.find((e) => e.type === 'node.log' && e.nodeId === 'twice')?.message).toBe('doubling 2');
    expect(lines.filter((e) => e.type === 'node.progress' && e.nodeId === 'sample').at(-1)).toMatchObject({ value: 4, max: 4 });
  });

  it('without the pack the workflow is invalid; DIFFGRAPH_NODES supplies it to validate and run', async () => {
    const { dir, workflow } = workDir();
    const nodes = packFolder({ 'arith.mjs': arithmeticPack() });
    const without = await cli(['validate', workflow], dir, { DIFFGRAPH_NODES: '' });
    expect(without.code).toBe(1);
    expect(without.stdout).toMatch(/UNKNOWN_NODE_TYPE|unknown node type/i);
    const valid = await cli(['validate', workflow], dir, { DIFFGRAPH_NODES: ['/nonexistent-a', nodes].join(path.delimiter) });
    expect(valid.stdout).toContain('valid (outputs: save, product)');
    expect(valid.stderr).toBe('diffgraph: node pack /nonexistent-a skipped: cannot read it (ENOENT)\n');
    const run = await cli(['run', workflow, '--out', path.join(dir, 'out')], dir, { DIFFGRAPH_NODES: nodes });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('✓ product: product = 10');
  });

  it('run --server refuses --nodes: the server loads its own packs', async () => {
    const { dir, workflow } = workDir();
    const r = await cli(['run', workflow, '--server', 'http://127.0.0.1:9', '--nodes', dir], dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--nodes applies to local runs only');
  });
});

describe('diffgraph serve with node packs', () => {
  it('loads --nodes, DIFFGRAPH_NODES and <data>/nodes, shows each node\'s pack, reports a broken pack, and runs plugin nodes', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-plugin-serve-'));
    mkdirSync(path.join(data, 'nodes', 'greet'), { recursive: true });
    writeFileSync(path.join(data, 'nodes', 'greet', 'package.json'), JSON.stringify({ name: 'greet-pack', version: '1.0.0', type: 'module', main: 'index.js' }));
    writeFileSync(path.join(data, 'nodes', 'greet', 'index.js'), `export default { nodes: [{ type: 'Greet', category: 'text', output: true, inputs: { who: { type: 'STRING', default: 'world' } }, outputs: { text: { type: 'STRING' } }, run: ({ who }) => ({ text: 'hello ' + who }) }] };`);
    writeFileSync(path.join(data, 'nodes', 'throws.mjs'), `throw new Error('cannot start: ${data}/nodes/secret missing or ${data}/models/m.onnx');`);
    const flagged = packFolder({ 'arith.mjs': arithmeticPack() });
    const fromEnv = packFolder({ 'negate.mjs': `export default { name: 'negate', nodes: [{ type: 'Negate', category: 'math', inputs: { x: { type: 'FLOAT' } }, outputs: { x: { type: 'FLOAT' } }, run: ({ x }) => ({ x: -x }) }] };` });
    const { child, url, stderr } = await serve(['--data', data, '--models', path.join(data, 'models'), '--nodes', flagged], { DIFFGRAPH_NODES: fromEnv });
    try {
      expect(stderr()).toContain(`loaded node pack "arith" 2.1.0 (${path.join(flagged, 'arith.mjs')}): Doubled, Multiply\n`);
      expect(stderr()).toContain(`node pack ${path.join(data, 'nodes', 'throws.mjs')} skipped: importing it threw: cannot start: ${data}/nodes/secret missing or ${data}/models/m.onnx\n`);
      const library = (await api(url, '/api/nodes')).body;
      const packOf = Object.fromEntries(library.nodes.map((n: { type: string; pack: string }) => [n.type, n.pack]));
      expect(packOf).toMatchObject({ Multiply: 'arith', Negate: 'negate', Greet: 'greet-pack', Sample: 'diffgraph-core' });
      expect(library.packs).toEqual([
        expect.objectContaining({ name: 'diffgraph-core' }),
        { name: 'arith', version: '2.1.0', source: 'arith.mjs', nodes: ['Doubled', 'Multiply'] },
        { name: 'negate', source: 'negate.mjs', nodes: ['Negate'] },
        { name: 'greet-pack', version: '1.0.0', source: 'greet', nodes: ['Greet'] },
      ]);
      // The failure names the file but not the server's folders.
      expect(library.packErrors).toEqual([{ source: 'throws.mjs', error: 'importing it threw: cannot start: secret missing or m.onnx' }]);

      const workflow = pluginWorkflow() as any;
      workflow.nodes.greet = { type: 'Greet', inputs: { who: 'plugins' } };
      workflow.nodes.negated = { type: 'Negate', inputs: { x: { from: 'product', output: 'product' } } };
      workflow.outputs = ['save', 'product', 'greet', 'negated'];
      const submitted = await api(url, '/api/runs', { json: { workflow } });
      expect(submitted.status).toBe(202);
      const run = await waitForStatus(url, submitted.body.runId, ['succeeded', 'failed']);
      expect(run.status).toBe('succeeded');
      expect(run.results.product.values).toEqual({ product: 10 });
      expect(run.results.greet.values).toEqual({ text: 'hello plugins' });
      expect(run.results.negated.values).toEqual({ x: -10 });
    } finally {
      await stop(child);
    }
  });
});
