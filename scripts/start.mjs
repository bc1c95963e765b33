#!/usr/bin/env node
/**
 * `pnpm start`: serve the editor with the default model pack. Brings the packages' JavaScript up to
 * date (`tsc -b`, incremental), builds the editor bundle when packages/editor/dist is missing (vite,
 * `pnpm --filter @diffgraph/editor build`), then runs `diffgraph serve --models models`. Extra
 * arguments go to `diffgraph serve` (`pnpm start --port 8190`).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'packages', 'editor', 'dist', 'index.html');

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const compiled = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (compiled.status !== 0) {
  console.error('pnpm start: the packages did not build (run `pnpm install` first?)');
  process.exit(compiled.status ?? 1);
}

if (!existsSync(dist)) {
  console.log('pnpm start: packages/editor/dist is missing; building the editor (vite) …');
  // Through the vite binary of the editor package, so no particular pnpm needs to be on PATH.
  const vite = join(root, 'packages', 'editor', 'node_modules', 'vite', 'bin', 'vite.js');
  const build = existsSync(vite)
    ? spawnSync(process.execPath, [vite, 'build'], { cwd: join(root, 'packages', 'editor'), stdio: 'inherit' })
    : spawnSync('pnpm', ['--filter', '@diffgraph/editor', 'build'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' });
  if (build.status !== 0) {
    console.error('pnpm start: the editor build failed (run `pnpm install` first?)');
    process.exit(build.status ?? 1);
  }
}

const args = process.argv.slice(2).filter((a) => a !== '--');
const server = spawn(process.execPath, [join(root, 'packages', 'server', 'bin', 'diffgraph.js'), 'serve', '--models', join(root, 'models'), ...args], { cwd: root, stdio: 'inherit' });
// Ctrl-C reaches the server directly (same process group), so SIGINT is only kept from killing this
// wrapper; a SIGTERM sent to the wrapper alone is passed on. Either way the server shuts down cleanly.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => server.kill('SIGTERM'));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
