/**
 * A private redis-server per test file, on a free loopback port, stopped when the file ends. Where
 * redis-server is missing the tests that need it are skipped, except under CI, where it is required.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { freeLoopbackPort, spawnRedis, stopRedis } from './redis-process.ts';

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

/** Starts redis-server on 127.0.0.1; with `persistent`, writes an append-only file so a restart keeps the data. */
export async function startRedis(options: { persistent?: boolean } = {}): Promise<TestRedis> {
  if (!REDIS_SERVER) throw new Error(redisSkipReason as string);
  const port = await freeLoopbackPort();
  const dir = options.persistent ? mkdtempSync(path.join(os.tmpdir(), 'diffgraph-redis-')) : null;
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...(dir ? ['--appendonly', 'yes', '--dir', dir] : ['--appendonly', 'no'])];
  let child: ChildProcess | undefined;
  const redis: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      child = await spawnRedis(REDIS_SERVER, args);
    },
    async stop() {
      const proc = child;
      child = undefined;
      await stopRedis(proc);
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
