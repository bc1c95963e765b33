/**
 * ComfyUI workflow → diffgraph/workflow@1. Each ComfyUI node becomes the node of the same id; a
 * KSampler, which is several steps in one, becomes a Sample node of its id plus "<id>_noise",
 * "<id>_guider", "<id>_schedule" and "<id>_solver".
 */
import type { Workflow, WorkflowNode } from '@diffgraph/engine';
import { apiToPrompt, ComfyImportError, comfyFormat, type ComfyLink, type ComfyNode, type ComfyPrompt, isComfyLink, uiToPrompt } from './prompt.ts';
import { COMFY_CLASSES } from './classes.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from './samplers.ts';

export { ComfyImportError, comfyFormat } from './prompt.ts';

/** Our output names, by ComfyUI output index, per class. */
const OUTPUTS: Record<string, string[]> = Object.fromEntries(Object.entries(COMFY_CLASSES).map(([type, spec]) => [type, spec.outputs.map((o) => o.ours)]));

export interface ComfyConversion {
  workflow: Workflow;
  format: 'api' | 'ui';
  notes: string[];
  /** The ComfyUI node id each of our nodes comes from (a KSampler's helpers map to the KSampler). */
  origins: Record<string, string>;
}

type Ref = { from: string; output: string };

class Converter {
  readonly nodes: Record<string, WorkflowNode> = {};
  readonly notes: string[] = [];
  readonly origins: Record<string, string> = {};
  /** The ComfyUI node being converted: every node added now comes from it. */
  current = '';
  constructor(private readonly prompt: ComfyPrompt) {}

  private where(id: string): string {
    return `node ${id} (${this.prompt.get(id)!.classType})`;
  }

  /** An error about one node (and input), which the API reports under that node's id. */
  fail(id: string, code: ComfyImportError['code'], message: string, input?: string): ComfyImportError {
    return new ComfyImportError(code, `${this.where(id)}: ${message}`, [{ id, classType: this.prompt.get(id)!.classType, ...(input ? { input } : {}) }]);
  }

  private raw(id: string, name: string, fallback?: unknown): unknown {
    const value = this.prompt.get(id)!.inputs[name];
    if (value !== undefined) return value;
    if (fallback !== undefined) return fallback;
    throw this.fail(id, 'COMFY_INVALID_WORKFLOW', `input "${name}" is missing.`, name);
  }

  /** A linked input as our link. */
  link(id: string, name: string): Ref {
    const value = this.raw(id, name);
    if (!isComfyLink(value)) throw this.fail(id, 'COMFY_INVALID_WORKFLOW', `input "${name}" must be linked to another node's output.`, name);
    return this.ref(id, name, value);
  }

  private ref(id: string, name: string, [from, index]: ComfyLink): Ref {
    const source = this.prompt.get(String(from));
    const output = source && OUTPUTS[source.classType]?.[index];
    if (!output) throw this.fail(id, 'COMFY_INVALID_WORKFLOW', `input "${name}" links to output ${index} of node ${from}, which ${source ? `a ${source.classType} does not have` : 'is not in the workflow'}.`, name);
    return { from: String(from), output };
  }

  /** A widget value (a linked value is accepted where our input takes links too). */
  value(id: string, name: string, fallback?: unknown): unknown {
    const value = this.raw(id, name, fallback);
    if (isComfyLink(value)) throw this.fail(id, 'COMFY_UNSUPPORTED_SETTING', `input "${name}" is linked to node ${value[0]}; only a literal value (or a PrimitiveNode's) converts.`, name);
    return value;
  }

  /** The one checkpoint's model, for nodes that take no model in ComfyUI but need one here. */
  checkpointModel(id: string): Ref {
    const loaders = [...this.prompt].filter(([, n]) => n.classType === 'CheckpointLoaderSimple').map(([i]) => i);
    if (loaders.length !== 1) throw this.fail(id, 'COMFY_INVALID_WORKFLOW', `needs the model of the workflow's checkpoint, and it has ${loaders.length} CheckpointLoaderSimple nodes.`);
    return { from: loaders[0], output: 'model' };
  }

  solver(id: string): Record<string, unknown> {
    const name = String(this.value(id, 'sampler_name'));
    const settings = COMFY_SAMPLERS[name];
    if (!settings) throw this.fail(id, 'COMFY_UNSUPPORTED_SETTING', `sampler_name "${name}" has no equivalent here (see docs/comfyui.md for the supported ones).`, 'sampler_name');
    return settings;
  }

