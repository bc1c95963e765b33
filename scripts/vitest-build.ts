/**
 * Vitest global setup: builds the packages (`tsc -b`, incremental) before any test runs, so the CLI
 * that tests start as a child process (packages/server/bin → dist/) is the code under test, even when
 * vitest is started on its own after an edit.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
}
