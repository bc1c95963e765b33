/**
 * Validation reports every problem at once, each as { nodeId, input?, code, message }, with a
 * message that says what to change. An invalid workflow is never partially run.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { InputSpec, NodeDefinition, Workflow } from './types.ts';
import { isLink, isPrimitiveType, WORKFLOW_FORMAT } from './types.ts';
import type { NodeRegistry } from './registry.ts';
import { envelopeSchema, literalSchema } from './schema.ts';
import { findCycles, upstreamOf } from './graph.ts';
import { checkWorkflowShape, DEFAULT_WORKFLOW_LIMITS, textTooLarge, type WorkflowLimits } from './limits.ts';

export const ERROR_CODES = [
  'INVALID_JSON',
  'INVALID_FORMAT',
  'INVALID_WORKFLOW',
  'UNKNOWN_NODE_TYPE',
  'UNKNOWN_INPUT',
  'MISSING_INPUT',
  'LINK_MISSING_NODE',
  'LINK_MISSING_OUTPUT',
  'LINK_REQUIRED',
  'TYPE_MISMATCH',
  'WRONG_VALUE_TYPE',
  'BELOW_MIN',
  'ABOVE_MAX',
  'NOT_IN_ENUM',
  'INVALID_VALUE',
  'CYCLE',
  'UNKNOWN_OUTPUT_NODE',
  'NO_OUTPUTS',
  'WORKFLOW_TOO_LARGE',
  'TOO_MANY_NODES',
  'NESTING_TOO_DEEP',
  'TOO_MANY_ERRORS',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ValidationError {
  /** Null for errors about the workflow as a whole. */
  nodeId: string | null;
  input?: string;
  code: ErrorCode;
  message: string;
}

export type ValidationResult =
  | { ok: true; workflow: Workflow; outputs: string[] }
  | { ok: false; errors: ValidationError[] };

const ajv = new Ajv({ allErrors: true, strict: false });
const validateEnvelope = ajv.compile(envelopeSchema);
const literalValidators = new WeakMap<InputSpec, ValidateFunction>();

function literalValidator(spec: InputSpec): ValidateFunction {
  let validate = literalValidators.get(spec);
  if (!validate) {
    validate = ajv.compile(literalSchema(spec) ?? {});
    literalValidators.set(spec, validate);
  }
  return validate;
}

const describe = (value: unknown) => (Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value);
const show = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
};

/** The closest name by edit distance, to suggest a fix for a typo. */
function closest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

const suggestion = (name: string, candidates: readonly string[]) => {
  const near = closest(name, candidates);
  return near ? ` Did you mean "${near}"?` : '';
};

function envelopeErrors(errors: ErrorObject[]): ValidationError[] {
  return errors.map((e) => {
    const where = e.instancePath || '(root)';
    if (e.instancePath === '/format' || (e.keyword === 'required' && e.params.missingProperty === 'format')) {
      return {
        nodeId: null,
        code: 'INVALID_FORMAT' as const,
        message: `"format" must be "${WORKFLOW_FORMAT}"; this file is not a diffgraph workflow of a known version.`,
      };
    }
    const nodeMatch = /^\/nodes\/([^/]+)/.exec(e.instancePath);
    const nodeId = nodeMatch ? nodeMatch[1].replace(/~1/g, '/').replace(/~0/g, '~') : null;
    const detail =
      e.keyword === 'additionalProperties'
        ? `unexpected property "${String(e.params.additionalProperty)}"`
        : e.keyword === 'required'
          ? `missing property "${String(e.params.missingProperty)}"`
          : (e.message ?? 'is invalid');
    return { nodeId, code: 'INVALID_WORKFLOW' as const, message: `${where}: ${detail}.` };
  });
}

