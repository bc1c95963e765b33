/**
 * A run's outputs end up exactly once, however often a crash (kill -9 of a real `diffgraph serve`)
 * interrupts it: the retry replaces what the killed attempt wrote, and the results point at the files.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { api, slowWorkflow, submit, waitFor } from './helpers.ts';
import { killHard, serve, stop } from './subprocess.ts';

const IMAGES = 16;

/**
 * Two branches: 16 PNGs of 512×512 (saving takes a while, so a kill can land in the middle of it), run
 * first (their ids sort first), then a slow sampler whose samples are saved last.
 */
function twoBranchWorkflow(): any {
  const w = slowWorkflow(20, 5);
  w.nodes.a1_latent = { type: 'EmptyLatent', inputs: { batch: IMAGES, shape: [4, 64, 64] } };
  w.nodes.a2_preview = { type: 'LatentPreview', inputs: { latent: { from: 'a1_latent', output: 'latent' }, scale: 8 } };
  w.nodes.a3_images = { type: 'SaveImage', inputs: { images: { from: 'a2_preview', output: 'image' }, filename_prefix: 'x', embed_metadata: false } };
  w.outputs = ['a3_images', 'save'];
  return w;
}

/** Every output file anywhere in the data folder (PNGs and .npy), relative to it; the inputs folder (the examples' images, copied in at start) holds none. */
function outputFiles(data: string): string[] {
  return readdirSync(data, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(png|npy)$/.test(f) && !f.startsWith(`inputs${path.sep}`)).sort();
}

const pngs = (data: string) => outputFiles(data).filter((f) => f.endsWith('.png'));

type Moment = { name: string; when: (data: string, url: string, runId: string) => Promise<boolean> };

const duringSaving: Moment = {
  name: 'while the PNGs are being written',
  when: async (data) => {
    const n = pngs(data).length;
    return n >= 1 && n < IMAGES - 2;
  },
};

const afterSaving: Moment = {
  name: 'after every PNG was written, while the other branch samples',
  when: async (data, url, runId) => {
    if (pngs(data).length < IMAGES) return false;
    const r = await api(url, `/api/runs/${runId}`);
    return r.body.status === 'running' && (r.body.nodes.sample.progress?.value ?? 0) >= 2;
  },
};

async function expectExactlyOneSet(data: string, url: string, runId: string, attempts: number): Promise<void> {
  const run = (await api(url, `/api/runs/${runId}`)).body;
  expect(run).toMatchObject({ status: 'succeeded', attempts });
  const expected = [
    ...Array.from({ length: IMAGES }, (_, i) => `${runId}/x_${String(i + 1).padStart(5, '0')}.png`),
    `${runId}/samples.npy`,
  ].sort();
  // Nothing else anywhere in the data folder: no second numbering, no leftovers of a killed attempt.
  expect(outputFiles(data)).toEqual(expected.map((f) => path.join('outputs', f)).sort());
  const refs = run.results.a3_images.values.paths as { file: string; url: string }[];
  expect(refs.map((r) => r.file)).toEqual(expected.filter((f) => f.endsWith('.png')));
  expect(run.results.save.values.path.file).toBe(`${runId}/samples.npy`);
  for (const ref of [refs[0], refs.at(-1)!, run.results.save.values.path]) {
    const res = await fetch(`${url}${ref.url}`);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(path.join(data, 'outputs', ref.file)))).toBe(true);
  }
}

describe('outputs exactly once across kill -9', () => {
  it.each([[duringSaving], [afterSaving]])('killed $name: the retry replaces the first attempt\'s files', async (moment) => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-once-'));
    const first = await serve(['--data', data]);
    const runId = await submit(first.url, twoBranchWorkflow());
    await waitFor(`the moment "${moment.name}"`, () => moment.when(data, first.url, runId), 60_000, 2);
    await killHard(first.child);

    const second = await serve(['--data', data]);
    try {
      await waitFor('the retry to succeed', async () => ((await api(second.url, `/api/runs/${runId}`)).body.status === 'succeeded' ? true : undefined), 60_000, 50);
      await expectExactlyOneSet(data, second.url, runId, 2);
    } finally {
      await stop(second.child);
    }
  }, 120_000);

  it('killed while saving twice in a row (--requeue 2): the third attempt\'s files are the only ones', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-once-'));
    let server = await serve(['--data', data, '--requeue', '2']);
    const runId = await submit(server.url, twoBranchWorkflow());
    for (let kill = 0; kill < 2; kill++) {
      // Files left by the killed attempt count as `before`: the next kill waits for the retry's own writes.
      const before = pngs(data).length;
      await waitFor('the PNGs to be written', () => {
        const n = pngs(data).length;
        return n > before && n <= Math.min(before + 6, IMAGES - 3);
      }, 60_000, 2);
      await killHard(server.child);
      server = await serve(['--data', data, '--requeue', '2']);
    }
    try {
      await waitFor('the third attempt to succeed', async () => ((await api(server.url, `/api/runs/${runId}`)).body.status === 'succeeded' ? true : undefined), 60_000, 50);
      await expectExactlyOneSet(data, server.url, runId, 3);
    } finally {
      await stop(server.child);
    }
  }, 180_000);

  it('a run given up after a crash (--requeue 0) keeps no files: nothing is left to name them', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-once-'));
    const first = await serve(['--data', data, '--requeue', '0']);
    const runId = await submit(first.url, twoBranchWorkflow());
    await waitFor(`the moment "${duringSaving.name}"`, () => duringSaving.when(data, first.url, runId), 60_000, 2);
    await killHard(first.child);
    const second = await serve(['--data', data, '--requeue', '0']);
    try {
      expect((await api(second.url, `/api/runs/${runId}`)).body).toMatchObject({ status: 'interrupted', results: null });
      expect(outputFiles(data)).toEqual([]);
    } finally {
      await stop(second.child);
    }
  }, 120_000);
});
