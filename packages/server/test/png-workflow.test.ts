/**
 * The images `diffgraph run` and the server write carry the workflow that made them (and a summary of
 * its parameters), so dropping one on the editor gives the graph back: through the CLI in a subprocess,
 * and through POST /api/runs.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { validateWorkflow } from '@diffgraph/engine';
import { createRegistry, readPngText } from '@diffgraph/nodes';
import { repoRoot, submit, tempServer, waitForStatus } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/diffgraph.js', import.meta.url));
const txt2img = JSON.parse(readFileSync(path.join(repoRoot, 'workflows', 'txt2img.json'), 'utf8'));

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/** The one PNG in `dir`, its embedded workflow (checked to validate) and parameters. */
function embedded(dir: string): { workflow: unknown; parameters: Record<string, unknown> } {
  const pngs = readdirSync(dir).filter((f) => f.endsWith('.png'));
  expect(pngs).toHaveLength(1);
  const text = readPngText(readFileSync(path.join(dir, pngs[0])));
  expect(Object.keys(text).sort()).toEqual(['parameters', 'workflow']);
  const workflow = JSON.parse(text.workflow);
  const validation = validateWorkflow(workflow, createRegistry());
  expect(validation.ok ? [] : validation.errors).toEqual([]);
  return { workflow, parameters: JSON.parse(text.parameters) };
}

describe('saved PNGs carry their workflow', () => {
  it('diffgraph run workflows/txt2img.json: the PNG embeds the workflow with the --set overrides applied, and its parameters', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-png-cli-'));
    const r = await cli(['run', 'workflows/txt2img.json', '--out', out, '--set', 'schedule.steps=2', '--set', 'latent.batch=1', '--set', 'positive.text=a small blue square'], repoRoot);
    expect(r.stderr).not.toContain('unexpected error');
    expect(r.code).toBe(0);
    const expected = structuredClone(txt2img);
    expected.nodes.schedule.inputs.steps = 2;
    expected.nodes.latent.inputs.batch = 1;
    expected.nodes.positive.inputs.text = 'a small blue square';
    const { workflow, parameters } = embedded(out);
    expect(workflow).toEqual(expected);
    expect(parameters).toMatchObject({ seed: 7, steps: 2, cfg: 4, solver: 'dpmsolver++', order: 2, prompt: ['', 'a small blue square'], model: 'shapes-32' });
  }, 120_000);

  it('a run through POST /api/runs: the PNG embeds the workflow as submitted', async () => {
    const server = await tempServer({ modelsDir: path.join(repoRoot, 'models') });
    try {
      const submitted = structuredClone(txt2img);
      submitted.nodes.schedule.inputs.steps = 2;
      submitted.nodes.latent.inputs.batch = 1;
      submitted.nodes.noise.inputs.seed = 11;
      const runId = await submit(server.url, submitted);
      const run = await waitForStatus(server.url, runId, ['succeeded', 'failed'], 60_000);
      expect(run.status).toBe('succeeded');
      const { workflow, parameters } = embedded(path.join(server.dataDir, 'outputs', runId));
      expect(workflow).toEqual(submitted);
      expect(parameters).toMatchObject({ seed: 11, steps: 2 });
    } finally {
      await server.close();
    }
  }, 120_000);
});
