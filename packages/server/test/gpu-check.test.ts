/**
 * scripts/gpu-check.sh on a machine without a GPU: it reports that CUDA is unavailable (or uses it
 * where installed), runs the pack's txt2img twice, compares latents and images, does the same for the
 * SDXL-layout fixture, and skips that run with a reason when no SDXL-layout model is there. Its
 * comparison fails on outputs that differ.
 */
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { cudaProviderInstalled, encodeNpy } from '@diffgraph/nodes';
import { repoRoot } from './helpers.ts';

function run(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: repoRoot }, (error, stdout, stderr) => resolve({ code: error ? Number(error.code) : 0, stdout, stderr }));
  });
}

describe('scripts/gpu-check.sh', () => {
  // Each test runs the script, which runs the CLI several times: seconds alone, half a minute and more on a loaded machine.
  it('compares the pack\'s txt2img and the SDXL-layout fixture on both devices (CPU with CPU here, saying why)', async () => {
    const r = await run(path.join(repoRoot, 'scripts', 'gpu-check.sh'), ['--steps', '2', '--batch', '1']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    if (!cudaProviderInstalled()) expect(r.stdout).toContain('gpu-check: cuda unavailable (onnxruntime: the CUDA execution provider was requested but is not installed');
    expect(r.stdout).toMatch(/^pack-txt2img: shapes-32 \(2 steps, batch 1\), (cuda|cpu) vs cpu$/m);
    expect(r.stdout).toMatch(/^ {2}ok {3}latent_sample\.npy: max \|.+\| = \S+ \(tolerance 0\.05\)$/m);
    expect(r.stdout).toMatch(/^ {2}ok {3}txt2img_00001\.png: max \|.+\| = \S+ \(tolerance 0\.05\)$/m);
    expect(r.stdout).toMatch(/^ {2}time sample: \S+ \d+ ms, \S+ \d+ ms$/m);
    expect(r.stdout).toMatch(/^sdxl-layout: fixtures\/sdxl-tiny \(2 steps, batch 1\), (cuda|cpu) vs cpu$/m);
    expect(r.stdout).toMatch(/^ {2}ok {3}sdxl-layout-smoke_00001\.png: max \|.+\| = \S+ \(tolerance 0\.05\)$/m);
    expect(r.stdout).toMatch(/gpu-check: all comparisons within tolerance\n$/);
  }, 120_000);

  it('skips the SDXL-layout run, saying why, when the models folder has no SDXL-layout pipeline', async () => {
    const models = mkdtempSync(path.join(tmpdir(), 'diffgraph-gpu-models-'));
    cpSync(path.join(repoRoot, 'models', 'shapes-32'), path.join(models, 'shapes-32'), { recursive: true });
    const r = await run(path.join(repoRoot, 'scripts', 'gpu-check.sh'), ['--models', models, '--steps', '2', '--batch', '1', '--cpu-only']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sdxl-layout: skipped \(no SDXL-layout pipeline under /m);
    expect(r.stdout).toMatch(/gpu-check: all comparisons within tolerance\n$/);
  }, 120_000);

  it('its comparison fails when two runs\' latents differ by more than the tolerance', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'diffgraph-gpu-compare-'));
    for (const [side, value] of [['a', 0.5], ['b', 0.75]] as const) {
      mkdirSync(path.join(base, side));
      writeFileSync(path.join(base, side, 'latent_sample.npy'), encodeNpy(new Tensor([1, 2], new Float32Array([0.25, value]))));
      writeFileSync(path.join(base, side, 'events.jsonl'), '');
    }
    const tsx = path.join(repoRoot, 'node_modules', '.bin', 'tsx');
    const compare = (tolerance: string) => run(tsx, ['--conditions=@diffgraph/source', 'scripts/gpu-compare.ts', 'compare', path.join(base, 'a'), 'cuda', path.join(base, 'b'), 'cpu', tolerance, '0.01']);
    const within = await compare('0.3');
    expect(within.code, within.stderr).toBe(0);
    const over = await compare('0.1');
    expect(over).toMatchObject({ code: 1, stdout: '  FAIL latent_sample.npy: max |cuda − cpu| = 2.500e-1 (tolerance 0.1)\n' });
  }, 120_000);
});
