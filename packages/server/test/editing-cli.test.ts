/**
 * The editing workflows through `diffgraph run` in a child process, as the docs tell a user to run
 * them: the saved PNG keeps the method's promise (the kept pixels are the input's, bit for bit after
 * the 8-bit PNG round trip). The other checks run in process: packages/nodes/test/editing-pack.test.ts.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodePng } from '@diffgraph/nodes';
import { repoRoot } from './helpers.ts';
import { cli } from './subprocess.ts';

const workflows = path.join(repoRoot, 'workflows');
const input = (name: string) => decodePng(readFileSync(path.join(workflows, 'data/editing', name))).image;

describe('editing workflows through diffgraph run', () => {
  it('cyclic-one-way-shapes.json writes an image whose kept region is the canvas exactly', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-editing-'));
    const run = await cli(['run', path.join(workflows, 'cyclic-one-way-shapes.json'), '--out', out, '--models', path.join(repoRoot, 'models')], workflows);
    expect(run.code, run.stderr).toBe(0);
    const [file] = readdirSync(out).filter((f) => f.startsWith('cyclic-one-way') && f.endsWith('.png'));
    const image = decodePng(readFileSync(path.join(out, file))).image;
    const canvas = input('cow-canvas.png');
    const generate = input('cow-mask.png').data;
    let kept = 0, changed = 0;
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++) {
        const differs = image.data[c * 1024 + p] !== canvas.data[c * 1024 + p];
        if (generate[p] === 0) { kept++; expect(differs, `kept pixel ${p} channel ${c}`).toBe(false); } else if (differs) changed++;
      }
    }
    expect(kept).toBeGreaterThan(0);
    expect(changed).toBeGreaterThan(100); // the blue square was generated over
  }, 60_000);
});
