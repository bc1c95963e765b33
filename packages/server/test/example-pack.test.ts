/**
 * examples/node-pack as a plugin author ships it: built with its own `tsc` to dist/, then passed as a
 * folder to `diffgraph run --nodes` and `diffgraph serve --nodes`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '@diffgraph/nodes';
import { api, repoRoot, smallWorkflow, waitForStatus } from './helpers.ts';
import { cli, serve, stop } from './subprocess.ts';

const packDir = path.join(repoRoot, 'examples', 'node-pack');
const tsc = createRequire(path.join(packDir, 'package.json')).resolve('typescript/bin/tsc');

beforeAll(async () => {
  // The pack's build script (`tsc -p .`), run the way `pnpm --dir examples/node-pack build` runs it.
  await promisify(execFile)(process.execPath, [tsc, '-p', packDir]);
}, 120_000);

describe('examples/node-pack', () => {
  it('builds to JavaScript that imports nothing from diffgraph', () => {
    const built = readdirSync(path.join(packDir, 'dist')).filter((f) => f.endsWith('.js')).sort();
    expect(built).toEqual(['image-invert.js', 'index.js', 'latent-scale.js']);
    for (const file of built) expect(readFileSync(path.join(packDir, 'dist', file), 'utf8')).not.toContain('@diffgraph');
  });

  it('diffgraph run --nodes examples/node-pack runs its workflow: the saved image is the negative of the input', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-example-pack-'));
    const r = await cli(['run', 'examples/node-pack/workflow.json', '--nodes', 'examples/node-pack', '--out', out], repoRoot);
    expect(r.stderr).not.toContain('skipped');
    expect(r.code).toBe(0);
    const input = decodeImage(readFileSync(path.join(repoRoot, 'workflows', 'data', 'red-circle.png'))).image;
    const saved = decodeImage(readFileSync(path.join(out, 'inverted_00001.png'))).image;
    expect(saved.shape).toEqual(input.shape);
    let worst = 0;
    for (let i = 0; i < input.data.length; i++) worst = Math.max(worst, Math.abs(saved.data[i]! - (1 - input.data[i]!)));
    expect(worst).toBeLessThan(1e-6);
  });

  it('diffgraph serve --nodes examples/node-pack lists the pack and runs LatentScale from POST /api/runs', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-example-serve-'));
    const { child, url } = await serve(['--data', data, '--models', path.join(data, 'models'), '--nodes', packDir]);
    try {
      const library = (await api(url, '/api/nodes')).body;
      expect(library.packs).toContainEqual({ name: 'diffgraph-example-nodes', version: '0.1.0', source: 'node-pack', nodes: ['ImageInvert', 'LatentScale'] });
      expect(library.nodes.find((n: { type: string }) => n.type === 'LatentScale')).toMatchObject({ pack: 'diffgraph-example-nodes', category: 'example/latent' });
      const workflow = smallWorkflow(7, 4);
      workflow.nodes.scaled = { type: 'LatentScale', inputs: { latent: { from: 'latent', output: 'latent' }, factor: 0 } };
      workflow.nodes.sample.inputs.latent = { from: 'scaled', output: 'latent' };
      const submitted = await api(url, '/api/runs', { json: { workflow } });
      expect(submitted.status).toBe(202);
      const run = await waitForStatus(url, submitted.body.runId, ['succeeded', 'failed']);
      expect(run.status).toBe('succeeded');
      expect(run.nodes.scaled.state).toBe('finished');
    } finally {
      await stop(child);
    }
  });
});