  spacing(id: string): string {
    const name = String(this.value(id, 'scheduler'));
    const spacing = COMFY_SCHEDULERS[name];
    if (!spacing) throw this.fail(id, 'COMFY_UNSUPPORTED_SETTING', `scheduler "${name}" has no equivalent here (see docs/comfyui.md for the supported ones).`, 'scheduler');
    return spacing;
  }

  add(id: string, type: string, inputs: Record<string, unknown>): void {
    this.nodes[id] = { type, inputs };
    this.origins[id] = this.current;
  }
}

type Handler = (c: Converter, id: string) => void;

/** A pipeline folder is named like the checkpoint file without its extension. */
function pipelinePath(ckptName: string): string {
  return ckptName.replace(/\\/g, '/').replace(/\.(safetensors|ckpt|pt|pth|bin|onnx)$/i, '');
}

/** torch CPU randn (mt19937), ComfyUI's start noise: the same seed gives the same noise. */
const COMFY_NOISE = 'cpu';

function ksampler(c: Converter, id: string, seedInput: string, addNoise: boolean): void {
  const model = c.link(id, 'model');
  c.add(`${id}_noise`, 'RandomNoise', { seed: c.value(id, seedInput), rng: COMFY_NOISE });
  c.add(`${id}_guider`, 'CFGGuider', { model, positive: c.link(id, 'positive'), negative: c.link(id, 'negative'), cfg: c.value(id, 'cfg', 8) });
  c.add(`${id}_schedule`, 'Schedule', { model, spacing: c.spacing(id), steps: c.value(id, 'steps'), denoise: c.value(id, 'denoise', 1) });
  c.add(`${id}_solver`, 'Solver', c.solver(id));
  c.add(id, 'Sample', {
    noise: { from: `${id}_noise`, output: 'noise' }, guider: { from: `${id}_guider`, output: 'guider' },
    solver: { from: `${id}_solver`, output: 'solver' }, sigmas: { from: `${id}_schedule`, output: 'sigmas' },
    latent: c.link(id, 'latent_image'), add_noise: addNoise,
  });
}

const HANDLERS: Record<string, Handler> = {
  CheckpointLoaderSimple: (c, id) => c.add(id, 'LoadPipeline', { path: pipelinePath(String(c.value(id, 'ckpt_name'))) }),
  CLIPTextEncode: (c, id) => c.add(id, 'TextEncode', { encoder: c.link(id, 'clip'), text: c.value(id, 'text') }),
  EmptyLatentImage: (c, id) => {
    const [width, height] = [c.value(id, 'width', 512), c.value(id, 'height', 512)];
    c.notes.push(`node ${id} (EmptyLatentImage): the latent size comes from the model's own sample size; ${width}×${height} is not carried over.`);
    c.add(id, 'EmptyLatent', { batch: c.value(id, 'batch_size', 1), model: c.checkpointModel(id) });
  },
  KSampler: (c, id) => ksampler(c, id, 'seed', true),
  KSamplerAdvanced: (c, id) => {
    const steps = Number(c.value(id, 'steps'));
    const [start, end] = [Number(c.value(id, 'start_at_step', 0)), Number(c.value(id, 'end_at_step', 10000))];
    if (start > 0 || end < steps) throw c.fail(id, 'COMFY_UNSUPPORTED_SETTING', `start_at_step ${start} / end_at_step ${end} sample part of the schedule, which does not convert; only the whole schedule (0 to ${steps} or more) does.`, start > 0 ? 'start_at_step' : 'end_at_step');
    ksampler(c, id, 'noise_seed', c.value(id, 'add_noise', 'enable') !== 'disable');
  },
  VAEEncode: (c, id) => c.add(id, 'VAEEncode', { vae: c.link(id, 'vae'), image: c.link(id, 'pixels') }),
  VAEDecode: (c, id) => c.add(id, 'VAEDecode', { vae: c.link(id, 'vae'), latent: c.link(id, 'samples') }),
  LoadImage: (c, id) => c.add(id, 'LoadImage', { path: c.value(id, 'image') }),
  SaveImage: (c, id) => c.add(id, 'SaveImage', { images: c.link(id, 'images'), filename_prefix: c.value(id, 'filename_prefix', 'ComfyUI') }),
  // Full size (ComfyUI saves the image itself), so the API's temp image is the real one.
  PreviewImage: (c, id) => c.add(id, 'PreviewImage', { images: c.link(id, 'images'), max_side: 4096 }),
  RandomNoise: (c, id) => c.add(id, 'RandomNoise', { seed: c.value(id, 'noise_seed'), rng: COMFY_NOISE }),
  DisableNoise: (c, id) => c.add(id, 'DisableNoise', {}),
  CFGGuider: (c, id) => c.add(id, 'CFGGuider', { model: c.link(id, 'model'), positive: c.link(id, 'positive'), negative: c.link(id, 'negative'), cfg: c.value(id, 'cfg', 8) }),
  BasicGuider: (c, id) => c.add(id, 'BasicGuider', { model: c.link(id, 'model'), conditioning: c.link(id, 'conditioning') }),
  KSamplerSelect: (c, id) => c.add(id, 'Solver', c.solver(id)),
  BasicScheduler: (c, id) => c.add(id, 'Schedule', { model: c.link(id, 'model'), spacing: c.spacing(id), steps: c.value(id, 'steps'), denoise: c.value(id, 'denoise', 1) }),
  KarrasScheduler: (c, id) => {
    c.notes.push(`node ${id} (KarrasScheduler): sigma_max and sigma_min come from the model's noise schedule.`);
    c.add(id, 'Schedule', { model: c.checkpointModel(id), spacing: 'karras', steps: c.value(id, 'steps'), rho: c.value(id, 'rho', 7) });
  },
  ExponentialScheduler: (c, id) => {
    c.notes.push(`node ${id} (ExponentialScheduler): sigma_max and sigma_min come from the model's noise schedule.`);
    c.add(id, 'Schedule', { model: c.checkpointModel(id), spacing: 'exponential', steps: c.value(id, 'steps') });
  },
  SamplerCustomAdvanced: (c, id) => c.add(id, 'Sample', {
    noise: c.link(id, 'noise'), guider: c.link(id, 'guider'), solver: c.link(id, 'sampler'), sigmas: c.link(id, 'sigmas'), latent: c.link(id, 'latent_image'),
  }),
};

