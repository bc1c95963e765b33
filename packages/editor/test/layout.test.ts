/**
 * The layered layout: on every bundled example (as graphs with made-up sizes) and on random DAGs, no
 * two nodes overlap and every link runs left to right; a loader stands next to what it feeds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { layeredLayout, type LayoutNode } from '../src/graph/layout.ts';

const dir = fileURLToPath(new URL('../../../workflows/', import.meta.url));
const examples = readdirSync(dir).filter((f) => f.endsWith('.json'));

function check(nodes: LayoutNode[], acyclic = true): Map<string, [number, number]> {
  const at = layeredLayout(nodes);
  const rect = (n: LayoutNode) => ({ x0: at.get(n.id)![0], y0: at.get(n.id)![1], x1: at.get(n.id)![0] + n.width, y1: at.get(n.id)![1] + n.height });
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      const [a, b] = [rect(nodes[i]), rect(nodes[j])];
      const overlap = a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1;
      expect(overlap, `${nodes[i].id} overlaps ${nodes[j].id}`).toBe(false);
    }
  }
  const byId = new Map(nodes.map((n) => [n.id, n]));
  if (!acyclic) return at;
  for (const n of nodes) {
    for (const s of n.sources) if (byId.has(s)) expect(rect(byId.get(s)!).x1, `${s} → ${n.id}`).toBeLessThan(rect(n).x0);
  }
  return at;
}

const linkSources = (inputs: Record<string, unknown> = {}) =>
  Object.values(inputs).flatMap((v) => (v && typeof v === 'object' && 'from' in v ? [String((v as { from: string }).from)] : []));

describe('layeredLayout', () => {
  it.each(examples)('%s: no overlaps, links left to right', (file) => {
    const wf = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8')) as { nodes: Record<string, { inputs?: Record<string, unknown> }> };
    const nodes = Object.entries(wf.nodes).map(([id, n], i) => ({ id, sources: linkSources(n.inputs), width: 200 + (i % 3) * 60, height: 80 + (i % 4) * 70 }));
    check(nodes);
  });

  it('puts a loader in the column right before its first consumer, not at the far left', () => {
    const nodes: LayoutNode[] = [
      { id: 'a', sources: [], width: 100, height: 50 },
      { id: 'b', sources: ['a'], width: 100, height: 50 },
      { id: 'c', sources: ['b'], width: 100, height: 50 },
      { id: 'loader', sources: [], width: 100, height: 50 },
      { id: 'd', sources: ['c', 'loader'], width: 100, height: 50 },
    ];
    const at = check(nodes);
    expect(at.get('loader')![0]).toBe(at.get('c')![0]);
  });

  it('orders rows to follow their sources (no crossing for two parallel chains)', () => {
    const nodes: LayoutNode[] = [
      { id: 'top', sources: [], width: 100, height: 50 },
      { id: 'bottom', sources: [], width: 100, height: 50 },
      { id: 'after_bottom', sources: ['bottom'], width: 100, height: 50 },
      { id: 'after_top', sources: ['top'], width: 100, height: 50 },
    ];
    const at = check(nodes);
    expect(at.get('after_top')![1]).toBeLessThan(at.get('after_bottom')![1]);
  });

  it('random graphs (cycles and self-links included) end with no overlaps', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 30 }), fc.array(fc.tuple(fc.nat(29), fc.nat(29)), { maxLength: 60 }), (n, edges) => {
      const nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, sources: edges.filter(([, to]) => to === i).map(([from]) => `n${from}`), width: 150, height: 40 + (i % 5) * 30 }));
      const at = check(nodes, edges.every(([from, to]) => from < to || from >= n || to >= n));
      expect(at.size).toBe(n);
    }));
  });
});
