/** Conversions between engine Tensors and onnxruntime tensors, and batch concatenation/splitting. */
import { Tensor } from '@diffgraph/engine';
import * as ort from 'onnxruntime-node';
import { decodeHalf, encodeHalf } from './half.ts';

/**
 * Element types a wrapper converts at the boundary: the engine and the samplers work in float32 /
 * float64 whatever the model computes in. bfloat16 is not here because onnxruntime-node has no
 * bfloat16 tensor type to feed or read.
 */
export const FLOAT_IO_DTYPES = ['float32', 'float16'] as const;
export type FloatIoDtype = (typeof FLOAT_IO_DTYPES)[number];

function floatIoDtype(dtype: string, what: string): FloatIoDtype {
  if (dtype === 'float32' || dtype === 'float16') return dtype;
  throw new Error(`${what}: element type ${dtype} is not supported (diffgraph feeds and reads ${FLOAT_IO_DTYPES.join(' or ')})`);
}

/** An onnxruntime tensor of numbers in `dtype` (float16 is rounded to nearest even). */
export function floatTensor(values: ArrayLike<number>, dims: readonly number[], dtype: string = 'float32', what = 'input'): ort.Tensor {
  if (floatIoDtype(dtype, what) === 'float16') return new ort.Tensor('float16', encodeHalf(values), [...dims]);
  const data = values instanceof Float32Array ? values : Float32Array.from(values);
  return new ort.Tensor('float32', data, [...dims]);
}

/** The onnxruntime tensor of an engine tensor in the element type the model declares (float32 by default). */
export function toOrt(t: Tensor, dtype: string = 'float32', dims: readonly number[] = t.shape): ort.Tensor {
  return floatTensor(t.data, dims, dtype);
}

/** An engine tensor of a float32 or float16 model output, in the requested dtype. */
export function fromOrt(value: ort.Tensor, file: string, name: string, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  const type = floatIoDtype(value.type, `${file}: output '${name}'`);
  // float16 arrives as raw bit patterns (a Uint16Array), or as a Float16Array where the runtime has one.
  const data = type === 'float32' ? (value.data as Float32Array)
    : value.data instanceof Uint16Array ? decodeHalf(value.data) : Float32Array.from(value.data as ArrayLike<number>);
  return new Tensor([...value.dims], dtype === 'float64' ? Float64Array.from(data) : data);
}

/** Integer ids in the dtype the model declares (int32 in diffusers exports, int64 in optimum's). */
export function idsTensor(ids: readonly number[], dims: readonly number[], dtype: string): ort.Tensor {
  if (dtype === 'int64') return new ort.Tensor('int64', BigInt64Array.from(ids, (v) => BigInt(v)), [...dims]);
  if (dtype === 'int32') return new ort.Tensor('int32', Int32Array.from(ids), [...dims]);
  throw new Error(`unsupported id dtype ${dtype}`);
}

/** Stacks tensors along the leading axis (their item shapes must agree). */
export function concatBatch(parts: readonly Tensor[], what: string): Tensor {
  const item = parts[0].shape.slice(1);
  let batch = 0;
  for (const p of parts) {
    if (p.shape.length !== item.length + 1 || p.shape.slice(1).some((d, i) => d !== item[i])) {
      throw new Error(`${what}: cannot batch [${p.shape.join(', ')}] with [${parts[0].shape.join(', ')}]`);
    }
    batch += p.shape[0];
  }
  const out = new Float32Array(parts.reduce((s, p) => s + p.size, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p.data, offset);
    offset += p.size;
  }
  return new Tensor([batch, ...item], out);
}

/** `t` stacked `count` times along the leading axis (a CFG batch: the same states under each conditioning). */
export function repeatBatch(t: Tensor, count: number): Tensor {
  const out = new Float32Array(count * t.size);
  for (let i = 0; i < count; i++) out.set(t.data, i * t.size);
  return new Tensor([count * t.shape[0], ...t.shape.slice(1)], out);
}

/** Splits a tensor along the leading axis into `count` equal parts. */
export function splitBatch(t: Tensor, count: number): Tensor[] {
  const per = t.shape[0] / count;
  if (!Number.isInteger(per)) throw new Error(`cannot split a batch of ${t.shape[0]} into ${count} parts`);
  const size = t.size / count;
  const item = [per, ...t.shape.slice(1)];
  const parts: Tensor[] = [];
  for (let i = 0; i < count; i++) parts.push(new Tensor(item, t.data.slice(i * size, (i + 1) * size)));
  return parts;
}

/** Repeats a batch-1 tensor `batch` times (or checks that its batch already is `batch`). */
export function broadcastBatch(t: Tensor, batch: number, what: string): Tensor {
  if (t.shape[0] === batch) return t;
  if (t.shape[0] !== 1) throw new Error(`${what}: batch ${t.shape[0]} does not match the state's batch ${batch} (use 1 or ${batch})`);
  return concatBatch(Array.from({ length: batch }, () => t), what);
}
