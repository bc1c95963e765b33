import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ERROR_CODES, validateWorkflow } from '../src/index.ts';
import { arithmeticRegistry, sampleWorkflow } from './fixtures.ts';

const { registry } = arithmeticRegistry();
const nodeIds = Object.keys(sampleWorkflow().nodes);
const anyValue = fc.oneof(
  fc.constantFrom(...nodeIds, 'value', 'sum', 'Add', 'Constant', 'tensor', '', null),
  fc.integer(), fc.double(), fc.boolean(), fc.string(),
  fc.jsonValue({ maxDepth: 2 }),
  fc.record({ from: fc.constantFrom(...nodeIds, 'ghost', 'constructor', '__proto__', 'toString'), output: fc.constantFrom('value', 'sum', 'shown', 'nope', 'constructor') }),
);

/** One random edit at a random path of the workflow: set, delete, or replace with junk. */
const mutation = fc.record({
  node: fc.constantFrom(...nodeIds, 'new'),
  field: fc.constantFrom('type', 'inputs', 'input', 'root', 'outputs', 'format', 'node'),
  key: fc.constantFrom('a', 'b', 'value', 'steps', 'from', 'output', 'x', '__proto__', 'constructor'),
  value: anyValue,
  remove: fc.boolean(),
});

const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null;

function apply(w: any, m: any) {
  if (!isObject(w.nodes)) return;
  if (['type', 'inputs', 'input'].includes(m.field) && !isObject(w.nodes[m.node])) w.nodes[m.node] = { type: 'Add' };
  switch (m.field) {
    case 'type': w.nodes[m.node].type = m.value; break;
    case 'inputs': w.nodes[m.node].inputs = m.value; break;
    case 'input': {
      const node = w.nodes[m.node];
      if (typeof node.inputs !== 'object' || node.inputs === null) node.inputs = {};
      if (m.remove) delete node.inputs[m.key]; else node.inputs[m.key] = m.value;
      break;
    }
    case 'root': if (m.remove) delete w[m.key]; else w[m.key] = m.value; break;
    case 'outputs': w.outputs = m.remove ? undefined : [m.value]; break;
    case 'format': w.format = m.value; break;
    case 'node': if (m.remove) delete w.nodes[m.node]; else w.nodes[m.node] = m.value; break;
  }
}

describe('validator fuzz', () => {
  it('1,000 random mutations never crash it: every result is valid or a list of coded errors', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        const w: any = structuredClone(sampleWorkflow());
        for (const m of mutations) apply(w, m);
        const result = validateWorkflow(w, registry);
        if (result.ok) return;
        expect(result.errors.length).toBeGreaterThan(0);
        for (const e of result.errors) {
          expect(ERROR_CODES).toContain(e.code);
          expect(typeof e.message).toBe('string');
          expect(e.message.length).toBeGreaterThan(10);
        }
      }),
      { numRuns: 1000, seed: 20261128 },
    );
  });
});
