/**
 * Tensors as JSON: `{ "shape": [...], "dtype": "float32" | "float64", "data": [...] }`, or a plain
 * (nested) array of numbers, which is read as float64 with the shape its nesting gives.
 */
import { Tensor, type DType } from '@diffgraph/engine';

export function tensorToJson(tensor: Tensor): { shape: number[]; dtype: DType; data: number[] } {
  return { shape: [...tensor.shape], dtype: tensor.dtype, data: Array.from(tensor.data) };
}

export function tensorFromJson(value: unknown): Tensor {
  if (Array.isArray(value)) return fromNested(value);
  if (typeof value !== 'object' || value === null) throw new Error('a tensor in JSON is an array or an object with shape and data');
  const { shape, dtype = 'float64', data } = value as Record<string, unknown>;
  if (!Array.isArray(shape) || !shape.every((n) => Number.isInteger(n) && n >= 0)) throw new Error('"shape" must be a list of non-negative integers');
  if (dtype !== 'float32' && dtype !== 'float64') throw new Error('"dtype" must be "float32" or "float64"');
  const flat = Array.isArray(data) ? data.flat(Infinity) : undefined;
  if (!flat || !flat.every((x) => typeof x === 'number')) throw new Error('"data" must be a list of numbers');
  return Tensor.from(shape as number[], flat as number[], dtype);
}

function fromNested(value: unknown[]): Tensor {
  const shape: number[] = [];
  let level: unknown = value;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  const flat = value.flat(Infinity);
  if (!flat.every((x) => typeof x === 'number')) throw new Error('a nested tensor array must hold only numbers');
  if (flat.length !== shape.reduce((a, b) => a * b, 1)) throw new Error('a nested tensor array must be rectangular');
  return Tensor.from(shape, flat as number[], 'float64');
}
