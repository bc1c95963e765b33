/**
 * 3-D inverse problems with a 2-D prior (after DiffusionMBIR, Chung et al., CVPR 2023): the volume
 * [Z, ...slice] is the batch of the 2-D model, so any solver samples it slice-wise, and this guider
 * couples the slices through the x0-prediction it returns for the whole batch.
 *
 * Given the per-slice prediction x̂0 = E[x0 | x_t] and its covariance C = Cov[x0 | x_t] (Tweedie; see
 * dps.ts for the 'skip' and 'fd' routes to C·v), each step returns the MAP of
 *   ½‖x − x̂0‖²_{C⁻¹}  +  ½‖A x − y‖²/σ_y²  +  λ‖D_z x‖₁,
 * A a known linear operator on the volume (it may mix slices), D_z the forward difference along z and
 * λ the total-variation weight (λ = 0 leaves the slices independent a priori).
 *  - λ = 0: the quadratic's minimiser in Kalman form, x̂0 + C Aᵀ(A C Aᵀ + σ_y²)⁻¹(y − A x̂0), by conjugate
 *    gradients with inner products over the whole volume. For a Gaussian prior with 'fd' this is exactly
 *    E[x0 | x_t, y], so a sampler driven by it samples the exact joint posterior.
 *  - λ > 0: ADMM on the split v = D_z x. The x-step is the same Kalman solve with the stacked operator
 *    [A; D_z] and pseudo-observation [y; v − u] (noise variances σ_y², 1/ρ); the v-step soft-thresholds
 *    D_z x + u at λ/ρ; u accumulates D_z x − v. Warm start: x from the λ = 0 step, v = soft(D_z x).
 * Everything is scaled by c = (s/a)² (C = c·C̃, C̃ = I for 'skip'), which keeps it finite at a = 0:
 * variances σ_y²/c and 1/ρ̃, threshold c·λ/ρ̃ with ρ̃ = `admm_rho`. At high noise the prior term fades
 * and the step is DiffusionMBIR's TV-regularised least squares; at low noise x̂0 dominates.
 */
import type { Tensor } from '@diffgraph/engine';
import type { Guider } from '../contracts/sampling.ts';
import type { VolumeOperator } from '../operators/volume-operator.ts';
import { zDifference } from '../operators/volume-operator.ts';
import { jacobianVectorProduct, type JacobianMode } from './jacobian.ts';

export interface VolumeInverseOptions {
  /** Measurement noise std σ_y. */
  sigmaY?: number;
  /** λ: weight of the total variation along z (0 = no coupling). */
  tvWeight?: number;
  /** ADMM iterations per sampling step (λ > 0). */
  admmIterations?: number;
  /** ADMM penalty ρ̃, relative to the prior's precision 1/c. */
  admmRho?: number;
  /** Conjugate-gradient steps per Kalman solve (stops early once the residual is negligible). */
  cgSteps?: number;
  jacobian?: JacobianMode;
  /** Names the node in error messages. */
  node?: string;
}

/** A measurement-space vector: one tensor per block of the stacked operator. */
type Blocks = Tensor[];

const dotBlocks = (u: Blocks, v: Blocks) => u.reduce((acc, t, k) => {
  let s = acc;
  for (let i = 0; i < t.size; i++) s += t.data[i] * v[k].data[i];
  return s;
}, 0);

/** u + c·v, blockwise, as new tensors. */
const axpyBlocks = (u: Blocks, c: number, v: Blocks): Blocks => u.map((t, k) => {
  const out = t.clone();
  for (let i = 0; i < out.size; i++) out.data[i] += c * v[k].data[i];
  return out;
});

function softThreshold(v: Tensor, threshold: number): Tensor {
  const out = v.zerosLike();
  if (threshold === Infinity) return out;
  for (let i = 0; i < v.size; i++) {
    const m = Math.abs(v.data[i]) - threshold;
    out.data[i] = m > 0 ? Math.sign(v.data[i]) * m : 0;
  }
  return out;
}

