/**
 * Known linear measurement operators A for inverse problems. Each acts per
 * batch item on a [B, ...] tensor and knows its adjoint, so guiders can form the analytic gradient
 * ∇‖y − A x‖²/2 = −Aᵀ(y − A x) without autograd. Every operator satisfies ⟨A x, r⟩ = ⟨x, Aᵀ r⟩
 * (tested on random tensors).
 */
import type { Tensor } from '@diffgraph/engine';

export interface LinearOperator {
  /** Short description, e.g. "avgpool(4)". */
  readonly name: string;
  /** Shape of A x for states of shape `shape` ([B, ...]); throws with a clear message if A cannot act on it. */
  outputShape(shape: readonly number[]): number[];
  forward(x: Tensor): Tensor;
  /** Aᵀ r; `inputShape` is the shape of the states A acts on (the adjoint's output). */
  adjoint(r: Tensor, inputShape: readonly number[]): Tensor;
  /**
   * An upper bound on the largest eigenvalue of A Aᵀ (‖A‖²), exact for mask, avgpool and grayscale
   * (whose A Aᵀ is a multiple of the identity on the observed entries). Guiders use it to take steps
   * that cannot overshoot.
   */
  readonly gram: number;
  /** A pseudo-inverse A⁺ y where a cheap exact one exists (mask, avgpool, grayscale). */
  pinv?(y: Tensor, inputShape: readonly number[]): Tensor;
}

/** The item shape (without batch) and checks every operator shares. */
export function itemShapeOf(shape: readonly number[], what: string, minRank = 1): number[] {
  if (shape.length < minRank + 1) throw new Error(`${what}: states of shape [${shape.join(', ')}] need at least ${minRank} dims after the batch`);
  return shape.slice(1);
}

/**
 * An observation y broadcast to the batch of a measurement shape: y may hold one item (shared by every
 * state) or one per state.
 */
export function fitObservation(y: Tensor, measurementShape: readonly number[], what: string): Float64Array {
  const per = measurementShape.slice(1).reduce((a, b) => a * b, 1);
  const batch = measurementShape[0];
  const yPer = y.size / Math.max(1, y.batch);
  if (yPer !== per || (y.batch !== 1 && y.batch !== batch)) {
    throw new Error(`${what}: observation ${y} does not match the measurement shape [${measurementShape.join(', ')}] (batch 1 or ${batch}, ${per} values per item)`);
  }
  const out = new Float64Array(batch * per);
  for (let b = 0; b < batch; b++) {
    const src = y.batch === 1 ? 0 : b * per;
    for (let i = 0; i < per; i++) out[b * per + i] = y.data[src + i];
  }
  return out;
}

declare module '@diffgraph/engine' {
  interface SocketTypes {
    OPERATOR: LinearOperator;
  }
}
