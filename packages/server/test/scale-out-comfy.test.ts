/**
 * A ComfyUI client against an API node in scale-out mode: POST /prompt, GET /history, GET /view work as on
 * one machine, the image is made by a worker, and its bytes equal those of the same prompt run embedded.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot, tempServer, waitFor } from './helpers.ts';
import { redisSkipReason, startRedis } from './redis.ts';
import { startWorkerProcess } from './scale-out-helpers.ts';
import { killHard, serve, stop } from './subprocess.ts';

const models = path.join(repoRoot, 'models');
const prompt = JSON.parse(readFileSync(path.join(repoRoot, 'packages/server/test/fixtures/comfy/txt2img-api.json'), 'utf8'));

/** Queues the prompt as ComfyUI's example script does, waits for its history entry and downloads its images. */
async function imagesOf(base: string): Promise<Buffer[]> {
  const queued = await fetch(`${base}/prompt`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: JSON.stringify({ prompt }) });
  expect(queued.status).toBe(200);
  const { prompt_id: promptId } = (await queued.json()) as { prompt_id: string };
  const entry = await waitFor('the prompt\'s history', async () => ((await (await fetch(`${base}/history/${promptId}`)).json()) as any)[promptId], 60_000, 100);
  expect(entry.status).toMatchObject({ status_str: 'success', completed: true });
  const images = entry.outputs['9'].images as { filename: string; subfolder: string; type: string }[];
  expect(images).toHaveLength(1);
  return Promise.all(images.map(async (image) => {
    const view = await fetch(`${base}/view?${new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type })}`);
    expect(view.status).toBe(200);
    return Buffer.from(await view.arrayBuffer());
  }));
}

describe.skipIf(redisSkipReason)(`ComfyUI API in scale-out mode${redisSkipReason ? ` (skipped: ${redisSkipReason})` : ''}`, () => {
  it('POST /prompt on the API node runs on a worker; /history and /view answer as on one machine, with the same image bytes', async () => {
    const redis = await startRedis();
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-scale-comfy-'));
    const node = await serve(['--data', data, '--models', models, '--queue', redis.url]);
    const worker = await startWorkerProcess(['--queue', redis.url, '--data', data, '--models', models], data);
    const embedded = await tempServer({ modelsDir: models });
    try {
      const [distributed] = await imagesOf(node.url);
      const [local] = await imagesOf(embedded.url);
      expect(distributed.subarray(1, 4).toString()).toBe('PNG');
      expect(distributed.equals(local)).toBe(true);
    } finally {
      await embedded.close();
      await Promise.all([stop(node.child), killHard(worker)]);
      await redis.stop();
    }
  }, 120_000);
});
