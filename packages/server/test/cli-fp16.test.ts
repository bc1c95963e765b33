/** The front door for a float16 export: `diffgraph run` samples the fp16 fixture pipeline into PNGs. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { bin } from './subprocess.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

describe('diffgraph run on an fp16 export', () => {
  it('txt2img.json with --models models/fixtures/sd-fp16 and pipeline fp16 (float16 IO, 0-d timestep, weights.pb) writes its images', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-fp16-'));
    const r = await cli(['run', path.join(repo, 'workflows', 'txt2img.json'), '--models', path.join(repo, 'models', 'fixtures', 'sd-fp16'),
      '--out', dir, '--set', 'pipeline.path="fp16"', '--set', 'positive.text="a red circle"', '--set', 'schedule.steps=4', '--set', 'latent.batch=2'], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('pipeline "fp16": eps prediction on a discrete schedule (DDIMScheduler), latent [3, 5, 7]');
    expect(r.stderr).toMatch(/✓ save \(SaveImage\)/);
    expect(readdirSync(dir).filter((f) => f.endsWith('.png'))).toHaveLength(2);
  });
});
