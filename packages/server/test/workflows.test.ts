import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Executor, validateWorkflow, type Tensor } from '@diffgraph/engine';
import { createRegistry } from '@diffgraph/nodes';
import { matchesObjects, readScenes } from '../../../bench/judge.ts';
import { modelStore } from '../../../bench/pack-common.ts';

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

/**
 * Workflows whose output has a known meaning get it checked, not only run: the pack's attribute
 * classifier reads every object of every image (bench/judge.ts).
 */
describe('classifier-guidance-shapes.json', () => {
  const store = modelStore(1);
  afterAll(() => store.close());
  const workflow = JSON.parse(readFileSync(path.join(dir, 'classifier-guidance-shapes.json'), 'utf8'));
  const { target, scale } = workflow.nodes.guider.inputs as { target: { colour: string; count: string }; scale: number };

  const imagesAt = async (s: number) => {
    const wf = structuredClone(workflow);
    wf.nodes.guider.inputs.scale = s;
    const services = { modelStore: store, outputDir: mkdtempSync(path.join(tmpdir(), 'diffgraph-wf-')), inputRoots: [dir], modelRoots: [path.join(dir, '..', 'models')], workflow: wf };
    const result = await new Executor(createRegistry()).run(wf, { outputs: ['decode'], services });
    const out = result.outputs.decode;
    if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
    return readScenes(store, out.values.image as Tensor);
  };

  it('guides the unconditional model to one object of the target colour in every image', async () => {
    expect(target).toEqual({ colour: 'blue', count: 'one' });
    const readings = await imagesAt(scale);
    expect(readings.length).toBeGreaterThanOrEqual(4);
    expect(readings.map((r) => matchesObjects(r, [{ colour: target.colour }]))).toEqual(readings.map(() => true));
  });

  it('the same seeds without guidance (scale 0) do not give that', async () => {
    const readings = await imagesAt(0);
    expect(readings.filter((r) => matchesObjects(r, [{ colour: target.colour }])).length).toBeLessThan(readings.length / 2);
  });
});
