/**
 * A dense tensor: a shape and a flat row-major buffer. Solvers run in the buffer's dtype, so a model
 * that answers in float64 gets float64 arithmetic end to end.
 */
export type DType = 'float32' | 'float64';
export type TensorData = Float32Array | Float64Array;

export class Tensor {
  readonly shape: readonly number[];
  readonly data: TensorData;

  constructor(shape: readonly number[], data: TensorData) {
    let size = 1;
    for (let i = 0; i < shape.length; i++) size *= shape[i];
    if (data.length !== size) {
      throw new Error(`Tensor shape [${shape.join(', ')}] needs ${size} values, got ${data.length}`);
    }
    // A frozen shape (another tensor's) can be shared as is; anything else is copied so no caller can change it.
    this.shape = Array.isArray(shape) && Object.isFrozen(shape) ? shape : Object.freeze([...shape]);
    this.data = data;
  }

  static zeros(shape: readonly number[], dtype: DType = 'float32'): Tensor {
    const size = shape.reduce((a, b) => a * b, 1);
    return new Tensor(shape, dtype === 'float64' ? new Float64Array(size) : new Float32Array(size));
  }

  static from(shape: readonly number[], values: ArrayLike<number>, dtype: DType = 'float32'): Tensor {
    return new Tensor(shape, dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values));
  }

  get dtype(): DType {
    return this.data instanceof Float64Array ? 'float64' : 'float32';
  }

  get size(): number {
    return this.data.length;
  }

  /** Bytes held by the buffer; the cache budgets by this. */
  get byteSize(): number {
    return this.data.byteLength;
  }

  /** Length of the leading (batch) dimension; a scalar counts as one item. */
  get batch(): number {
    return this.shape.length === 0 ? 1 : this.shape[0];
  }

  clone(): Tensor {
    return new Tensor(this.shape, this.data.slice());
  }

  /** A tensor of the same shape and dtype, zero-filled. */
  zerosLike(): Tensor {
    return Tensor.zeros(this.shape, this.dtype);
  }

  reshape(shape: readonly number[]): Tensor {
    return new Tensor(shape, this.data);
  }

  toString(): string {
    return `Tensor<${this.dtype}>[${this.shape.join('x')}]`;
  }
}

function assertSameSize(a: Tensor, b: Tensor, op: string): void {
  if (a.size !== b.size) {
    throw new Error(`${op}: size mismatch ${a} vs ${b}`);
  }
}

/** out = sum_i coeffs[i] * terms[i]. `out` may be one of the terms: each entry is read before it is written. */
export function linearCombination(out: Tensor, coeffs: readonly number[], terms: readonly Tensor[]): Tensor {
  if (coeffs.length !== terms.length) throw new Error('linearCombination: coeffs and terms differ in length');
  for (const t of terms) assertSameSize(out, t, 'linearCombination');
  const o = out.data;
  const n = o.length;
  const k = terms.length;
  if (k === 1) {
    const a = coeffs[0], x = terms[0].data;
    for (let i = 0; i < n; i++) o[i] = a * x[i];
  } else if (k === 2) {
    const a = coeffs[0], x = terms[0].data, b = coeffs[1], y = terms[1].data;
    for (let i = 0; i < n; i++) o[i] = a * x[i] + b * y[i];
  } else if (k === 3) {
    const [a, b, c] = coeffs;
    const x = terms[0].data, y = terms[1].data, z = terms[2].data;
    for (let i = 0; i < n; i++) o[i] = a * x[i] + b * y[i] + c * z[i];
  } else {
    const datas = terms.map((t) => t.data);
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += coeffs[j] * datas[j][i];
      o[i] = s;
    }
  }
  return out;
}

/** A new tensor (dtype of the first term) holding sum_i coeffs[i] * terms[i]. */
export function combine(coeffs: readonly number[], terms: readonly Tensor[]): Tensor {
  return linearCombination(terms[0].zerosLike(), coeffs, terms);
}

/** y += a * x, in place. */
export function axpy(y: Tensor, a: number, x: Tensor): Tensor {
  assertSameSize(y, x, 'axpy');
  const yd = y.data, xd = x.data;
  for (let i = 0; i < yd.length; i++) yd[i] += a * xd[i];
  return y;
}

/** x *= a, in place. */
export function scale(x: Tensor, a: number): Tensor {
  const d = x.data;
  for (let i = 0; i < d.length; i++) d[i] *= a;
  return x;
}

export function dot(a: Tensor, b: Tensor): number {
  assertSameSize(a, b, 'dot');
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i] * b.data[i];
  return s;
}

export function norm(x: Tensor): number {
  return Math.sqrt(dot(x, x));
}

/** L2 norm of each item along the leading dimension. */
export function batchNorms(x: Tensor): Float64Array {
  const b = x.batch;
  const per = x.size / b;
  const out = new Float64Array(b);
  for (let i = 0; i < b; i++) {
    let s = 0;
    for (let j = i * per; j < (i + 1) * per; j++) s += x.data[j] * x.data[j];
    out[i] = Math.sqrt(s);
  }
  return out;
}

/** Largest |a - b| over all entries. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  assertSameSize(a, b, 'maxAbsDiff');
  let m = 0;
  for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
  return m;
}
