/** `diffgraph run` on the DPM-Solver-v3 example workflow: statistics estimated once, then loaded from the model folder. */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decodeNpy } from '@diffgraph/nodes';

const bin = fileURLToPath(new URL('../bin/diffgraph.js', import.meta.url));
const workflow = fileURLToPath(new URL('../../../workflows/dpm-solver-v3-gmm.json', import.meta.url));

function cli(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd, env: { ...process.env, FORCE_COLOR: '0' } }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

type Event = { type: string; nodeId?: string; message?: string; value?: number; max?: number };
const eventsOf = (stdout: string): Event[] => stdout.trim().split('\n').map((line) => JSON.parse(line) as Event);
const logsOf = (events: Event[]) => events.filter((e) => e.type === 'node.log' && e.nodeId === 'statistics').map((e) => e.message ?? '');

describe('diffgraph run workflows/dpm-solver-v3-gmm.json', () => {
  it('estimates the statistics with progress, saves them in --models, and the next run loads them', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-cli-v3-'));
    const args = (out: string) => ['run', workflow, '--json', '--models', 'models', '--out', out, '--set', 'statistics.cache=true', '--set', 'statistics.samples=32', '--set', 'statistics.steps=40'];
    const first = await cli(args('out1'), dir);
    expect(first.code, first.stderr).toBe(0);
    const events = eventsOf(first.stdout);
    const progress = events.filter((e) => e.type === 'node.progress' && e.nodeId === 'statistics');
    expect(progress.at(-1)).toMatchObject({ value: 41, max: 41 });
    expect(logsOf(events).some((m) => m.startsWith('estimated statistics: 41 model calls'))).toBe(true);
    expect(logsOf(events).some((m) => m.includes(path.join('models', 'statistics')))).toBe(true);

    const second = await cli(args('out2'), dir);
    expect(second.code, second.stderr).toBe(0);
    const logs = logsOf(eventsOf(second.stdout));
    expect(logs.some((m) => m.startsWith('loaded statistics from'))).toBe(true);
    expect(logs.some((m) => m.startsWith('estimated'))).toBe(false);

    const [a, b] = ['out1', 'out2'].map((o) => decodeNpy(readFileSync(path.join(dir, o, 'samples-v3.npy'))));
    expect(a.shape).toEqual([256, 2]);
    expect(Array.from(b.data)).toEqual(Array.from(a.data));
  });
});
