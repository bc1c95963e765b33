import { describe, expect, it } from 'vitest';
import { EventBus, Executor, InvalidWorkflowError, NodeRegistry, type EngineEvent, type Workflow } from '../src/index.ts';
import { arithmeticRegistry, sampleWorkflow } from './fixtures.ts';

function setup(cacheBytes?: number) {
  const fx = arithmeticRegistry();
  const executor = new Executor(fx.registry, { cacheBytes });
  const events: EngineEvent[] = [];
  executor.events.subscribe((e) => events.push(e));
  return { ...fx, executor, events };
}

const valueOf = (result: Awaited<ReturnType<Executor['run']>>, id: string) => {
  const r = result.outputs[id];
  return r.status === 'succeeded' ? r.values : r;
};

describe('Executor', () => {
  it('computes the requested outputs', async () => {
    const { executor } = setup();
    const result = await executor.run(sampleWorkflow());
    expect(result.status).toBe('succeeded');
    expect(valueOf(result, 'show')).toEqual({ shown: '6' });
    expect(valueOf(result, 'show4')).toEqual({ shown: '4' });
  });

  it('plans only the ancestors of the requested outputs', async () => {
    const { executor } = setup();
    const result = await executor.run(sampleWorkflow(), { outputs: ['show4'] });
    expect(result.executed).toEqual(['four', 'show4']);
  });

  it('executes nothing on an identical re-run, even with renamed nodes and other ui', async () => {
    const { executor, total } = setup();
    await executor.run(sampleWorkflow());
    const before = total();
    expect(before).toBe(8);
    const again = await executor.run(sampleWorkflow());
    expect(total()).toBe(before);
    expect(again.executed).toEqual([]);
    expect(again.cached.length).toBe(8);

    const renamed = JSON.parse(JSON.stringify(sampleWorkflow()).replaceAll('"four"', '"FOUR"').replaceAll('"positions"', '"zoom"'));
    const third = await executor.run(renamed);
    expect(third.executed).toEqual([]);
    expect(valueOf(third, 'show4')).toEqual({ shown: '4' });
  });

  it('tells apart links to different outputs of one node: switching the output re-runs the reader', async () => {
    const { executor, runs } = setup();
    const workflow = (output: 'min' | 'max'): Workflow => ({
      format: 'diffgraph/workflow@1',
      nodes: {
        a: { type: 'Constant', inputs: { value: 1 } },
        b: { type: 'Constant', inputs: { value: 5 } },
        split: { type: 'MinMax', inputs: { a: { from: 'a', output: 'value' }, b: { from: 'b', output: 'value' } } },
        show: { type: 'Show', inputs: { value: { from: 'split', output } } },
      },
    });
    expect(valueOf(await executor.run(workflow('min')), 'show')).toEqual({ shown: '1' });
    const switched = await executor.run(workflow('max'));
    expect(valueOf(switched, 'show')).toEqual({ shown: '5' });
    // Only the reader runs again; MinMax's two values are still the cached ones.
    expect(switched.executed).toEqual(['show']);
    expect(runs.get('MinMax')).toBe(1);
    expect(valueOf(await executor.run(workflow('min')), 'show')).toEqual({ shown: '1' });
  });

  it('re-executes exactly the changed node and its descendants', async () => {
    const { executor } = setup();
    await executor.run(sampleWorkflow());
    const w = sampleWorkflow();
    w.nodes.two.inputs = { value: 20 };
    const result = await executor.run(w);
    expect(result.executed.sort()).toEqual(['ab', 'abc', 'show', 'two']);
    expect(valueOf(result, 'show')).toEqual({ shown: '24' });
  });

  it('evicts least recently used entries under a small byte budget', async () => {
    // Each Fill holds n float64 values (8n bytes); a 1000-byte budget fits one n=100 tensor.
    const { executor, runs } = setup(1000);
    const workflow = (n: number): Workflow => ({
      format: 'diffgraph/workflow@1',
      nodes: { fill: { type: 'Fill', inputs: { n, value: 1 } }, sum: { type: 'Sum', inputs: { tensor: { from: 'fill', output: 'tensor' } } } },
      outputs: ['sum'],
    });
    await executor.run(workflow(100));
    await executor.run(workflow(100));
    expect(runs.get('Fill')).toBe(1);
    await executor.run(workflow(90));
    expect(executor.cache.usedBytes).toBeLessThanOrEqual(1000);
    expect(executor.cache.evictions).toBeGreaterThan(0);
    await executor.run(workflow(100));
    expect(runs.get('Fill')).toBe(3);
    // An entry larger than the whole budget is not cached at all.
    await executor.run(workflow(200));
    await executor.run(workflow(200));
    expect(runs.get('Fill')).toBe(5);
  });

  it('never serves a nondeterministic node or its descendants from cache', async () => {
    const { executor, runs } = setup();
    const w: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: { noise: { type: 'Noise' }, show: { type: 'Show', inputs: { value: { from: 'noise', output: 'value' } } } },
    };
    const a = await executor.run(w);
    const b = await executor.run(w);
    expect(runs.get('Noise')).toBe(2);
    expect(runs.get('Show')).toBe(2);
    expect(valueOf(a, 'show')).not.toEqual(valueOf(b, 'show'));
  });

  it('runs a side-effecting node on every run, while its unchanged inputs stay cached', async () => {
    const fx = arithmeticRegistry();
    let writes = 0;
    fx.registry.register({
      type: 'Write', category: 'test', description: 'a sink with an effect', version: 1, output: true, sideEffects: true,
      inputs: { value: { type: 'FLOAT' } }, outputs: {},
      run: () => { writes++; return {}; },
    });
    const executor = new Executor(fx.registry);
    const w: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: { c: { type: 'Constant', inputs: { value: 2 } }, write: { type: 'Write', inputs: { value: { from: 'c', output: 'value' } } } },
    };
    await executor.run(w);
    const second = await executor.run(w);
    expect(writes).toBe(2);
    expect(second.executed).toEqual(['write']);
    expect(second.cached).toEqual(['c']);
  });

  it('isolates a failing branch and reports per output', async () => {
    const { executor, events } = setup();
    const w = sampleWorkflow();
    w.nodes.ab = { type: 'Fail', inputs: { value: { from: 'one', output: 'value' } } };
    w.nodes.abc.inputs!.a = { from: 'ab', output: 'value' };
    const result = await executor.run(w);
    expect(result.status).toBe('failed');
    expect(result.outputs.show).toEqual({ status: 'failed', error: { nodeId: 'ab', message: 'deliberate failure' } });
    expect(valueOf(result, 'show4')).toEqual({ shown: '4' });
    expect(result.executed).not.toContain('abc');
    const failed = events.filter((e) => e.type === 'node.failed').map((e) => e.nodeId);
    expect(failed).toEqual(['ab', 'abc', 'show']);
    expect(events.at(-1)!.type).toBe('run.failed');
  });

  it('cancels a long-running node within a step', async () => {
    const { executor, events } = setup();
    const controller = new AbortController();
    const w: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: { slow: { type: 'Slow', inputs: { steps: 100000 } }, show: { type: 'Show', inputs: { value: { from: 'slow', output: 'value' } } } },
    };
    executor.events.subscribe((e) => {
      if (e.type === 'node.progress' && e.value === 5) controller.abort();
    });
    const result = await executor.run(w, { signal: controller.signal });
    expect(result.status).toBe('cancelled');
    expect(result.outputs.show).toEqual({ status: 'cancelled' });
    const progress = events.filter((e) => e.type === 'node.progress');
    expect(progress.length).toBeLessThanOrEqual(6);
    expect(events.at(-1)!.type).toBe('run.cancelled');
    expect(result.executed).toEqual(['slow']);
  });

  it('cancels even when a node ignores its signal', async () => {
    const fx = arithmeticRegistry();
    fx.registry.register({
      type: 'Stubborn', category: 'test', description: 'ignores cancel', version: 1, inputs: {},
      outputs: { value: { type: 'FLOAT' } },
      run: () => new Promise((r) => setTimeout(() => r({ value: 1 }), 5000)),
    });
    const executor = new Executor(fx.registry);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const started = Date.now();
    const result = await executor.run({ format: 'diffgraph/workflow@1', nodes: { s: { type: 'Stubborn' } }, outputs: ['s'] }, { signal: controller.signal });
    expect(result.status).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('delivers events in order', async () => {
    const { executor, events } = setup();
    const w = sampleWorkflow();
    const first = await executor.run(w, { outputs: ['show4'], runId: 'r1' });
    expect(first.status).toBe('succeeded');
    expect(events.map((e) => [e.type, 'nodeId' in e ? e.nodeId : null])).toEqual([
      ['run.started', null],
      ['node.started', 'four'], ['node.finished', 'four'],
      ['node.started', 'show4'], ['node.finished', 'show4'],
      ['run.finished', null],
    ]);
    expect(events.every((e) => e.runId === 'r1')).toBe(true);
    events.length = 0;
    await executor.run(w, { outputs: ['show4'], runId: 'r2' });
    expect(events.map((e) => e.type)).toEqual(['run.started', 'node.cached', 'node.cached', 'run.finished']);
  });

  it('delivers events to whoever subscribes between emits, and to no one after unsubscribing', () => {
    const bus = new EventBus();
    bus.emit({ type: 'run.queued', runId: 'r0' });
    const seen: string[] = [];
    const stop = bus.subscribe((e) => seen.push(e.runId));
    bus.emit({ type: 'run.queued', runId: 'r1' });
    stop();
    bus.emit({ type: 'run.queued', runId: 'r2' });
    expect(seen).toEqual(['r1']);
  });

  it('delivers only the subscribed event types, and says whether previews are wanted', async () => {
    const fx = arithmeticRegistry();
    const seen: boolean[] = [];
    fx.registry.register({
      type: 'Peek', category: 'test', description: '', version: 1, output: true, sideEffects: true, inputs: {}, outputs: {},
      run: (_i, ctx) => { seen.push(ctx.previewing !== false); ctx.preview('img'); return {}; },
    });
    const executor = new Executor(fx.registry);
    const w: Workflow = { format: 'diffgraph/workflow@1', nodes: { p: { type: 'Peek' } } };
    const types: string[] = [];
    const unsubscribe = executor.events.subscribe((e) => types.push(e.type), ['node.started', 'node.finished']);
    await executor.run(w);
    expect(types).toEqual(['node.started', 'node.finished']);
    const previews: unknown[] = [];
    executor.events.subscribe((e) => previews.push(e), ['node.preview']);
    await executor.run(w);
    expect(seen).toEqual([false, true]);
    expect(previews).toHaveLength(1);
    unsubscribe();
  });

  it('hands each run its own copy of object literals and defaults: a node that mutates them changes neither the workflow nor the cache key', async () => {
    const registry = new NodeRegistry();
    let runs = 0;
    registry.register({
      type: 'Mutator', category: 'test', description: 'mutates its inputs', version: 1,
      inputs: { config: { type: 'JSON' }, options: { type: 'JSON', default: { depth: 1 } }, count: { type: 'INT', default: 2 }, label: { type: 'STRING' } },
      outputs: { seen: { type: 'JSON' } },
      output: true,
      run: (i) => {
        runs++;
        const seen = { config: structuredClone(i.config), options: structuredClone(i.options), count: i.count, label: i.label };
        i.config.touched = true;
        i.options.depth = 99;
        return { seen };
      },
    });
    const workflow: Workflow = { format: 'diffgraph/workflow@1', nodes: { m: { type: 'Mutator', inputs: { config: { a: [1, 2] }, label: 'x' } } } };
    const executor = new Executor(registry);
    const first = await executor.run(workflow);
    expect(valueOf(first, 'm')).toEqual({ seen: { config: { a: [1, 2] }, options: { depth: 1 }, count: 2, label: 'x' } });
    expect(workflow.nodes.m.inputs).toEqual({ config: { a: [1, 2] }, label: 'x' });
    expect((await executor.run(workflow)).cached).toEqual(['m']);
    const fresh = await new Executor(registry).run(workflow);
    expect(valueOf(fresh, 'm')).toEqual({ seen: { config: { a: [1, 2] }, options: { depth: 1 }, count: 2, label: 'x' } });
    expect(runs).toBe(2);
  });

  it('orders nodes deterministically, whatever the key order of the file', async () => {
    const { executor } = setup();
    const w = sampleWorkflow();
    const reversed: Workflow = { ...w, nodes: Object.fromEntries(Object.entries(w.nodes).reverse()) };
    const a = await executor.run(w);
    const b = await setup().executor.run(reversed);
    expect(b.executed).toEqual(a.executed);
  });

  it('refuses an invalid workflow before running anything', async () => {
    const { executor, total, events } = setup();
    const w = sampleWorkflow();
    w.nodes.one.inputs = { value: 'one' };
    await expect(executor.run(w)).rejects.toBeInstanceOf(InvalidWorkflowError);
    expect(total()).toBe(0);
    expect(events).toEqual([]);
  });

  it('fails a node that does not return its declared outputs', async () => {
    const fx = arithmeticRegistry();
    fx.registry.register({
      type: 'Forgetful', category: 'test', description: '', version: 1, inputs: {},
      outputs: { value: { type: 'FLOAT' } }, output: true,
      run: () => ({}),
    });
    const result = await new Executor(fx.registry).run({ format: 'diffgraph/workflow@1', nodes: { f: { type: 'Forgetful' } } });
    expect(result.outputs.f).toEqual({ status: 'failed', error: { nodeId: 'f', message: 'Forgetful returned no value for its output "value"' } });
  });
});
