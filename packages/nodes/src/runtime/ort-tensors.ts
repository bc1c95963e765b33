/** Conversions between engine Tensors and onnxruntime tensors, and batch concatenation/splitting. */
import { Tensor } from '@diffgraph/engine';
import * as ort from 'onnxruntime-node';

/** A float32 onnxruntime tensor of the engine tensor (copied only when it is float64). */
export function toOrt(t: Tensor, dims: readonly number[] = t.shape): ort.Tensor {
  const data = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  return new ort.Tensor('float32', data, [...dims]);
}

/** An engine tensor of a float32 model output, in the requested dtype. */
export function fromOrt(value: ort.Tensor, file: string, name: string, dtype: 'float32' | 'float64' = 'float32'): Tensor {
  if (value.type !== 'float32') throw new Error(`${file}: output '${name}' is ${value.type}, expected float32`);
  const data = value.data as Float32Array;
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

/** Splits a tensor along the leading axis into `count` equal parts. */
export function splitBatch(t: Tensor, count: number): Tensor[] {
  const per = t.shape[0] / count;
  if (!Number.isInteger(per)) throw new Error(`cannot split a batch of ${t.shape[0]} into ${count} parts`);
  const size = t.size / count;
  const item = [per, ...t.shape.slice(1)];
  return Array.from({ length: count }, (_, i) => new Tensor(item, t.data.slice(i * size, (i + 1) * size)));
}

/** Repeats a batch-1 tensor `batch` times (or checks that its batch already is `batch`). */
export function broadcastBatch(t: Tensor, batch: number, what: string): Tensor {
  if (t.shape[0] === batch) return t;
  if (t.shape[0] !== 1) throw new Error(`${what}: batch ${t.shape[0]} does not match the state's batch ${batch} (use 1 or ${batch})`);
  return concatBatch(Array.from({ length: batch }, () => t), what);
}