function checkLiteral(nodeId: string, input: string, spec: InputSpec, value: unknown): ValidationError[] {
  if (!isPrimitiveType(spec.type)) {
    return [{
      nodeId, input, code: 'LINK_REQUIRED',
      message: `Input "${input}" takes a ${spec.type}; connect it to a node output as {"from": <node id>, "output": <name>} instead of a literal value.`,
    }];
  }
  const validate = literalValidator(spec);
  if (validate(value)) return [];
  const errors = validate.errors ?? [];
  const typeError = errors.find((e) => e.keyword === 'type' && e.instancePath === '');
  if (typeError) {
    const wanted = spec.type === 'INT' ? 'an integer' : spec.type === 'FLOAT' ? 'a number' : spec.type === 'STRING' ? 'a string' : spec.type === 'BOOLEAN' ? 'true or false' : `a ${String(typeError.params.type)}`;
    return [{ nodeId, input, code: 'WRONG_VALUE_TYPE', message: `Input "${input}" must be ${wanted} (${spec.type}); got ${describe(value)} ${show(value)}.` }];
  }
  return errors.map((e): ValidationError => {
    if (e.instancePath === '' && e.keyword === 'minimum') {
      return { nodeId, input, code: 'BELOW_MIN', message: `Input "${input}" is ${show(value)}, below its minimum ${spec.min}; use a value ≥ ${spec.min}.` };
    }
    if (e.instancePath === '' && e.keyword === 'maximum') {
      return { nodeId, input, code: 'ABOVE_MAX', message: `Input "${input}" is ${show(value)}, above its maximum ${spec.max}; use a value ≤ ${spec.max}.` };
    }
    if (e.instancePath === '' && e.keyword === 'enum' && spec.enum) {
      return { nodeId, input, code: 'NOT_IN_ENUM', message: `Input "${input}" is ${show(value)}; choose one of ${spec.enum.map((v) => `"${v}"`).join(', ')}.${suggestion(String(value), spec.enum)}` };
    }
    return { nodeId, input, code: 'INVALID_VALUE', message: `Input "${input}"${e.instancePath ? ` at ${e.instancePath}` : ''} ${e.message ?? 'is invalid'}.` };
  });
}

/**
 * Collects problems up to a limit. Past it, checking stops: 15,000 unknown node types would otherwise
 * cost seconds of edit distances and megabytes of messages that nobody reads.
 */
class ErrorList {
  readonly items: ValidationError[] = [];
  dropped = 0;
  constructor(private readonly max: number) {}

  get full(): boolean {
    return this.items.length >= this.max;
  }

  add(errors: readonly ValidationError[]): void {
    const room = Math.max(0, this.max - this.items.length);
    this.items.push(...errors.slice(0, room));
    this.dropped += Math.max(0, errors.length - room);
  }

  /** The list, ending with a TOO_MANY_ERRORS entry when some problems were left out or unchecked. */
  result(unchecked: string): ValidationError[] {
    if (!this.full) return this.items;
    const more = this.dropped > 0 ? `${this.dropped} more problem${this.dropped === 1 ? '' : 's'} found` : '';
    const rest = [more, unchecked].filter(Boolean).join('; ');
    return [...this.items, {
      nodeId: null, code: 'TOO_MANY_ERRORS',
      message: `Validation stopped after ${this.max} problems${rest ? ` (and more: ${rest})` : ''}; fix these and validate again.`,
    }];
  }
}

function checkNode(workflow: Workflow, registry: NodeRegistry, nodeId: string, def: NodeDefinition, errors: ErrorList): void {
  const given = workflow.nodes[nodeId].inputs ?? {};
  const inputNames = Object.keys(def.inputs);
  for (const [input, value] of Object.entries(given)) {
    if (errors.full) return;
    const spec = Object.hasOwn(def.inputs, input) ? def.inputs[input] : undefined;
    if (!spec) {
      const known = inputNames.length > 0 ? ` It takes: ${inputNames.join(', ')}.` : ' It takes no inputs.';
      errors.add([{ nodeId, input, code: 'UNKNOWN_INPUT', message: `${def.type} has no input "${input}".${suggestion(input, inputNames)}${known}` }]);
      continue;
    }
    if (!isLink(value)) {
      errors.add(checkLiteral(nodeId, input, spec, value));
      continue;
    }
    const source = Object.hasOwn(workflow.nodes, value.from) ? workflow.nodes[value.from] : undefined;
    if (!source) {
      errors.add([{ nodeId, input, code: 'LINK_MISSING_NODE', message: `Input "${input}" links to node "${value.from}", which is not in the workflow.${suggestion(value.from, Object.keys(workflow.nodes))}` }]);
      continue;
    }
    const sourceDef = registry.get(source.type);
    if (!sourceDef) continue; // reported as UNKNOWN_NODE_TYPE on the source
    const out = Object.hasOwn(sourceDef.outputs, value.output) ? sourceDef.outputs[value.output] : undefined;
    if (!out) {
      const names = Object.keys(sourceDef.outputs);
      errors.add([{ nodeId, input, code: 'LINK_MISSING_OUTPUT', message: `Input "${input}" links to output "${value.output}" of node "${value.from}" (${source.type}), which has ${names.length ? `outputs: ${names.join(', ')}` : 'no outputs'}.${suggestion(value.output, names)}` }]);
      continue;
    }
    if (!registry.isAssignable(out.type, spec.type)) {
      errors.add([{ nodeId, input, code: 'TYPE_MISMATCH', message: `Input "${input}" expects ${spec.type}, but output "${value.output}" of node "${value.from}" (${source.type}) is ${out.type}.` }]);
    }
  }
  for (const [input, spec] of Object.entries(def.inputs)) {
    if (!(input in given) && !spec.optional && spec.default === undefined) {
      errors.add([{ nodeId, input, code: 'MISSING_INPUT', message: `${def.type} needs input "${input}" (${spec.type})${isPrimitiveType(spec.type) ? '' : '; connect it to a node that outputs one'}.` }]);
    }
  }
}

