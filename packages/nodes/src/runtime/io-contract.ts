/**
 * What a wrapper expects of an ONNX model's inputs and outputs, checked against the session's declared
 * metadata when the model loads, so a wrong file fails at load time with every mismatch named
 * (file, input, expected vs found) instead of deep inside a sampling loop.
 */
import type { InferenceSession } from 'onnxruntime-node';

export interface TensorExpectation {
  /** Accepted element types (onnxruntime names: float32, int64, …). */
  dtypes: readonly string[];
  /** Accepted ranks (a timestep may be 0 or 1). */
  ranks: readonly number[];
  /** Sizes the wrapper relies on, by axis; null = any (symbolic dims always pass). */
  dims?: readonly (number | null)[];
}

export interface IoContract {
  inputs: Record<string, TensorExpectation>;
  outputs: Record<string, TensorExpectation>;
}

/** A declared tensor: its dtype and shape (numbers for fixed axes, strings for symbolic ones). */
export interface DeclaredTensor {
  name: string;
  dtype: string;
  shape: readonly (number | string)[];
}

export class OnnxContractError extends Error {
  constructor(readonly file: string, readonly problems: string[], role: string) {
    super(`${file}: not a valid ${role} model:\n  - ${problems.join('\n  - ')}`);
    this.name = 'OnnxContractError';
  }
}

export function declaredTensors(metadata: readonly InferenceSession.ValueMetadata[]): Map<string, DeclaredTensor | null> {
  const out = new Map<string, DeclaredTensor | null>();
  for (const m of metadata) out.set(m.name, m.isTensor ? { name: m.name, dtype: m.type, shape: m.shape } : null);
  return out;
}

export const formatShape = (shape: readonly (number | string | null)[]): string => `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]`;

function checkTensor(kind: 'input' | 'output', name: string, want: TensorExpectation, found: DeclaredTensor | null): string[] {
  if (found === null) return [`${kind} '${name}': expected a tensor, found a non-tensor value (sequence or map)`];
  const problems: string[] = [];
  if (!want.dtypes.includes(found.dtype)) {
    // onnxruntime-node has no bfloat16 tensors to feed or read, so such IO cannot be converted here.
    const hint = found.dtype === 'bfloat16' ? ' (onnxruntime-node cannot pass bfloat16 tensors: re-export with float16 or float32 inputs and outputs)' : '';
    problems.push(`${kind} '${name}': expected dtype ${want.dtypes.join(' or ')}, found ${found.dtype}${hint}`);
  }
  if (!want.ranks.includes(found.shape.length)) {
    problems.push(`${kind} '${name}': expected rank ${want.ranks.join(' or ')}, found rank ${found.shape.length} ${formatShape(found.shape)}`);
  } else if (want.dims) {
    want.dims.forEach((size, axis) => {
      const dim = found.shape[axis];
      if (size !== null && typeof dim === 'number' && dim !== size) {
        problems.push(`${kind} '${name}': expected size ${size} on axis ${axis} (shape ${formatShape(want.dims!)}), found ${formatShape(found.shape)}`);
      }
    });
  }
  return problems;
}

/** Every mismatch between the contract and the declared model, as readable lines (empty: it fits). */
export function contractProblems(contract: IoContract, inputs: Map<string, DeclaredTensor | null>, outputs: Map<string, DeclaredTensor | null>): string[] {
  const problems: string[] = [];
  const names = (m: Map<string, unknown>) => [...m.keys()].join(', ') || 'none';
  for (const [name, want] of Object.entries(contract.inputs)) {
    if (!inputs.has(name)) problems.push(`missing input '${name}' (the model declares inputs: ${names(inputs)})`);
    else problems.push(...checkTensor('input', name, want, inputs.get(name)!));
  }
  for (const name of inputs.keys()) {
    if (!(name in contract.inputs)) problems.push(`unexpected input '${name}': the wrapper feeds only ${Object.keys(contract.inputs).join(', ')}`);
  }
  for (const [name, want] of Object.entries(contract.outputs)) {
    if (!outputs.has(name)) problems.push(`missing output '${name}' (the model declares outputs: ${names(outputs)})`);
    else problems.push(...checkTensor('output', name, want, outputs.get(name)!));
  }
  return problems;
}
