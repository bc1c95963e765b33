/**
 * SearchSchedule's file cache through the front doors: `diffgraph run --cache <dir>` keeps a searched
 * grid for the next process, and the server keeps it in <data>/cache across a restart.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot, submit, tempServer, waitForStatus } from './helpers.ts';

const bin = fileURLToPath(new URL('../bin/diffgraph.js', import.meta.url));
const workflowFile = path.join(repoRoot, 'workflows', 'gmm-schedule-search.json');

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

/** The search node's output values from `run --json` events. */
function searchResult(stdout: string): { sigmas: { times: number[] }; report: { cache: { hit: boolean }; error: unknown } } {
  const events = stdout.trim().split('\n').map((line) => JSON.parse(line));
  const finished = events.find((e) => e.type === 'run.finished');
  return finished.outputs.search.values;
}

describe('SearchSchedule cache folder', () => {
  it('diffgraph run --cache: the second process reads the searched grid instead of searching again', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-search-cli-'));
    const args = ['run', workflowFile, '--out', path.join(dir, 'out'), '--json', '--outputs', 'search'];
    const first = await cli([...args, '--cache', 'cache'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(readdirSync(path.join(dir, 'cache', 'schedule-search'))).toHaveLength(1);
    const second = await cli([...args, '--cache', 'cache'], dir);
    expect(second.code, second.stderr).toBe(0);
    expect(searchResult(first.stdout).report.cache.hit).toBe(false);
    expect(searchResult(second.stdout).report.cache.hit).toBe(true);
    expect(searchResult(second.stdout).sigmas.times).toEqual(searchResult(first.stdout).sigmas.times);
    expect(searchResult(second.stdout).report.error).toEqual(searchResult(first.stdout).report.error);

    // Without --cache nothing is kept.
    const uncached = await cli(args, dir);
    expect(searchResult(uncached.stdout).report.cache.hit).toBe(false);
    expect(readdirSync(path.join(dir, 'cache', 'schedule-search'))).toHaveLength(1);

    const remote = await cli(['run', workflowFile, '--cache', 'cache', '--server', 'http://127.0.0.1:1'], dir);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain('--cache applies to local runs only');
  }, 60_000);

  it('diffgraph run --set search.search_orders=true: the grid carries per-step orders into Sample, kept by the cache; a solver without them is refused', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-search-orders-cli-'));
    const args = ['run', workflowFile, '--out', path.join(dir, 'out'), '--json', '--cache', 'cache', '--set', 'search.search_orders=true'];
    const first = await cli(args, dir);
    expect(first.code, first.stderr).toBe(0);
    const searched = searchResult(first.stdout) as unknown as { sigmas: { times: number[]; orders: number[] }; report: { orders: number[]; cache: { hit: boolean } } };
    expect(searched.sigmas.orders).toHaveLength(searched.sigmas.times.length - 1);
    expect(searched.report.orders).toEqual(searched.sigmas.orders);
    expect(existsSync(path.join(dir, 'out', 'samples-searched.npy'))).toBe(true);
    const second = await cli([...args, '--outputs', 'search'], dir);
    expect((searchResult(second.stdout) as unknown as typeof searched).sigmas.orders).toEqual(searched.sigmas.orders);
    expect(searchResult(second.stdout).report.cache.hit).toBe(true);

    const refused = await cli([...args, '--set', 'solver.kind="euler"'], dir);
    expect(refused.code).not.toBe(0);
    expect(refused.stdout + refused.stderr).toMatch(/SearchSchedule: input \\?"search_orders\\?" needs a solver that takes per-step orders/);
  }, 60_000);

  it('the server keeps searches in <data>/cache, across a restart', async () => {
    const workflow = JSON.parse(readFileSync(workflowFile, 'utf8'));
    const first = await tempServer();
    const dataDir = first.dataDir;
    try {
      const run = await waitForStatus(first.url, await submit(first.url, workflow), ['succeeded', 'failed'], 60_000);
      expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
      expect(run.results.search.values.report.cache.hit).toBe(false);
    } finally {
      await first.close();
    }
    expect(existsSync(path.join(dataDir, 'cache', 'schedule-search'))).toBe(true);
    const second = await tempServer({ dataDir });
    try {
      const run = await waitForStatus(second.url, await submit(second.url, workflow), ['succeeded', 'failed'], 60_000);
      expect(run.status, JSON.stringify(run.error)).toBe('succeeded');
      expect(run.results.search.values.report.cache.hit).toBe(true);
    } finally {
      await second.close();
    }
  }, 90_000);
});
