import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { validateWorkflow, workflowSchema, type ValidationError, type Workflow } from '../src/index.ts';
import { arithmeticRegistry, sampleWorkflow } from './fixtures.ts';

const { registry } = arithmeticRegistry();

function errorsOf(workflow: unknown, outputs?: string[]): ValidationError[] {
  const result = validateWorkflow(workflow, registry, outputs);
  return result.ok ? [] : result.errors;
}

function mutate(change: (w: any) => void): Workflow {
  const w = structuredClone(sampleWorkflow());
  change(w);
  return w;
}

const pick = (errors: ValidationError[]) => errors.map(({ nodeId, input, code }) => ({ nodeId, input, code }));

describe('validateWorkflow', () => {
  it('accepts a valid workflow and fills in defaults', () => {
    const result = validateWorkflow(sampleWorkflow(), registry);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.outputs).toEqual(['show', 'show4']);
    const steps = validateWorkflow({ format: 'diffgraph/workflow@1', nodes: { s: { type: 'Steps' } }, outputs: ['s'] }, registry);
    expect(steps.ok && steps.workflow.nodes.s.inputs).toEqual({ steps: 10, mode: 'fast', flag: false });
  });

  it('INVALID_JSON for unparsable text', () => {
    expect(pick(errorsOf('{"format": '))).toEqual([{ nodeId: null, input: undefined, code: 'INVALID_JSON' }]);
  });

  it('INVALID_FORMAT for a wrong or missing format tag', () => {
    expect(errorsOf(mutate((w) => (w.format = 'comfyui'))).map((e) => e.code)).toEqual(['INVALID_FORMAT']);
    expect(errorsOf(mutate((w) => delete w.format)).map((e) => e.code)).toEqual(['INVALID_FORMAT']);
  });

  it('INVALID_WORKFLOW for a broken envelope, naming the node', () => {
    const errors = errorsOf(mutate((w) => (w.nodes.one.extra = 1)));
    expect(pick(errors)).toEqual([{ nodeId: 'one', input: undefined, code: 'INVALID_WORKFLOW' }]);
    expect(errors[0].message).toContain('"extra"');
    expect(errorsOf({ format: 'diffgraph/workflow@1', nodes: [] }).map((e) => e.code)).toEqual(['INVALID_WORKFLOW']);
  });

  it('UNKNOWN_NODE_TYPE with a suggestion', () => {
    const errors = errorsOf(mutate((w) => (w.nodes.ab.type = 'Addd')));
    expect(pick(errors)).toEqual([{ nodeId: 'ab', input: undefined, code: 'UNKNOWN_NODE_TYPE' }]);
    expect(errors[0].message).toContain('Did you mean "Add"?');
  });

  it('UNKNOWN_INPUT names the node type and its inputs', () => {
    const errors = errorsOf(mutate((w) => (w.nodes.one.inputs.valeu = 3)));
    expect(pick(errors)).toEqual([{ nodeId: 'one', input: 'valeu', code: 'UNKNOWN_INPUT' }]);
    expect(errors[0].message).toMatch(/Constant has no input "valeu".*Did you mean "value"/);
  });

  it('does not mistake Object.prototype members for nodes, inputs or outputs', () => {
    const w = mutate((w) => {
      w.nodes.one.inputs.constructor = 1;
      w.nodes.ab.inputs.a = { from: 'constructor', output: 'value' };
      w.nodes.abc.inputs.a = { from: 'ab', output: 'toString' };
    });
    expect(pick(errorsOf(w))).toEqual([
      { nodeId: 'one', input: 'constructor', code: 'UNKNOWN_INPUT' },
      { nodeId: 'ab', input: 'a', code: 'LINK_MISSING_NODE' },
      { nodeId: 'abc', input: 'a', code: 'LINK_MISSING_OUTPUT' },
    ]);
  });

  it('MISSING_INPUT for a required input', () => {
    expect(pick(errorsOf(mutate((w) => delete w.nodes.ab.inputs.a)))).toEqual([{ nodeId: 'ab', input: 'a', code: 'MISSING_INPUT' }]);
  });

  it('LINK_MISSING_NODE and LINK_MISSING_OUTPUT', () => {
    expect(pick(errorsOf(mutate((w) => (w.nodes.ab.inputs.a.from = 'uno'))))).toEqual([{ nodeId: 'ab', input: 'a', code: 'LINK_MISSING_NODE' }]);
    const errors = errorsOf(mutate((w) => (w.nodes.abc.inputs.a.output = 'total')));
    expect(pick(errors)).toEqual([{ nodeId: 'abc', input: 'a', code: 'LINK_MISSING_OUTPUT' }]);
    expect(errors[0].message).toContain('outputs: sum');
  });

  it('TYPE_MISMATCH names both types', () => {
    const w = mutate((w) => {
      w.nodes.fill = { type: 'Fill' };
      w.nodes.ab.inputs.a = { from: 'fill', output: 'tensor' };
    });
    const errors = errorsOf(w);
    expect(pick(errors)).toEqual([{ nodeId: 'ab', input: 'a', code: 'TYPE_MISMATCH' }]);
    expect(errors[0].message).toMatch(/expects FLOAT.*is TENSOR/);
  });

  it('an INT output may feed a FLOAT input', () => {
    const w = mutate((w) => {
      w.nodes.steps = { type: 'Steps' };
      w.nodes.ab.inputs.a = { from: 'steps', output: 'steps' };
    });
    expect(errorsOf(w)).toEqual([]);
  });

  it('WRONG_VALUE_TYPE, BELOW_MIN, ABOVE_MAX, NOT_IN_ENUM, LINK_REQUIRED, INVALID_VALUE', () => {
    const w = mutate((w) => {
      w.nodes.one.inputs.value = '1';
      w.nodes.two.inputs.value = -101;
      w.nodes.three.inputs.value = 101;
      w.nodes.s = { type: 'Steps', inputs: { steps: 2.5, mode: 'exakt', list: [1, 'x'] } };
      w.nodes.sum = { type: 'Sum', inputs: { tensor: [1, 2, 3] } };
    });
    expect(pick(errorsOf(w))).toEqual([
      { nodeId: 'one', input: 'value', code: 'WRONG_VALUE_TYPE' },
      { nodeId: 'two', input: 'value', code: 'BELOW_MIN' },
      { nodeId: 'three', input: 'value', code: 'ABOVE_MAX' },
      { nodeId: 's', input: 'steps', code: 'WRONG_VALUE_TYPE' },
      { nodeId: 's', input: 'mode', code: 'NOT_IN_ENUM' },
      { nodeId: 's', input: 'list', code: 'INVALID_VALUE' },
      { nodeId: 'sum', input: 'tensor', code: 'LINK_REQUIRED' },
    ]);
    expect(errorsOf(w).find((e) => e.code === 'NOT_IN_ENUM')!.message).toContain('Did you mean "exact"?');
  });

  it('CYCLE names every node of the cycle', () => {
    const w = mutate((w) => (w.nodes.ab.inputs.a = { from: 'abc', output: 'sum' }));
    const errors = errorsOf(w);
    expect(pick(errors)).toEqual([{ nodeId: 'ab', input: undefined, code: 'CYCLE' }]);
    expect(errors[0].message).toContain('"ab", "abc"');
    const self = errorsOf(mutate((w) => (w.nodes.ab.inputs.a = { from: 'ab', output: 'sum' })));
    expect(self.map((e) => e.code)).toEqual(['CYCLE']);
  });

  it('UNKNOWN_OUTPUT_NODE and NO_OUTPUTS', () => {
    expect(pick(errorsOf(mutate((w) => (w.outputs = ['shw']))))).toEqual([{ nodeId: 'shw', input: undefined, code: 'UNKNOWN_OUTPUT_NODE' }]);
    const noSinks = mutate((w) => { delete w.nodes.show; delete w.nodes.show4; });
    expect(pick(errorsOf(noSinks))).toEqual([{ nodeId: null, input: undefined, code: 'NO_OUTPUTS' }]);
    expect(pick(errorsOf(sampleWorkflow(), []))).toEqual([{ nodeId: null, input: undefined, code: 'NO_OUTPUTS' }]);
  });

  it('reports every problem at once', () => {
    const w = mutate((w) => {
      w.nodes.one.type = 'Nope';
      w.nodes.two.inputs.value = 'x';
      delete w.nodes.ab.inputs.a;
      w.outputs = ['missing'];
    });
    expect(errorsOf(w).map((e) => e.code).sort()).toEqual(['MISSING_INPUT', 'UNKNOWN_NODE_TYPE', 'UNKNOWN_OUTPUT_NODE', 'WRONG_VALUE_TYPE']);
  });
});

describe('workflowSchema', () => {
  const validate = new Ajv({ strict: false }).compile(workflowSchema(registry));

  it('accepts valid workflows and rejects per-node input errors', () => {
    expect(validate(sampleWorkflow())).toBe(true);
    expect(validate(mutate((w) => (w.nodes.one.inputs.value = 500)))).toBe(false);
    expect(validate(mutate((w) => (w.nodes.one.inputs.bogus = 1)))).toBe(false);
    expect(validate(mutate((w) => delete w.nodes.ab.inputs.a))).toBe(false);
    expect(validate(mutate((w) => (w.nodes.ab.type = 'Nope')))).toBe(false);
  });
});
