/** Graph structure of a workflow: edges, cycles, the planner's ancestor set and topological order. */
import type { Workflow } from './types.ts';
import { isLink } from './types.ts';

/** node id → ids it reads from (deduplicated, in input order). */
export function upstreamOf(workflow: Workflow): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const [id, node] of Object.entries(workflow.nodes)) {
    const from = new Set<string>();
    for (const value of Object.values(node.inputs ?? {})) {
      if (isLink(value) && Object.hasOwn(workflow.nodes, value.from)) from.add(value.from);
    }
    deps.set(id, [...from]);
  }
  return deps;
}

/** Strongly connected components that form cycles (size > 1, or a self-link), each sorted. */
export function findCycles(deps: Map<string, string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];

  // Iterative Tarjan: a deep chain of nodes must not overflow the JS stack.
  for (const root of [...deps.keys()].sort()) {
    if (indexOf.has(root)) continue;
    const work: Array<{ id: string; next: number }> = [{ id: root, next: 0 }];
    indexOf.set(root, index); low.set(root, index); index++;
    stack.push(root); onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const succ = deps.get(frame.id) ?? [];
      if (frame.next < succ.length) {
        const w = succ[frame.next++];
        if (!indexOf.has(w)) {
          indexOf.set(w, index); low.set(w, index); index++;
          stack.push(w); onStack.add(w);
          work.push({ id: w, next: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.id, Math.min(low.get(frame.id)!, indexOf.get(w)!));
        }
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) === indexOf.get(frame.id)) {
        const component: string[] = [];
        let w: string;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.push(w);
        } while (w !== frame.id);
        const selfLoop = (deps.get(frame.id) ?? []).includes(frame.id);
        if (component.length > 1 || selfLoop) cycles.push(component.sort());
      }
    }
  }
  return cycles.sort((a, b) => a[0].localeCompare(b[0]));
}

/** The requested nodes and everything they depend on. */
export function ancestors(deps: Map<string, string[]>, targets: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const todo = [...targets];
  while (todo.length > 0) {
    const id = todo.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    todo.push(...(deps.get(id) ?? []));
  }
  return seen;
}

/**
 * Kahn's algorithm over the planned subset. Among ready nodes, `priority` (lower first) then id
 * decides, so the order is the same on every run and previews can be scheduled early.
 */
export function topologicalOrder(
  deps: Map<string, string[]>,
  subset: Set<string>,
  priority: (id: string) => number = () => 0,
): string[] {
  const remaining = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const id of subset) {
    const ins = (deps.get(id) ?? []).filter((d) => subset.has(d));
    remaining.set(id, ins.length);
    for (const d of ins) dependents.set(d, [...(dependents.get(d) ?? []), id]);
  }
  const before = (a: string, b: string) => priority(a) - priority(b) || (a < b ? -1 : a > b ? 1 : 0);
  const ready = [...subset].filter((id) => remaining.get(id) === 0).sort(before);
  const order: string[] = [];
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const next of dependents.get(id) ?? []) {
      const left = remaining.get(next)! - 1;
      remaining.set(next, left);
      if (left === 0) {
        ready.push(next);
        ready.sort(before);
      }
    }
  }
  if (order.length !== subset.size) throw new Error('topologicalOrder: the planned graph has a cycle');
  return order;
}
