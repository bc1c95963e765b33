import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import {
  checkWorkflowShape, DEFAULT_WORKFLOW_LIMITS, Executor, InvalidWorkflowError, measureJson, NodeRegistry, validateWorkflow,
  type ValidationError,
} from '../src/index.ts';
import { arithmeticRegistry, sampleWorkflow } from './fixtures.ts';

/** `[[[…[1]…]]]`, `levels` arrays deep, built without recursion. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < levels; i++) value = [value];
  return value;
}

const codes = (errors: ValidationError[]) => errors.map((e) => e.code);
const errorsOf = (input: unknown, registry: NodeRegistry, limits = {}) => {
  const result = validateWorkflow(input, registry, undefined, limits);
  return result.ok ? [] : result.errors;
};

function unknownNodes(count: number): unknown {
  const nodes: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) nodes[`n${i}`] = { type: `Nope${i}` };
  return { format: 'diffgraph/workflow@1', nodes };
}

describe('workflow limits: nesting, size and node count come before any recursive work', () => {
  const { registry } = arithmeticRegistry();

  it('a literal, meta or ui nested 10,000 deep is NESTING_TOO_DEEP (object and text), naming where', () => {
    const literal = sampleWorkflow() as any;
    literal.nodes.one.inputs.value = nested(10_000);
    const meta = { ...sampleWorkflow(), meta: { deep: nested(10_000) } };
    const ui = { ...sampleWorkflow(), ui: { deep: nested(10_000) } };
    for (const [workflow, nodeId, input] of [[literal, 'one', 'value'], [meta, null, undefined], [ui, null, undefined]] as const) {
      const errors = errorsOf(workflow, registry);
      expect(errors).toEqual([expect.objectContaining({ code: 'NESTING_TOO_DEEP', nodeId })]);
      expect(errors[0].input).toBe(input);
      expect(errors[0].message).toContain(`at most ${DEFAULT_WORKFLOW_LIMITS.maxDepth} levels`);
    }
    // The same as text (JSON.stringify cannot write it: it recurses too).
    const text = JSON.stringify(sampleWorkflow()).replace('"nodes":{', `"meta":{"deep":${'['.repeat(10_000)}1${']'.repeat(10_000)}},"nodes":{`);
    expect(codes(errorsOf(text, registry))).toEqual(['NESTING_TOO_DEEP']);
  });

  it('the executor refuses a deep workflow with InvalidWorkflowError, not a stack overflow', async () => {
    const workflow = sampleWorkflow() as any;
    workflow.nodes.one.inputs.value = nested(10_000);
    const error = await new Executor(registry).run(workflow).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidWorkflowError);
    expect(codes((error as InvalidWorkflowError).errors)).toEqual(['NESTING_TOO_DEEP']);
  });

  it('the depth limit is exact: the workflow object is level 1', () => {
    const at = (levels: number) => errorsOf({ ...sampleWorkflow(), meta: { deep: nested(levels) } }, registry);
    // root (1) → meta (2) → `levels` arrays
    expect(at(DEFAULT_WORKFLOW_LIMITS.maxDepth - 2)).toEqual([]);
    expect(codes(at(DEFAULT_WORKFLOW_LIMITS.maxDepth - 1))).toEqual(['NESTING_TOO_DEEP']);
    expect(codes(errorsOf({ ...sampleWorkflow(), meta: { deep: nested(8) } }, registry, { maxDepth: 9 }))).toEqual(['NESTING_TOO_DEEP']);
  });

  it('WORKFLOW_TOO_LARGE over maxBytes, for objects and for text', () => {
    const big = { ...sampleWorkflow(), meta: { notes: 'x'.repeat(5000) } };
    expect(codes(errorsOf(big, registry, { maxBytes: 4096 }))).toEqual(['WORKFLOW_TOO_LARGE']);
    expect(codes(errorsOf(JSON.stringify(big), registry, { maxBytes: 4096 }))).toEqual(['WORKFLOW_TOO_LARGE']);
    expect(errorsOf(big, registry, { maxBytes: 8192 })).toEqual([]);
  });

  it('measureJson is the UTF-8 size of JSON.stringify', () => {
    fc.assert(fc.property(fc.jsonValue(), fc.string({ unit: 'binary' }), (value, text) => {
      for (const v of [value, text, { [text]: value, skipped: undefined }, [undefined, text]]) {
        expect(measureJson(v, 1000, Infinity).bytes).toBe(Buffer.byteLength(JSON.stringify(v)));
      }
    }));
  });

  it('TOO_MANY_NODES is decided before any node is looked at', () => {
    const lookups = vi.spyOn(registry, 'get');
    try {
      const errors = errorsOf(unknownNodes(15_000), registry);
      expect(codes(errors)).toEqual(['TOO_MANY_NODES']);
      expect(errors[0].message).toContain('15000 nodes');
      expect(lookups).not.toHaveBeenCalled();
      expect(codes(errorsOf(sampleWorkflow(), registry, { maxNodes: 2 }))).toEqual(['TOO_MANY_NODES']);
    } finally {
      lookups.mockRestore();
    }
  });

  it('the error list stops at maxErrors with a TOO_MANY_ERRORS entry, without checking the rest', () => {
    const lookups = vi.spyOn(registry, 'get');
    try {
      const errors = errorsOf(unknownNodes(15_000), registry, { maxNodes: 20_000 });
      expect(errors).toHaveLength(DEFAULT_WORKFLOW_LIMITS.maxErrors + 1);
      expect(new Set(codes(errors.slice(0, -1)))).toEqual(new Set(['UNKNOWN_NODE_TYPE']));
      expect(errors.at(-1)).toMatchObject({ nodeId: null, code: 'TOO_MANY_ERRORS' });
      expect(errors.at(-1)!.message).toContain(`${15_000 - DEFAULT_WORKFLOW_LIMITS.maxErrors} of 15000 nodes not checked`);
      expect(lookups.mock.calls.length).toBeLessThanOrEqual(DEFAULT_WORKFLOW_LIMITS.maxErrors);
      expect(JSON.stringify(errors).length).toBeLessThan(20_000);
    } finally {
      lookups.mockRestore();
    }
  });

  it('problems found beyond the cap in one node are counted in the marker', () => {
    const inputs: Record<string, number> = {};
    for (let i = 0; i < 30; i++) inputs[`bogus${i}`] = i;
    const errors = errorsOf({ format: 'diffgraph/workflow@1', nodes: { a: { type: 'Constant', inputs } } }, registry, { maxErrors: 10 });
    expect(errors).toHaveLength(11);
    expect(errors.at(-1)!.code).toBe('TOO_MANY_ERRORS');
    // checkNode stops at the cap, so what it did find is listed and nothing is counted twice.
    expect(codes(errors.slice(0, 10))).toEqual(Array(10).fill('UNKNOWN_INPUT'));
  });

  it('checkWorkflowShape takes anything JSON.parse returns', () => {
    for (const value of [null, 1, 'x', [], {}, { nodes: [] }, { nodes: null }]) expect(checkWorkflowShape(value)).toEqual([]);
    expect(codes(checkWorkflowShape(nested(100)) as ValidationError[])).toEqual(['NESTING_TOO_DEEP']);
  });
});