export function volumeInverseGuider(inner: Guider, operator: VolumeOperator, observation: Tensor, options: VolumeInverseOptions = {}): Guider {
  const node = options.node ?? 'VolumeInverseGuider';
  const sigmaY = options.sigmaY ?? 0.05;
  const tv = options.tvWeight ?? 0;
  const admmIterations = options.admmIterations ?? 10;
  const rho = options.admmRho ?? 1;
  const cgSteps = options.cgSteps ?? 20;
  const mode = options.jacobian ?? 'skip';
  if (!(sigmaY >= 0)) throw new Error(`${node}: sigma_y must be ≥ 0, got ${sigmaY}`);
  if (!(tv >= 0)) throw new Error(`${node}: tv_weight must be ≥ 0, got ${tv}`);
  if (!(rho > 0)) throw new Error(`${node}: admm_rho must be > 0, got ${rho}`);
  if (!Number.isInteger(admmIterations) || admmIterations < 1) throw new Error(`${node}: admm_iterations must be a positive integer, got ${admmIterations}`);
  if (!Number.isInteger(cgSteps) || cgSteps < 1) throw new Error(`${node}: cg_steps must be a positive integer, got ${cgSteps}`);
  const { schedule } = inner;

  const checkObservation = (shape: readonly number[]) => {
    const expected = operator.outputShape(shape);
    if (observation.shape.length !== expected.length || observation.shape.some((d, i) => d !== expected[i])) {
      throw new Error(`${node}: observation ${observation} does not match what ${operator.name} gives for a volume [${shape.join(', ')}]: [${expected.join(', ')}]`);
    }
  };

  return {
    schedule,
    latentRgb: inner.latentRgb?.bind(inner),
    async denoise(x, t) {
      const x0 = await inner.denoise(x, t);
      const a = schedule.alpha(t), s = schedule.sigma(t);
      if (!(s > 0)) return x0; // at sigma = 0 the prediction is the state
      checkObservation(x.shape);
      const exact = mode === 'fd' && a > 0;
      // C̃ = C/c; with 'fd', C·v = (s²/a)·J·v, so C̃·v = a·J·v.
      const applyC = async (v: Tensor): Promise<Tensor> => {
        if (!exact) return v;
        const jv = await jacobianVectorProduct(inner.denoise, x, t, v);
        for (let i = 0; i < jv.size; i++) jv.data[i] *= a;
        return jv;
      };
      const c = a > 0 ? (s / a) ** 2 : Infinity;
      const dataVar = a > 0 ? (sigmaY * sigmaY) / c : 0;

      /** x̂0 + C̃ Hᵀ w with (H C̃ Hᵀ + Σ̃) w = target − H x̂0, H = the stacked `ops`, Σ̃ = diag(`variances`). */
      const kalman = async (ops: VolumeOperator[], targets: Tensor[], variances: number[]): Promise<Tensor> => {
        const adjointSum = (w: Blocks): Tensor => {
          const out = x0.zerosLike();
          ops.forEach((op, k) => {
            const part = op.adjoint(w[k], x.shape);
            for (let i = 0; i < out.size; i++) out.data[i] += part.data[i];
          });
          return out;
        };
        let res: Blocks = ops.map((op, k) => {
          const r = op.forward(x0);
          for (let i = 0; i < r.size; i++) r.data[i] = targets[k].data[i] - r.data[i];
          return r;
        });
        let p = res;
        let rr = dotBlocks(res, res);
        const stop = rr * 1e-24;
        let dx = x0.zerosLike();
        for (let j = 0; j < cgSteps && rr > stop && rr > 0; j++) {
          const q = await applyC(adjointSum(p));
          const mp = ops.map((op, k) => {
            const out = op.forward(q);
            for (let i = 0; i < out.size; i++) out.data[i] += variances[k] * p[k].data[i];
            return out;
          });
          const pmp = dotBlocks(p, mp);
          if (!(pmp > 0)) break;
          const step = rr / pmp;
          for (let i = 0; i < dx.size; i++) dx.data[i] += step * q.data[i];
          res = axpyBlocks(res, -step, mp);
          const rrNext = dotBlocks(res, res);
          p = axpyBlocks(res, rrNext / rr, p);
          rr = rrNext;
        }
        const out = x0.clone();
        for (let i = 0; i < out.size; i++) out.data[i] += dx.data[i];
        return out;
      };

      let xk = await kalman([operator], [observation], [dataVar]);
      if (tv === 0 || x.batch < 2) return xk;
      const threshold = a > 0 ? (c * tv) / rho : Infinity;
      let dz = zDifference.forward(xk);
      let v = softThreshold(dz, threshold);
      let u = v.zerosLike();
      for (let k = 0; k < admmIterations; k++) {
        const target = v.clone();
        for (let i = 0; i < target.size; i++) target.data[i] -= u.data[i];
        xk = await kalman([operator, zDifference], [observation, target], [dataVar, 1 / rho]);
        dz = zDifference.forward(xk);
        for (let i = 0; i < dz.size; i++) dz.data[i] += u.data[i];
        v = softThreshold(dz, threshold);
        for (let i = 0; i < u.size; i++) u.data[i] = dz.data[i] - v.data[i];
      }
      return xk;
    },
  };
}
