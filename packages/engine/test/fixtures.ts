/** A small arithmetic node pack for engine tests, counting how often each node type runs. */
import { NodeRegistry, Tensor, type NodeDefinition, type Workflow } from '../src/index.ts';

export function arithmeticRegistry() {
  const runs = new Map<string, number>();
  const count = (type: string) => runs.set(type, (runs.get(type) ?? 0) + 1);
  const defs: NodeDefinition[] = [
    {
      type: 'Constant', category: 'test', description: 'A number', version: 1,
      inputs: { value: { type: 'FLOAT', default: 0, min: -100, max: 100 } },
      outputs: { value: { type: 'FLOAT' } },
      run: ({ value }) => { count('Constant'); return { value }; },
    },
    {
      type: 'Add', category: 'test', description: 'a + b', version: 1,
      inputs: { a: { type: 'FLOAT' }, b: { type: 'FLOAT', default: 0 } },
      outputs: { sum: { type: 'FLOAT' } },
      run: ({ a, b }) => { count('Add'); return { sum: a + b }; },
    },
    {
      type: 'Steps', category: 'test', description: 'An integer with a mode', version: 1,
      inputs: {
        steps: { type: 'INT', default: 10, min: 1, max: 1000 },
        mode: { type: 'STRING', enum: ['fast', 'exact'], default: 'fast' },
        label: { type: 'STRING', optional: true },
        flag: { type: 'BOOLEAN', default: false },
        list: { type: 'JSON', optional: true, schema: { type: 'array', items: { type: 'number' } } },
      },
      outputs: { steps: { type: 'INT' } },
      run: ({ steps }) => { count('Steps'); return { steps }; },
    },
    {
      type: 'MinMax', category: 'test', description: 'Two outputs of the same type: min(a, b) and max(a, b)', version: 1,
      inputs: { a: { type: 'FLOAT' }, b: { type: 'FLOAT' } },
      outputs: { min: { type: 'FLOAT' }, max: { type: 'FLOAT' } },
      run: ({ a, b }) => { count('MinMax'); return { min: Math.min(a, b), max: Math.max(a, b) }; },
    },
    {
      type: 'Fill', category: 'test', description: 'A tensor of n copies of a value', version: 1,
      inputs: { n: { type: 'INT', default: 4, min: 1 }, value: { type: 'FLOAT', default: 1 } },
      outputs: { tensor: { type: 'TENSOR' } },
      run: ({ n, value }) => { count('Fill'); return { tensor: Tensor.from([n], new Array(n).fill(value), 'float64') }; },
    },
    {
      type: 'Sum', category: 'test', description: 'Sum of a tensor', version: 1,
      inputs: { tensor: { type: 'TENSOR' } },
      outputs: { value: { type: 'FLOAT' } },
      run: ({ tensor }) => { count('Sum'); return { value: Array.from((tensor as Tensor).data).reduce((a, b) => a + b, 0) }; },
    },
    {
      type: 'Noise', category: 'test', description: 'Unseeded randomness', version: 1, nondeterministic: true,
      inputs: {}, outputs: { value: { type: 'FLOAT' } },
      run: () => { count('Noise'); return { value: Math.random() }; },
    },
    {
      type: 'Fail', category: 'test', description: 'Always throws', version: 1,
      inputs: { value: { type: 'FLOAT', optional: true } }, outputs: { value: { type: 'FLOAT' } },
      run: () => { count('Fail'); throw new Error('deliberate failure'); },
    },
    {
      type: 'Slow', category: 'test', description: 'Loops until cancelled or done', version: 1,
      inputs: { steps: { type: 'INT', default: 1000, min: 1 } }, outputs: { value: { type: 'FLOAT' } },
      run: async ({ steps }, ctx) => {
        count('Slow');
        for (let i = 0; i < steps; i++) {
          if (ctx.signal.aborted) throw ctx.signal.reason;
          ctx.progress(i + 1, steps);
          await new Promise((r) => setTimeout(r, 2));
        }
        return { value: steps };
      },
    },
    {
      type: 'Show', category: 'test', description: 'A sink', version: 1, output: true,
      inputs: { value: { type: 'FLOAT' } }, outputs: { shown: { type: 'STRING' } },
      run: ({ value }) => { count('Show'); return { shown: String(value) }; },
    },
  ];
  const registry = new NodeRegistry();
  registry.registerPack({ name: 'test', nodes: defs });
  return { registry, runs, total: () => [...runs.values()].reduce((a, b) => a + b, 0) };
}

/** (1 + 2) + 3 shown; plus an independent branch 4 shown. */
export function sampleWorkflow(): Workflow {
  return {
    format: 'diffgraph/workflow@1',
    nodes: {
      one: { type: 'Constant', inputs: { value: 1 } },
      two: { type: 'Constant', inputs: { value: 2 } },
      three: { type: 'Constant', inputs: { value: 3 } },
      ab: { type: 'Add', inputs: { a: { from: 'one', output: 'value' }, b: { from: 'two', output: 'value' } } },
      abc: { type: 'Add', inputs: { a: { from: 'ab', output: 'sum' }, b: { from: 'three', output: 'value' } } },
      show: { type: 'Show', inputs: { value: { from: 'abc', output: 'sum' } } },
      four: { type: 'Constant', inputs: { value: 4 } },
      show4: { type: 'Show', inputs: { value: { from: 'four', output: 'value' } } },
    },
    ui: { positions: { one: [0, 0] } },
  };
}
