/** Small per-item helpers the inverse-problem code shares. */
import { Tensor } from '@diffgraph/engine';

/** Stack tensors of equal item shape along the batch (one model call for several perturbations). */
export function concatBatch(parts: readonly Tensor[]): Tensor {
  const item = parts[0].shape.slice(1);
  const batch = parts.reduce((n, p) => n + p.shape[0], 0);
  const out = Tensor.zeros([batch, ...item], parts[0].dtype);
  let offset = 0;
  for (const p of parts) {
    out.data.set(p.data, offset);
    offset += p.size;
  }
  return out;
}

/** Item b of a batch as a view-free copy range [start, end). */
export function itemRange(t: Tensor, b: number): [number, number] {
  const per = t.size / t.batch;
  return [b * per, (b + 1) * per];
}

/** ⟨u_b, v_b⟩ for every item b. */
export function itemDots(u: Tensor, v: Tensor): Float64Array {
  const out = new Float64Array(u.batch);
  for (let b = 0; b < u.batch; b++) {
    const [s, e] = itemRange(u, b);
    let acc = 0;
    for (let i = s; i < e; i++) acc += u.data[i] * v.data[i];
    out[b] = acc;
  }
  return out;
}

/** out_b = x_b + c_b·d_b, a new tensor in x's dtype. */
export function addScaledPerItem(x: Tensor, coefs: ArrayLike<number>, d: Tensor): Tensor {
  const out = x.clone();
  for (let b = 0; b < x.batch; b++) {
    const [s, e] = itemRange(x, b);
    const c = coefs[b];
    if (c === 0) continue;
    for (let i = s; i < e; i++) out.data[i] += c * d.data[i];
  }
  return out;
}

/** y − A(x) with y broadcast over the batch, as a tensor shaped like A(x). */
export function residual(y: Float64Array, ax: Tensor): Tensor {
  const r = ax.zerosLike();
  for (let i = 0; i < r.size; i++) r.data[i] = y[i] - ax.data[i];
  return r;
}
