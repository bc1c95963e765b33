/**
 * Whatever a user brings as a workflow, turned into ours: a diffgraph workflow as it is, a ComfyUI
 * workflow (API or UI format) converted, and a PNG by the workflow embedded in it — ours (SaveImage
 * writes a `workflow` text chunk) or ComfyUI's (it writes `prompt`, the API format it executed, and
 * `workflow`, the UI graph with the author's layout).
 */
import { readPngText } from '@diffgraph/nodes';
import { ComfyImportError, comfyFormat, convertComfyWorkflow } from './comfy/convert.ts';

export type ImportSource = 'diffgraph' | 'comfyui-api' | 'comfyui-ui';

export interface ImportedWorkflow {
  /** A diffgraph workflow, or the value as it was when it is neither ours nor ComfyUI's (validation then says why). */
  workflow: unknown;
  source: ImportSource;
  notes: string[];
}

/** Which of a ComfyUI PNG's two graphs to try first: the executed `prompt` or the laid-out `workflow`. */
export type ComfyPngPreference = 'api' | 'ui';

export class WorkflowImportError extends Error {
  constructor(readonly code: 'NOT_A_PNG' | 'UNREADABLE_PNG' | 'NO_EMBEDDED_WORKFLOW', message: string) {
    super(message);
  }
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && PNG_SIGNATURE.equals(Buffer.from(bytes.buffer, bytes.byteOffset, 8));
}

/** A parsed JSON value: ours as it is, ComfyUI's converted (throws ComfyImportError when it cannot be). */
export function importWorkflowValue(value: unknown): ImportedWorkflow {
  const format = comfyFormat(value);
  if (!format) return { workflow: value, source: 'diffgraph', notes: [] };
  const { workflow, notes } = convertComfyWorkflow(value);
  return { workflow, source: format === 'api' ? 'comfyui-api' : 'comfyui-ui', notes };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The workflow embedded in a PNG. Ours wins when present; of ComfyUI's two graphs the preferred one
 * is tried first and the other when it cannot be converted, so a UI graph holding a node the
 * converter does not know still opens from the executed prompt.
 */
export function importPng(png: Buffer, prefer: ComfyPngPreference = 'api'): ImportedWorkflow {
  if (!isPng(png)) throw new WorkflowImportError('NOT_A_PNG', 'This is not a PNG file.');
  let text: Record<string, string>;
  try {
    text = readPngText(png);
  } catch (e) {
    throw new WorkflowImportError('UNREADABLE_PNG', `This PNG cannot be read: ${(e as Error).message}`);
  }
  const workflow = parseJson(text.workflow);
  if (workflow !== undefined && comfyFormat(workflow) === null && typeof workflow === 'object' && workflow !== null && 'format' in workflow) {
    return { workflow, source: 'diffgraph', notes: [] };
  }
  const graphs = { api: parseJson(text.prompt), ui: workflow };
  const order = (prefer === 'api' ? ['api', 'ui'] : ['ui', 'api']) as ComfyPngPreference[];
  const candidates = order.map((kind) => graphs[kind]).filter((graph) => comfyFormat(graph) !== null);
  if (candidates.length === 0) {
    throw new WorkflowImportError('NO_EMBEDDED_WORKFLOW', 'This PNG carries no workflow: only images written by diffgraph\'s SaveImage (with embed_metadata) or by ComfyUI have one.');
  }
  let firstError: ComfyImportError | undefined;
  for (const graph of candidates) {
    try {
      return importWorkflowValue(graph);
    } catch (e) {
      if (!(e instanceof ComfyImportError)) throw e;
      firstError ??= e;
    }
  }
  throw firstError!;
}
