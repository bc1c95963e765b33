/** A private redis-server on a free loopback port for a benchmark (no persistence), stopped by `stop()`. */
import { freeLoopbackPort, spawnRedis, stopRedis } from '../packages/server/test/redis-process.ts';

export async function startRedisServer(): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freeLoopbackPort();
  const child = await spawnRedis('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  return { url: `redis://127.0.0.1:${port}`, stop: () => stopRedis(child) };
}
