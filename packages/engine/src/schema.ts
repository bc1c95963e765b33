/**
 * JSON Schema of the workflow format, generated from the node registry (per-node input schemas
 * included). The validator compiles the same pieces with ajv; the editor and OpenAPI serve the whole.
 */
import type { InputSpec, NodeDefinition } from './types.ts';
import { isPrimitiveType, WORKFLOW_FORMAT } from './types.ts';
import type { NodeRegistry } from './registry.ts';

type Schema = Record<string, unknown>;

export const linkSchema: Schema = {
  type: 'object',
  description: 'A link to a named output of another node',
  properties: { from: { type: 'string', minLength: 1 }, output: { type: 'string', minLength: 1 } },
  required: ['from', 'output'],
  additionalProperties: false,
};

/** The schema a literal value of this input must satisfy (none for socket types: they need a link). */
export function literalSchema(spec: InputSpec): Schema | undefined {
  const bounds: Schema = {};
  if (spec.min !== undefined) bounds.minimum = spec.min;
  if (spec.max !== undefined) bounds.maximum = spec.max;
  switch (spec.type) {
    case 'INT':
      return { type: 'integer', ...bounds };
    case 'FLOAT':
      return { type: 'number', ...bounds };
    case 'STRING':
      return spec.enum ? { type: 'string', enum: [...spec.enum] } : { type: 'string' };
    case 'BOOLEAN':
      return { type: 'boolean' };
    case 'JSON':
      return spec.schema ?? {};
    default:
      return undefined;
  }
}

export function requiredInputs(def: NodeDefinition): string[] {
  return Object.entries(def.inputs)
    .filter(([, spec]) => !spec.optional && spec.default === undefined)
    .map(([name]) => name);
}

export function inputSchema(spec: InputSpec): Schema {
  const literal = literalSchema(spec);
  const annotations: Schema = { 'x-socket': spec.type };
  if (spec.default !== undefined) annotations.default = spec.default;
  if (spec.tooltip) annotations.description = spec.tooltip;
  if (spec.step !== undefined) annotations['x-step'] = spec.step;
  if (spec.multiline) annotations['x-multiline'] = true;
  if (!literal || !isPrimitiveType(spec.type)) return { ...linkSchema, ...annotations };
  return { anyOf: [linkSchema, literal], ...annotations };
}

export function nodeInputsSchema(def: NodeDefinition): Schema {
  const properties: Schema = {};
  for (const [name, spec] of Object.entries(def.inputs)) properties[name] = inputSchema(spec);
  return { type: 'object', properties, required: requiredInputs(def), additionalProperties: false };
}

/** The envelope alone: what must hold before per-node checks make sense. */
export const envelopeSchema: Schema = {
  type: 'object',
  properties: {
    format: { const: WORKFLOW_FORMAT },
    nodes: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        properties: { type: { type: 'string', minLength: 1 }, inputs: { type: 'object' } },
        required: ['type'],
        additionalProperties: false,
      },
    },
    outputs: { type: 'array', items: { type: 'string' } },
    ui: { type: 'object' },
    meta: { type: 'object' },
  },
  required: ['format', 'nodes'],
  additionalProperties: false,
};

/** The whole format as one JSON Schema document. */
export function workflowSchema(registry: NodeRegistry): Schema {
  const defs = registry.list();
  const definitions: Schema = {};
  for (const def of defs) definitions[`${def.type}.inputs`] = nodeInputsSchema(def);
  const node: Schema = {
    type: 'object',
    properties: { type: { enum: defs.map((d) => d.type) }, inputs: { type: 'object' } },
    required: ['type'],
    additionalProperties: false,
    allOf: defs.map((def) => ({
      if: { properties: { type: { const: def.type } } },
      then: {
        ...(requiredInputs(def).length > 0 ? { required: ['type', 'inputs'] } : {}),
        properties: { inputs: { $ref: `#/definitions/${def.type}.inputs` } },
      },
    })),
  };
  const envelopeProps = envelopeSchema.properties as Schema;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://diffgraph.dev/schema/workflow@1.json',
    title: 'diffgraph workflow',
    type: 'object',
    properties: { ...envelopeProps, nodes: { type: 'object', additionalProperties: { $ref: '#/definitions/node' } } },
    required: ['format', 'nodes'],
    additionalProperties: false,
    definitions: { ...definitions, node },
  };
}
