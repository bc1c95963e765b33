#!/usr/bin/env node
// The CLI as built by `tsc -b` (dist/); in the repository, `pnpm build` makes it.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('diffgraph: the CLI is not built (packages/server/dist/cli.js is missing); run `pnpm build` in the repository first\n');
  process.exit(2);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
