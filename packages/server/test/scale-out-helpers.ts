/** Shared by the scale-out tests: a `diffgraph worker` child process and what a run's history must show. */
import type { ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { api, type WsClient } from './helpers.ts';
import { spawnCli } from './subprocess.ts';

export const isTerminal = (runId: string) => (m: any) => m.runId === runId && ['run.finished', 'run.failed', 'run.cancelled'].includes(m.type);
/** A run's event types as a WebSocket client sees them (live progress included, state snapshots not). */
export const eventTypes = (client: WsClient, runId: string) => client.of(runId).filter((m) => /^(run|node)\./.test(m.type) && m.type !== 'run.state').map((m) => m.type);

/** Starts `diffgraph worker` and resolves once it takes jobs. */
export function startWorkerProcess(args: string[], cwd: string): Promise<ChildProcess> {
  const child = spawnCli(['worker', ...args], cwd);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout!.on('data', (c) => {
      out += c;
      if (/worker ready/.test(out)) resolve(child);
    });
    child.stderr!.on('data', (c) => (err += c));
    child.once('exit', (code) => reject(new Error(`worker exited with ${code}: ${err}`)));
  });
}

/**
 * A run another worker took over: succeeded on its second attempt, started twice, one set of files
 * (the first attempt's staged files dropped), downloadable through the API node.
 */
export async function expectSucceededOnceOnSecondAttempt(url: string, dataDir: string, runId: string): Promise<{ run: any; log: string[] }> {
  const run = (await api(url, `/api/runs/${runId}`)).body;
  expect(run).toMatchObject({ status: 'succeeded', attempts: 2 });
  const log = (await api(url, `/api/runs/${runId}/events`)).body.events.map((e: any) => e.type as string);
  expect(log.filter((t: string) => t === 'run.started')).toHaveLength(2);
  expect(readdirSync(path.join(dataDir, 'outputs', runId))).toHaveLength(1);
  expect((await fetch(`${url}${run.results.save.values.path.url}`)).status).toBe(200);
  return { run, log };
}

