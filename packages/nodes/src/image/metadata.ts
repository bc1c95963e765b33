/**
 * What SaveImage embeds in a PNG, as ComfyUI does: the whole workflow under the "workflow" key (so
 * dropping the image on the editor, or LoadImage, gives the graph back) and a short summary of the
 * run's settings under "parameters" (JSON: seed, steps, cfg, solver, …) for people and image browsers:
 * the inputs whose spec says `summary`, so a node pack's own settings can be listed too.
 *
 * The workflow reaches a node through `ctx.services.workflow`, a member of HostServices that every host
 * (the CLI, the server, tests) must set, to the workflow as it received it or to null. The engine does
 * not pass it by itself, since a node's output should not depend on anything outside its inputs.
 */
import { isLink, type NodeContext, type NodeDefinition, type Workflow } from '@diffgraph/engine';

export const WORKFLOW_KEY = 'workflow';
export const PARAMETERS_KEY = 'parameters';

/** The workflow the host passed in `ctx.services.workflow`, as JSON text; undefined if none. */
export function workflowText(ctx: NodeContext): string | undefined {
  const wf = ctx.services.workflow;
  if (wf === undefined || wf === null) return undefined;
  return typeof wf === 'string' ? wf : JSON.stringify(wf);
}

/** How a summary finds each node type's inputs (a registry's `get`, or NodeContext.definitionOf). */
export type DefinitionLookup = (type: string) => Pick<NodeDefinition, 'inputs'> | undefined;

/**
 * A flat summary of a workflow's literal settings: the inputs whose spec carries `summary` (under the
 * input's name, or the key it names). A parameter set by several nodes (two prompts, a refiner's steps)
 * becomes a list of its distinct values, in node-id order; linked values are skipped.
 */
export function runParameters(workflow: unknown, definitionOf: DefinitionLookup): Record<string, unknown> {
  const wf = (typeof workflow === 'string' ? safeParse(workflow) : workflow) as Partial<Workflow> | undefined;
  const nodes = wf && typeof wf === 'object' ? wf.nodes : undefined;
  if (!nodes || typeof nodes !== 'object') return {};
  const found = new Map<string, unknown[]>();
  for (const id of Object.keys(nodes).sort()) {
    const node = nodes[id];
    const specs = node && typeof node.type === 'string' ? definitionOf(node.type)?.inputs : undefined;
    if (!specs) continue;
    for (const [input, spec] of Object.entries(specs)) {
      const value = node.inputs?.[input];
      if (spec.summary === undefined || value === undefined || isLink(value)) continue;
      const name = spec.summary === true ? input : spec.summary;
      const list = found.get(name) ?? [];
      if (!list.some((v) => JSON.stringify(v) === JSON.stringify(value))) list.push(value);
      found.set(name, list);
    }
  }
  return Object.fromEntries([...found].map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
