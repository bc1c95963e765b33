/** Starting a redis-server child process on loopback (for the tests and `pnpm bench:scale`; no vitest here). */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Spawns `bin args` and resolves once Redis accepts connections (rejects with its output if it exits first). */
export async function spawnRedis(bin: string, args: string[]): Promise<ChildProcess> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c;
      if (/Ready to accept connections/.test(out)) resolve();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('error', (e) => reject(new Error(`${bin} could not start (apt-get install -y redis-server): ${e.message}`)));
    proc.once('exit', (code) => reject(new Error(`redis-server exited with ${code}: ${out}`)));
  });
  return proc;
}

/** SIGTERM (SIGKILL after 5 s), resolved once it exited. */
export async function stopRedis(proc: ChildProcess | undefined): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
