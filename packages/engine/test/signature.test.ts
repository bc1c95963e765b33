/** Merkle signatures: what enters a node's cache key. */
import { describe, expect, it } from 'vitest';
import { nodeSignature } from '../src/signature.ts';
import type { WorkflowNode } from '../src/index.ts';
import { arithmeticRegistry } from './fixtures.ts';

const { registry } = arithmeticRegistry();
const show = registry.get('Show')!;
const signatureOf = (node: WorkflowNode, upstream: Record<string, string> = { split: 'sig-of-split' }) =>
  nodeSignature(show, node, (id) => upstream[id]);

describe('nodeSignature', () => {
  it('includes the output a link reads, not only the node it comes from', () => {
    const readsMin = signatureOf({ type: 'Show', inputs: { value: { from: 'split', output: 'min' } } });
    const readsMax = signatureOf({ type: 'Show', inputs: { value: { from: 'split', output: 'max' } } });
    expect(readsMin).not.toBe(readsMax);
    expect(signatureOf({ type: 'Show', inputs: { value: { from: 'split', output: 'min' } } })).toBe(readsMin);
  });

  it('depends on the upstream signature, not on the upstream node id', () => {
    const a = signatureOf({ type: 'Show', inputs: { value: { from: 'split', output: 'min' } } });
    const renamed = signatureOf({ type: 'Show', inputs: { value: { from: 'other', output: 'min' } } }, { other: 'sig-of-split' });
    const changed = signatureOf({ type: 'Show', inputs: { value: { from: 'split', output: 'min' } } }, { split: 'another-sig' });
    expect(renamed).toBe(a);
    expect(changed).not.toBe(a);
  });
});