/** Fill in defaults so execution and signatures see every input explicitly. */
function withDefaults(workflow: Workflow, registry: NodeRegistry): Workflow {
  const nodes: Workflow['nodes'] = {};
  for (const [id, node] of Object.entries(workflow.nodes)) {
    const def = registry.get(node.type)!;
    const inputs: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(def.inputs)) {
      const value = node.inputs?.[name];
      if (value !== undefined) inputs[name] = value;
      else if (spec.default !== undefined) inputs[name] = typeof spec.default === 'object' && spec.default !== null ? structuredClone(spec.default) : spec.default;
    }
    nodes[id] = { type: node.type, inputs };
  }
  return { ...workflow, nodes };
}

export function parseWorkflowText(text: string): { ok: true; value: unknown } | { ok: false; errors: ValidationError[] } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    return { ok: false, errors: [{ nodeId: null, code: 'INVALID_JSON', message: `The file is not valid JSON: ${(e as Error).message}.` }] };
  }
}

/**
 * Validate a workflow (an object, or JSON text) against a registry. Size, nesting and node count are
 * checked first, without recursion, so nothing later can overflow the stack or run for long.
 */
export function validateWorkflow(
  input: unknown,
  registry: NodeRegistry,
  requested?: readonly string[],
  limits: Partial<WorkflowLimits> = {},
): ValidationResult {
  const bounds = { ...DEFAULT_WORKFLOW_LIMITS, ...limits };
  let value = input;
  if (typeof input === 'string') {
    const tooLarge = textTooLarge(input, bounds);
    if (tooLarge.length > 0) return { ok: false, errors: tooLarge };
    const parsed = parseWorkflowText(input);
    if (!parsed.ok) return parsed;
    value = parsed.value;
  }
  const shape = checkWorkflowShape(value, bounds);
  if (shape.length > 0) return { ok: false, errors: shape };
  const errors = new ErrorList(bounds.maxErrors);
  if (!validateEnvelope(value)) {
    errors.add(envelopeErrors(validateEnvelope.errors ?? []));
    return { ok: false, errors: errors.result('') };
  }
  const workflow = value as Workflow;
  const nodeIds = Object.keys(workflow.nodes);
  let typeNames: string[] | undefined; // for suggestions, listed only when a type is unknown
  let checked = 0;
  for (const nodeId of nodeIds) {
    if (errors.full) break;
    checked++;
    const node = workflow.nodes[nodeId];
    const def = registry.get(node.type);
    if (!def) {
      errors.add([{ nodeId, code: 'UNKNOWN_NODE_TYPE', message: `Unknown node type "${node.type}".${suggestion(node.type, (typeNames ??= registry.list().map((d) => d.type)))} Run \`diffgraph nodes\` to list the node types.` }]);
      continue;
    }
    checkNode(workflow, registry, nodeId, def, errors);
  }
  const unchecked = nodeIds.length - checked;
  if (errors.full) return { ok: false, errors: errors.result(unchecked > 0 ? `${unchecked} of ${nodeIds.length} nodes not checked` : '') };
  for (const cycle of findCycles(upstreamOf(workflow))) {
    errors.add([{ nodeId: cycle[0], code: 'CYCLE', message: `Nodes ${cycle.map((id) => `"${id}"`).join(', ')} depend on each other in a cycle; remove one of the links between them.` }]);
  }
  const outputs = requested ?? workflow.outputs;
  let targets: string[];
  if (outputs !== undefined) {
    targets = [...new Set(outputs)];
    for (const id of targets) {
      if (errors.full) break;
      if (!Object.hasOwn(workflow.nodes, id)) {
        errors.add([{ nodeId: id, code: 'UNKNOWN_OUTPUT_NODE', message: `"outputs" names node "${id}", which is not in the workflow.${suggestion(id, nodeIds)}` }]);
      }
    }
  } else {
    targets = Object.entries(workflow.nodes).filter(([, n]) => registry.get(n.type)?.output).map(([id]) => id).sort();
  }
  if (targets.length === 0) {
    errors.add([{ nodeId: null, code: 'NO_OUTPUTS', message: 'Nothing to compute: list node ids in "outputs", or add an output node such as SaveTensor.' }]);
  }
  if (errors.items.length > 0) return { ok: false, errors: errors.result('') };
  return { ok: true, workflow: withDefaults(workflow, registry), outputs: targets };
}