// The UI table and the converters cover the same classes.
for (const type of Object.keys(HANDLERS)) if (!COMFY_CLASSES[type]) throw new Error(`ComfyUI import: ${type} lacks its class description`);

const HELPER_OFFSETS: Record<string, [number, number]> = { noise: [-320, 0], guider: [-320, 160], schedule: [-320, 320], solver: [-320, 480] };

function positions(prompt: ComfyPrompt, nodes: Record<string, WorkflowNode>): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const id of Object.keys(nodes)) {
    const [base, helper] = id.split('_');
    const pos = prompt.get(base)?.pos;
    if (!pos) continue;
    const offset = helper ? HELPER_OFFSETS[helper] ?? [0, 0] : [0, 0];
    out[id] = [pos[0] + offset[0], pos[1] + offset[1]];
  }
  return out;
}

/** Converts a ComfyUI workflow (either format); throws ComfyImportError when it cannot. */
export function convertComfyWorkflow(value: unknown): ComfyConversion {
  const format = comfyFormat(value);
  if (!format) throw new ComfyImportError('COMFY_INVALID_WORKFLOW', 'This is neither a ComfyUI API-format workflow nor a ComfyUI UI-format workflow.');
  const prompt = format === 'api' ? apiToPrompt(value as Record<string, unknown>) : uiToPrompt(value as { nodes: Record<string, unknown>[]; links: unknown[] });
  const unsupported = [...prompt].filter(([, n]) => !Object.hasOwn(HANDLERS, n.classType)).map(([id, n]) => ({ id, classType: n.classType }));
  if (unsupported.length > 0) {
    throw new ComfyImportError('COMFY_UNSUPPORTED_NODES', `This ComfyUI workflow uses ${unsupported.length} node${unsupported.length > 1 ? 's' : ''} with no diffgraph equivalent: ${unsupported.map((n) => `${n.id} (${n.classType})`).join(', ')}.`, unsupported);
  }
  const converter = new Converter(prompt);
  for (const [id, node] of prompt) {
    converter.current = id;
    HANDLERS[node.classType](converter, id);
  }
  const outputs = [...prompt].filter(([, n]: [string, ComfyNode]) => n.classType === 'SaveImage' || n.classType === 'PreviewImage').map(([id]) => id);
  const ui = format === 'ui' ? { positions: positions(prompt, converter.nodes) } : undefined;
  const workflow: Workflow = {
    format: 'diffgraph/workflow@1', nodes: converter.nodes, outputs,
    ...(ui ? { ui } : {}),
    meta: { title: `Imported from a ComfyUI workflow (${format === 'api' ? 'API' : 'UI'} format)` },
  };
  return { workflow, format, notes: converter.notes, origins: converter.origins };
}
