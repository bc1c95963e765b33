/** How the CLI prints validation errors and results. */
import type { OutputResult, ValidationError } from '@diffgraph/engine';

export function formatErrors(file: string, errors: readonly ValidationError[]): string {
  const head = `${file}: ${errors.length} problem${errors.length === 1 ? '' : 's'}`;
  const lines = errors.map((e) => {
    const where = e.nodeId === null ? 'workflow' : `node "${e.nodeId}"${e.input ? `, input "${e.input}"` : ''}`;
    return `  ✗ ${e.code.padEnd(20)} ${where}: ${e.message}`;
  });
  return [head, ...lines].join('\n');
}

/** A short, printable view of an output value: tensors by shape, strings and numbers as they are. */
export function summarize(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'shape' in value && 'data' in value) return String(value);
  if (typeof value === 'string') return value;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

export function formatOutputs(outputs: Record<string, OutputResult>): string {
  return Object.entries(outputs)
    .map(([id, r]) => {
      if (r.status === 'succeeded') {
        const values = Object.entries(r.values).map(([k, v]) => `${k} = ${summarize(v)}`).join(', ');
        return `  ✓ ${id}: ${values}`;
      }
      if (r.status === 'failed') return `  ✗ ${id}: failed in node "${r.error.nodeId}": ${r.error.message}`;
      return `  – ${id}: cancelled`;
    })
    .join('\n');
}

/** Events as JSON lines; binary previews are replaced by a description. */
export function eventToJson(event: object): string {
  return JSON.stringify(event, (key, value) => {
    if (key === 'image' && typeof value === 'object' && value !== null) return { omitted: 'preview image' };
    if (typeof value === 'object' && value !== null && 'shape' in value && 'data' in value) return { tensor: String(value) };
    return value;
  });
}
