/**
 * Refusals of POST /prompt in ComfyUI's shape: `{ error: { type, message, details, extra_info },
 * node_errors: { <ComfyUI node id>: { errors: [...], class_type, dependent_outputs } } }`. Our
 * validation errors name our nodes and inputs; they are reported under the ComfyUI node (and input)
 * they come from.
 */
import { ancestors, upstreamOf, type Workflow } from '@diffgraph/engine';
import type { ApiError } from '../runs.ts';
import type { ComfyImportError } from './prompt.ts';

export interface ComfyError { type: string; message: string; details: string; extra_info: Record<string, unknown> }
export interface ComfyNodeErrors { errors: ComfyError[]; class_type: string; dependent_outputs: string[] }
export interface ComfyRefusal { error: ComfyError; node_errors: Record<string, ComfyNodeErrors> }

/** Our input names that differ from the ComfyUI input they come from, per ComfyUI class. */
const COMFY_INPUT: Record<string, Record<string, string>> = {
  CheckpointLoaderSimple: { path: 'ckpt_name' },
  LoadImage: { path: 'image' },
  EmptyLatentImage: { batch: 'batch_size' },
  KSampler: { spacing: 'scheduler', kind: 'sampler_name', latent: 'latent_image' },
  KSamplerAdvanced: { seed: 'noise_seed', spacing: 'scheduler', kind: 'sampler_name', latent: 'latent_image' },
  RandomNoise: { seed: 'noise_seed' },
  KSamplerSelect: { kind: 'sampler_name' },
  BasicScheduler: { spacing: 'scheduler' },
  SamplerCustomAdvanced: { solver: 'sampler', latent: 'latent_image' },
};

export function comfyError(type: string, message: string, details = '', extra: Record<string, unknown> = {}): ComfyError {
  return { type, message, details, extra_info: extra };
}

function classOf(prompt: Record<string, unknown>, id: string): string {
  const node = prompt[id] as { class_type?: unknown } | undefined;
  return typeof node?.class_type === 'string' ? node.class_type : '';
}

/** ComfyUI's summary of failed node validations. */
function outputsFailed(nodeErrors: Record<string, ComfyNodeErrors>): ComfyRefusal {
  const details = Object.values(nodeErrors).flatMap((n) => n.errors.map((e) => `${e.message}: ${e.details}`)).join('\n');
  return { error: comfyError('prompt_outputs_failed_validation', 'Prompt outputs failed validation', details), node_errors: nodeErrors };
}

function addNodeError(nodeErrors: Record<string, ComfyNodeErrors>, prompt: Record<string, unknown>, id: string, error: ComfyError, dependents: string[]): void {
  nodeErrors[id] ??= { errors: [], class_type: classOf(prompt, id), dependent_outputs: dependents };
  nodeErrors[id].errors.push(error);
}

/** A prompt the converter refused. */
export function importRefusal(e: ComfyImportError, prompt: Record<string, unknown>): ComfyRefusal {
  if (e.nodes.length === 0) return { error: comfyError('invalid_prompt', e.message), node_errors: {} };
  const nodeErrors: Record<string, ComfyNodeErrors> = {};
  for (const node of e.nodes) {
    const type = e.code === 'COMFY_UNSUPPORTED_NODES' ? 'unsupported_node' : e.code.toLowerCase();
    addNodeError(nodeErrors, prompt, node.id, comfyError(type, e.message, node.input ?? `Node ID '#${node.id}'`, node.input ? { input_name: node.input } : {}), []);
  }
  if (e.code === 'COMFY_UNSUPPORTED_NODES') {
    return { error: comfyError('invalid_prompt', e.message, e.nodes.map((n) => `Node ID '#${n.id}'`).join(', ')), node_errors: nodeErrors };
  }
  return outputsFailed(nodeErrors);
}

/** A converted prompt our validation (or the server's limits and path rules) refused. */
export function validationRefusal(errors: readonly ApiError[], prompt: Record<string, unknown>, workflow: Workflow, origins: Record<string, string>): ComfyRefusal {
  const comfyId = (nodeId: string) => origins[nodeId] ?? nodeId;
  const upstream = upstreamOf(workflow);
  const dependents = (nodeId: string) => (workflow.outputs ?? []).filter((o) => ancestors(upstream, [o]).has(nodeId)).map(comfyId);
  const nodeErrors: Record<string, ComfyNodeErrors> = {};
  for (const e of errors) {
    if (e.nodeId === null) continue;
    const id = comfyId(e.nodeId);
    const ours = 'input' in e && typeof e.input === 'string' ? e.input : undefined;
    const input = ours && (COMFY_INPUT[classOf(prompt, id)]?.[ours] ?? ours);
    addNodeError(nodeErrors, prompt, id, comfyError(e.code.toLowerCase(), e.message, input ?? '', input ? { input_name: input } : {}), dependents(e.nodeId));
  }
  const general = errors.find((e) => e.nodeId === null);
  if (general && Object.keys(nodeErrors).length === 0) return { error: comfyError(general.code.toLowerCase(), general.message), node_errors: {} };
  return outputsFailed(nodeErrors);
}
