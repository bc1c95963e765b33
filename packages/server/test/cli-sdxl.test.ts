/** The front door for an SDXL-layout export: `diffgraph run` samples the tiny SDXL fixture into PNGs. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bin } from './subprocess.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const workflow = path.join(repo, 'workflows', 'sdxl-layout-smoke.json');

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe('diffgraph run on an SDXL-layout export', () => {
  it('sdxl-layout-smoke.json loads the SDXL layout and writes its images, with custom size conditioning too', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-sdxl-'));
    const r = await cli(['run', workflow, '--models', path.join(repo, 'models'), '--out', dir,
      '--set', 'positive.original_height=24', '--set', 'positive.original_width=40', '--set', 'positive.crop_top=3'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('pipeline "fixtures/sdxl-tiny": SDXL layout, eps prediction on a discrete schedule (EulerDiscreteScheduler), latent [3, 5, 7]');
    expect(readdirSync(dir).filter((f) => f.endsWith('.png'))).toHaveLength(2);
  });

  it('a half-set size names the node and the inputs', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-sdxl-'));
    const r = await cli(['run', workflow, '--models', path.join(repo, 'models'), '--out', dir, '--set', 'positive.target_width=20'], dir);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(/TextEncode: set both target_height and target_width, or neither/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.png'))).toHaveLength(0);
  });
});
