/**
 * --device and --session-options on `diffgraph run` and `serve`, from a child process: the pack's
 * txt2img runs on the CPU, CUDA without its provider is refused at start-up (exit 2, naming how to
 * install it), and bad values are usage errors.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cudaProviderInstalled } from '@diffgraph/nodes';
import { ConfigError } from '../src/server.ts';
import { api, repoRoot, submit, tempServer, waitForStatus } from './helpers.ts';
import { cli, serve, stop } from './subprocess.ts';

const txt2img = path.join(repoRoot, 'workflows', 'txt2img.json');
const models = path.join(repoRoot, 'models');
const quick = ['--set', 'schedule.steps=2', '--set', 'latent.batch=1'];
const cuda = cudaProviderInstalled();

describe('diffgraph run --device', () => {
  it('cpu runs the pack end to end with per-model session options, and says where it ran', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-device-'));
    const options = JSON.stringify({ default: { intraOpThreads: 1, memoryArena: false }, models: { 'shapes-32/unet': { graphOptimizationLevel: 'basic' } } });
    const r = await cli(['run', txt2img, '--models', models, '--out', out, '--device', 'cpu', '--session-options', options, '--json', ...quick], repoRoot);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('onnxruntime: running on CPU (execution provider \\"cpu\\" requested)');
    expect(existsSync(path.join(out, 'txt2img_00001.png'))).toBe(true);
  });

  it(cuda ? 'cuda uses the installed CUDA provider' : 'cuda without the CUDA provider is refused before anything runs (exit 2)', async () => {
    const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-device-'));
    const r = await cli(['run', txt2img, '--models', models, '--out', out, '--device', 'cuda', ...quick], repoRoot);
    if (cuda) {
      expect(r.code, r.stderr).toBe(0);
      return;
    }
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('diffgraph: onnxruntime: the CUDA execution provider was requested but is not installed (install it with ONNXRUNTIME_NODE_INSTALL=cuda12 and the onnxruntime-node install script)\n');
    expect(existsSync(path.join(out, 'txt2img_00001.png'))).toBe(false);
  });

  it('an unknown device, bad session options, or local options with --server are usage errors (exit 2)', async () => {
    const gpu = await cli(['run', txt2img, '--device', 'gpu'], repoRoot);
    expect(gpu.code).toBe(2);
    expect(gpu.stderr).toContain("option '--device <device>' argument 'gpu' is invalid. Allowed choices are auto, cpu, cuda.");
    const fp16 = await cli(['run', txt2img, '--session-options', '{"default": {"fp16": true}}'], repoRoot);
    expect(fp16.code).toBe(2);
    expect(fp16.stderr).toContain('unknown session option "fp16"');
    const notJson = await cli(['run', txt2img, '--session-options', '{threads: 2}'], repoRoot);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain('--session-options is not valid JSON');
    const missing = await cli(['run', txt2img, '--session-options', '@no-such-file.json'], repoRoot);
    expect(missing).toMatchObject({ code: 2, stderr: 'diffgraph: --session-options: cannot read no-such-file.json (ENOENT)\n' });
    const remote = await cli(['run', txt2img, '--device', 'cpu', '--server', 'http://127.0.0.1:9'], repoRoot);
    expect(remote).toMatchObject({ code: 2, stderr: expect.stringContaining('--device applies to local runs only') });
  });

  it('serve --device cpu says where models run when it starts', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-device-serve-'));
    const { child, url } = await serve(['--data', data, '--models', models, '--device', 'cpu']);
    try {
      expect((await api(url, '/api/health')).body.executionProvider).toMatchObject({ active: 'cpu', configured: 'cpu' });
    } finally {
      await stop(child);
    }
  });

  it('serve --device gpu is a usage error; serve --device cuda without the provider refuses to start', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-device-serve-'));
    expect((await cli(['serve', '--port', '0', '--data', data, '--device', 'gpu'], repoRoot)).code).toBe(2);
    if (cuda) return;
    const r = await cli(['serve', '--port', '0', '--data', data, '--device', 'cuda'], repoRoot);
    expect(r).toMatchObject({ code: 2, stderr: expect.stringContaining('the CUDA execution provider was requested but is not installed') });
  });
});

describe('the server\'s device', () => {
  let server: Awaited<ReturnType<typeof tempServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('--device cpu is what /api/health reports and what the runs use', async () => {
    server = await tempServer({ executionProvider: 'cpu', modelsDir: models });
    const health = (await api(server.url, '/api/health')).body;
    expect(health.executionProvider).toEqual({ active: 'cpu', configured: 'cpu', cudaInstalled: cuda });
    const workflow = JSON.parse(readFileSync(txt2img, 'utf8'));
    Object.assign(workflow.nodes.schedule.inputs, { steps: 2 });
    Object.assign(workflow.nodes.latent.inputs, { batch: 1 });
    const runId = await submit(server.url, workflow);
    expect((await waitForStatus(server.url, runId, ['succeeded', 'failed'], 60_000)).status).toBe('succeeded');
    const logs = (await api(server.url, `/api/runs/${runId}/events`)).body.events.filter((e: any) => e.type === 'node.log').map((e: any) => e.message);
    expect(logs).toContain('onnxruntime: running on CPU (execution provider "cpu" requested)');
  });

  it.skipIf(cuda)('cuda without the provider is a ConfigError at start-up', async () => {
    await expect(tempServer({ executionProvider: 'cuda', modelsDir: models })).rejects.toThrow(ConfigError);
  });
});
