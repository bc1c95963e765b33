/** The pnpm that runs this suite, for tests that call pnpm the way a reader of the README does. */
import { existsSync } from 'node:fs';
import path from 'node:path';

export function onPath(command: string): string | undefined {
  return (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, command)).find((file) => existsSync(file));
}

/**
 * The pnpm running this suite: its own executable when npm_execpath names it (a script or pnpm 12's
 * native binary), else the `pnpm` on PATH when the suite runs under pnpm (pnpm through npx is on no
 * PATH). Undefined when vitest was started directly.
 */
export function suitePnpm(): string | undefined {
  const execPath = process.env.npm_execpath ?? '';
  const underPnpm = /^pnpm\//.test(process.env.npm_config_user_agent ?? '');
  return /pnpm/.test(execPath) ? execPath : underPnpm ? onPath('pnpm') : undefined;
}

/** The command line that runs `pnpm <args>` with that pnpm (a JavaScript entry runs through this Node). */
export function pnpmCommand(pnpmPath: string, args: string[]): [string, string[]] {
  return /\.[cm]?js$/.test(pnpmPath) ? [process.execPath, [pnpmPath, ...args]] : [pnpmPath, args];
}
