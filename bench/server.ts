/**
 * Server benchmark: N queued runs of a small workflow (the analytic Gaussian mixture, few steps) while M
 * WebSocket clients watch every event. Reports runs lost (must be 0), throughput, event latency
 * (server emit → client receipt, same machine clock) p50/p99 and the server's RSS before/after.
 *
 *   pnpm bench:server                 # 1000 runs, 50 clients; writes docs/benchmarks-server.md
 *   pnpm bench:server --runs 100 --clients 5 --no-write
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket } from '../packages/server/src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const RUNS = arg('runs', 1000);
const CLIENTS = arg('clients', 50);
const STEPS = arg('steps', 4);
const SUBMITTERS = arg('submitters', 4);
const write = !args.includes('--no-write');

const lab = JSON.parse(readFileSync(path.join(root, 'workflows', 'gmm-solver-lab.json'), 'utf8'));
function workflow(seed: number) {
  const w = structuredClone(lab);
  w.nodes.schedule.inputs.steps = STEPS;
  w.nodes.latent.inputs.batch = 16;
  w.nodes.noise.inputs.seed = seed;
  return w;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

async function main() {
  const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-bench-'));
  const child = spawn(process.execPath, [path.join(root, 'packages/server/bin/diffgraph.js'), 'serve', '--port', '0', '--data', data], { stdio: ['ignore', 'pipe', 'inherit'] });
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  const health = async () => (await (await fetch(`${base}/api/health`)).json()) as any;
  const before = await health();

  // Clients: each subscribes to every run and records latency of every JSON event.
  const latencies: number[] = [];
  let messages = 0;
  const finished = new Set<string>();
  let allDone!: () => void;
  const done = new Promise<void>((r) => (allDone = r));
  const accepted: string[] = [];
  let submittedAll = false;
  const clients: WebSocket[] = [];
  for (let c = 0; c < CLIENTS; c++) {
    const ws = new WebSocket(`${base.replace('http', 'ws')}/api/events?all=1`, 'diffgraph.v1');
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const now = Date.now();
      const msg = JSON.parse(data.toString());
      messages++;
      if (typeof msg.time === 'number' && /^(run|node)\./.test(msg.type)) latencies.push(now - msg.time);
      if (c === 0 && (msg.type === 'run.finished' || msg.type === 'run.failed' || msg.type === 'run.cancelled')) {
        finished.add(msg.runId);
        if (submittedAll && finished.size >= accepted.length) allDone();
      }
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    clients.push(ws);
  }
  await new Promise((r) => setTimeout(r, 200));

  // Peak RSS, sampled while the runs go.
  let peakRss = before.memory.rss;
  const sampler = setInterval(async () => {
    try {
      peakRss = Math.max(peakRss, (await health()).memory.rss);
    } catch {
      // ignore
    }
  }, 500);

  const t0 = performance.now();
  let next = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: SUBMITTERS }, async () => {
    while (next < RUNS) {
      const i = next++;
      const res = await fetch(`${base}/api/runs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ workflow: workflow(i), clientId: 'bench' }) });
      if (res.status === 202) accepted.push(((await res.json()) as { runId: string }).runId);
      else refused++;
    }
  }));
  const tSubmitted = performance.now();
  submittedAll = true;
  if (finished.size >= accepted.length) allDone();
  await done;
  const tDone = performance.now();
  clearInterval(sampler);
  await new Promise((r) => setTimeout(r, 300));
  const after = await health();

  // Lost = accepted but not succeeded, by the server's own records.
  const list = (await (await fetch(`${base}/api/runs?clientId=bench&status=succeeded&limit=1`)).json()) as { total: number };
  const lost = accepted.length - list.total;
  for (const ws of clients) ws.close();
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  rmSync(data, { recursive: true, force: true });

  latencies.sort((a, b) => a - b);
  const seconds = (tDone - t0) / 1000;
  const result = {
    runs: RUNS, clients: CLIENTS, steps: STEPS, accepted: accepted.length, refused, lost,
    submitSeconds: (tSubmitted - t0) / 1000, totalSeconds: seconds, throughput: accepted.length / seconds,
    messages, latencyP50: percentile(latencies, 50), latencyP99: percentile(latencies, 99), latencyMax: latencies.at(-1) ?? NaN,
    rssBefore: before.memory.rss, rssAfter: after.memory.rss, rssPeak: peakRss, cacheBytes: after.cache.usedBytes,
  };
  console.log(JSON.stringify(result, null, 2));
  if (write) {
    const md = `# Server benchmark

\`pnpm bench:server\` (bench/server.ts) starts \`diffgraph serve\` as a child process on loopback with a fresh
SQLite database, connects ${CLIENTS} WebSocket clients that each subscribe to **all** runs, then submits
${RUNS} runs of \`workflows/gmm-solver-lab.json\` (analytic Gaussian mixture, ${STEPS} steps, batch 16, a different
seed per run so the sampler really runs every time) over HTTP from ${SUBMITTERS} concurrent submitters. It waits
until every accepted run has finished, then counts the runs the server records as succeeded.

Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'CPU'}, Node ${process.versions.node}; the machine was shared with other work, so
times are indicative.

| measure | value |
|---|---|
| runs accepted / refused | ${result.accepted} / ${result.refused} |
| **runs lost** (accepted, not succeeded) | **${result.lost}** |
| time to submit all runs | ${result.submitSeconds.toFixed(2)} s |
| time until the last run finished | ${result.totalSeconds.toFixed(2)} s |
| throughput | ${result.throughput.toFixed(1)} runs/s |
| WebSocket messages received (all clients) | ${result.messages.toLocaleString('en-US')} |
| event latency p50 / p99 / max (emit → client) | ${result.latencyP50} ms / ${result.latencyP99} ms / ${result.latencyMax} ms |
| server RSS before / peak / after | ${mib(result.rssBefore)} / ${mib(result.rssPeak)} / ${mib(result.rssAfter)} |
| output cache in use after | ${mib(result.cacheBytes)} |

Every run is persisted (SQLite, WAL) before its 202 is sent; every run's node states, outputs and event
log are written as it runs. Progress events are sent live only (not logged). Latency includes the
clients' own JSON parsing: all ${CLIENTS} clients live in the benchmark process, on the same cores as the server.
`;
    writeFileSync(path.join(root, 'docs', 'benchmarks-server.md'), md);
    console.log('wrote docs/benchmarks-server.md');
  }
  if (lost > 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
