import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Executor, validateWorkflow } from '@diffgraph/engine';
import { createRegistry } from '@diffgraph/nodes';

const dir = fileURLToPath(new URL('../../../workflows/', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('every workflow in workflows/', () => {
  it('there are workflows to check', () => expect(files.length).toBeGreaterThan(0));

  it.each(files)('%s validates and runs', async (file) => {
    const workflow = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
    const registry = createRegistry();
    const validation = validateWorkflow(workflow, registry);
    expect(validation.ok ? [] : validation.errors).toEqual([]);
    const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-wf-'));
    const result = await new Executor(registry).run(workflow, { services: { outputDir: out, inputRoots: [dir], modelRoots: [path.join(dir, '..', 'models')], workflow } });
    expect(result.status).toBe('succeeded');
    for (const r of Object.values(result.outputs)) expect(r.status).toBe('succeeded');
  });
});
