/**
 * Every bundled workflow goes through the server's front door: accepted by POST /api/runs (the guard
 * included) and, with its input files uploaded through POST /api/uploads, run to success.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isLink } from '@diffgraph/engine';
import { api, repoRoot, submit, tempServer, waitForStatus } from './helpers.ts';
import type { RunningServer } from '../src/server.ts';

const workflowsDir = path.join(repoRoot, 'workflows');
const files = readdirSync(workflowsDir).filter((f) => f.endsWith('.json'));

let server: RunningServer & { dataDir: string };
let pathInputs: Map<string, Record<string, string>>;

beforeAll(async () => {
  server = await tempServer({ modelsDir: path.join(repoRoot, 'models') });
  const library = (await api(server.url, '/api/nodes')).body.nodes as { type: string; inputs: Record<string, { path?: string }> }[];
  pathInputs = new Map(library.map((def) => [def.type, Object.fromEntries(Object.entries(def.inputs).flatMap(([name, spec]) => (spec.path ? [[name, spec.path]] : [])))]));
});
afterAll(() => server.close());

/** Uploads every input file the workflow names (relative to workflows/) and points it at the upload. */
async function withUploadedInputs(workflow: any): Promise<any> {
  for (const node of Object.values<any>(workflow.nodes)) {
    for (const [input, value] of Object.entries(node.inputs ?? {})) {
      if (isLink(value) || typeof value !== 'string' || value === '' || pathInputs.get(node.type)?.[input] !== 'inputs') continue;
      const upload = await api(server.url, '/api/uploads', { method: 'POST', body: readFileSync(path.join(workflowsDir, value)) });
      expect(upload.status, JSON.stringify(upload.body)).toBeLessThan(300);
      node.inputs[input] = upload.body.name;
    }
  }
  return workflow;
}

describe('every workflow in workflows/ through the server', () => {
  it('there are workflows to check', () => expect(files.length).toBeGreaterThan(0));

  it.each(files)('%s is accepted as it is, and runs to success with its inputs uploaded', async (file) => {
    const asIs = JSON.parse(readFileSync(path.join(workflowsDir, file), 'utf8'));
    const accepted = await api(server.url, '/api/runs', { json: { workflow: asIs } });
    expect(accepted.body.errors ?? []).toEqual([]);
    expect(accepted.status).toBe(202);
    const runId = await submit(server.url, await withUploadedInputs(structuredClone(asIs)));
    const run = await waitForStatus(server.url, runId, ['succeeded', 'failed', 'cancelled'], 60_000);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    for (const result of Object.values<any>(run.results)) {
      expect(result.status).toBe('succeeded');
      for (const value of Object.values<any>(result.values)) {
        for (const ref of [value].flat()) {
          if (ref && typeof ref === 'object' && 'url' in ref) expect((await fetch(`${server.url}${ref.url}`)).status).toBe(200);
        }
      }
    }
  }, 90_000);
});
