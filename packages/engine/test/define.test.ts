/**
 * defineNode / definePack. The `@ts-expect-error` lines are the point: `pnpm typecheck` (tsc over
 * packages/*\/test) fails if any of them compiles, i.e. if a misspelled input or a wrong output slips
 * through the types.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { defineInputs, defineNode, definePack, Executor, jsonInput, NodeRegistry, Tensor, type NodeDefinition } from '../src/index.ts';

declare module '../src/index.ts' {
  interface SocketTypes {
    TEST_LATENT: Tensor;
  }
}

const MODES = ['add', 'scale'] as const;

const Shift = defineNode({
  type: 'Shift',
  category: 'test',
  description: 'Adds or scales a tensor',
  version: 1,
  inputs: {
    latent: { type: 'TEST_LATENT' },
    amount: { type: 'FLOAT', default: 1 },
    mode: { type: 'STRING', enum: MODES, default: 'add' },
    label: { type: 'STRING', optional: true },
    opaque: { type: 'NOT_DECLARED', optional: true },
    weights: jsonInput<number[]>({ optional: true }),
  },
  outputs: { latent: { type: 'TEST_LATENT' }, size: { type: 'INT' } },
  run(i) {
    expectTypeOf(i.latent).toEqualTypeOf<Tensor>();
    expectTypeOf(i.amount).toEqualTypeOf<number>();
    expectTypeOf(i.mode).toEqualTypeOf<'add' | 'scale'>();
    expectTypeOf(i.label).toEqualTypeOf<string | undefined>();
    expectTypeOf(i.opaque).toEqualTypeOf<unknown>();
    expectTypeOf(i.weights).toEqualTypeOf<number[] | undefined>();
    const data = i.latent.data.map((v) => (i.mode === 'add' ? v + i.amount : v * i.amount));
    return { latent: Tensor.from(i.latent.shape, data), size: data.length };
  },
});

describe('defineNode', () => {
  it('returns the definition itself, which registers and runs as a plain node', async () => {
    const Source: NodeDefinition = {
      type: 'Source', category: 'test', description: 'A fixed tensor', version: 1, inputs: {},
      outputs: { latent: { type: 'TEST_LATENT' } },
      run: () => ({ latent: Tensor.from([2], [1, 2]) }),
    };
    const pack = definePack({ name: 'test-pack', version: '1.2.0', nodes: [Source, Shift] });
    expect(pack.nodes[1]).toBe(Shift);
    const registry = new NodeRegistry();
    registry.registerPack(pack);
    expect(registry.pack('Shift')).toBe('test-pack');
    const result = await new Executor(registry).run({
      format: 'diffgraph/workflow@1',
      nodes: { l: { type: 'Source' }, s: { type: 'Shift', inputs: { latent: { from: 'l', output: 'latent' }, mode: 'scale', amount: 3 } } },
      outputs: ['s'],
    });
    const out = result.outputs.s;
    if (out.status !== 'succeeded') throw new Error(`Shift did not succeed: ${out.status}`);
    expect([...(out.values.latent as Tensor).data]).toEqual([3, 6]);
    expect(out.values.size).toBe(2);
  });

  it('refuses a role on an input of the wrong type, and unknown roles', () => {
    const base = { category: 'test', description: 'd', version: 1, outputs: {}, run: () => ({}) };
    const registry = new NodeRegistry();
    expect(() => registry.register({ ...base, type: 'BadSeed', inputs: { seed: { type: 'FLOAT', default: 0, role: 'seed' } } })).toThrow(/BadSeed.*"seed".*role "seed" needs type INT/);
    expect(() => registry.register({ ...base, type: 'BadRole', inputs: { n: { type: 'INT', default: 0, role: 'stepz' as never } } })).toThrow(/unknown role "stepz"/);
    expect(() => registry.register({ ...base, type: 'BadModel', inputs: { file: { type: 'STRING', role: 'model' } } })).toThrow(/role "model" needs path "models"/);
    expect(() => registry.register({ ...base, type: 'BadSummary', inputs: { n: { type: 'INT', default: 0, summary: 'not a key' } } })).toThrow(/summary must be/);
  });

  it('keeps a plain NodeDefinition assignable both ways (packs may mix both)', () => {
    const plain: NodeDefinition = Shift;
    expect(plain.inputs.mode.enum).toEqual(MODES);
  });

  it('rejects a misspelled input and wrong outputs at compile time', () => {
    const shared = defineInputs({ steps: { type: 'INT', default: 20, role: 'steps' } });
    const node = defineNode({
      type: 'Typo', category: 'test', description: 'd', version: 1,
      inputs: { ...shared, seed: { type: 'INT', default: 0, role: 'seed' } },
      outputs: { total: { type: 'INT' } },
      run(i) {
        // @ts-expect-error: no input "step" (it is "steps")
        void i.step;
        // @ts-expect-error: inputs are read-only
        i.seed = 1;
        return { total: i.steps + i.seed };
      },
    });
    defineNode({
      type: 'MissingOutput', category: 'test', description: 'd', version: 1,
      inputs: {}, outputs: { total: { type: 'INT' } },
      // @ts-expect-error: the output is "total", not "totl"
      run: () => ({ totl: 1 }),
    });
    defineNode({
      type: 'WrongOutputType', category: 'test', description: 'd', version: 1,
      inputs: {}, outputs: { total: { type: 'INT' } },
      // @ts-expect-error: an INT output must be a number
      run: () => ({ total: 'one' }),
    });
    expect(node.inputs.steps.role).toBe('steps');
  });
});
