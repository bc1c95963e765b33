/**
 * GET /object_info: the ComfyUI classes the converter supports, in ComfyUI's shape, with the lists a
 * client picks from filled in: the pipelines in the model folder, the images in the input folder, and
 * only the sampler and scheduler names that convert.
 */
import { readdirSync } from 'node:fs';
import { modelCatalog } from '@diffgraph/nodes';
import type { Limits } from '../guard.ts';
import { COMFY_CLASSES, type ChoiceList, type ComfyClass, type ComfyInputSpec } from './classes.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from './samplers.ts';

export interface ObjectInfoContext {
  modelsRoot: string;
  inputsRoot: string;
  limits: Limits;
}

const IMAGE_FILE = /\.(png|jpe?g)$/i;

function choices(list: ChoiceList, ctx: ObjectInfoContext): string[] {
  switch (list) {
    case 'checkpoints':
      return modelCatalog([ctx.modelsRoot]).filter((m) => m.loader === 'LoadPipeline').map((m) => m.name);
    case 'input_images':
      try {
        return readdirSync(ctx.inputsRoot, { withFileTypes: true }).filter((e) => e.isFile() && IMAGE_FILE.test(e.name)).map((e) => e.name).sort();
      } catch {
        return [];
      }
    case 'samplers':
      return Object.keys(COMFY_SAMPLERS).filter((name) => COMFY_SAMPLERS[name] !== null);
    case 'schedulers':
      return Object.keys(COMFY_SCHEDULERS).filter((name) => COMFY_SCHEDULERS[name] !== null);
  }
}

/** This server's limits where a ComfyUI input is bounded by one. */
const LIMITED: Record<string, keyof Limits> = { steps: 'maxSteps', batch_size: 'maxBatch' };

function inputSpec(name: string, spec: ComfyInputSpec, ctx: ObjectInfoContext): unknown[] {
  if ('link' in spec) return [spec.link];
  const options = { ...spec.options };
  const limit = LIMITED[name];
  if (limit && typeof options.max === 'number') options.max = Math.min(options.max, ctx.limits[limit] as number);
  const head = 'choices' in spec ? (typeof spec.choices === 'string' ? choices(spec.choices, ctx) : [...spec.choices]) : spec.type;
  return Object.keys(options).length > 0 ? [head, options] : [head];
}

function classInfo(name: string, spec: ComfyClass, ctx: ObjectInfoContext): Record<string, unknown> {
  const required = Object.fromEntries(Object.entries(spec.required).map(([input, s]) => [input, inputSpec(input, s, ctx)]));
  return {
    input: { required, optional: {} },
    input_order: { required: Object.keys(required) },
    output: spec.outputs.map((o) => o.type),
    output_is_list: spec.outputs.map(() => false),
    output_name: spec.outputs.map((o) => o.name),
    name,
    display_name: spec.displayName,
    description: spec.description,
    python_module: 'nodes',
    category: spec.category,
    output_node: spec.outputNode === true,
  };
}

export function objectInfo(ctx: ObjectInfoContext, only?: string): Record<string, unknown> {
  const names = only === undefined ? Object.keys(COMFY_CLASSES) : Object.hasOwn(COMFY_CLASSES, only) ? [only] : [];
  return Object.fromEntries(names.map((name) => [name, classInfo(name, COMFY_CLASSES[name], ctx)]));
}
