/** Host services for tests whose nodes touch no files: empty roots refuse every path, outputs go to a fresh temp folder. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HostServices } from '../src/index.ts';

export function isolatedServices(): HostServices {
  return { outputDir: mkdtempSync(path.join(tmpdir(), 'diffgraph-test-out-')), inputRoots: [], modelRoots: [], workflow: null };
}
