/**
 * A private redis-server per test file, on a free loopback port, stopped when the file ends. Where
 * redis-server is missing the tests that need it are skipped, except under CI, where it is required.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

function findRedisServer(): string | null {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

export const REDIS_SERVER = findRedisServer();
if (!REDIS_SERVER && process.env.CI) throw new Error('redis-server is missing (apt-get install -y redis-server); the scale-out tests need it under CI');
/** Why Redis tests are skipped here, or false when they run. */
export const redisSkipReason: string | false = REDIS_SERVER ? false : 'redis-server is not installed (apt-get install -y redis-server)';

export interface TestRedis {
  url: string;
  port: number;
  /** The folder of its append-only file when `persistent`, else null. */
  dir: string | null;
  /** Stops it (SIGTERM, then SIGKILL); `start` again on the same port and folder when persistent. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

const started = new Set<TestRedis>();
afterAll(async () => {
  for (const redis of started) await redis.stop();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts redis-server on 127.0.0.1; with `persistent`, writes an append-only file so a restart keeps the data. */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<TestRedis> {
  if (!REDIS_SERVER) throw new Error(redisSkipReason as string);
  const port = await freePort();
  const dir = options.persistent ? mkdtempSync(path.join(os.tmpdir(), 'diffgraph-redis-')) : null;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...(dir ? ['--appendonly', 'yes', '--dir', dir] : ['--appendonly', 'no'])];
  let child: ChildProcess | undefined;
  const redis: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      const proc = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      child = proc;
      await new Promise<void>((resolve, reject) => {
        let out = '';
        const onData = (c: Buffer) => {
          out += c;
          if (/Ready to accept connections/.test(out)) resolve();
        };
        proc.stdout!.on('data', onData);
        proc.stderr!.on('data', onData);
        proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
      });
    },
    async stop() {
      const proc = child;
      child = undefined;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  started.add(redis);
  await redis.start();
  return redis;
}

/** Removes a persistent Redis's folder (after `stop`). */
export function removeRedisDir(redis: TestRedis): void {
  if (redis.dir) rmSync(redis.dir, { recursive: true, force: true });
}
