/**
 * DPS-style guidance on the x0-prediction (Chung et al., arXiv 2209.14687; the Jacobian routes of jacobian.ts), as a guider that
 * wraps an inner guider and returns a corrected x0 for any solver.
 *
 * Why an x0 correction: a GUIDER only answers x0 for a state. Tweedie's formula for the posterior
 * p(x0 | x_t, y) turns a likelihood gradient into one:
 *   E[x0 | x_t, y] = x̂0 + (s²/a)·∇_{x_t} log p(y | x_t),
 * and DPS's approximation p(y | x_t) ≈ N(y; A x̂0(x_t), ·) has the gradient Jᵀ Aᵀ w with J = ∂x̂0/∂x_t.
 * Since (s²/a)·J = C = Cov[x0 | x_t] (Tweedie, second order; J is symmetric), the correction is C Aᵀ w.
 *
 * The step: DPS's raw w = r/σ_y² (r = y − A x̂0) overshoots wildly at high noise (C ≫ σ_y²), which is
 * why DPS normalises its step by ‖r‖. We use the likelihood's predicted covariance instead,
 * p(y | x_t) ≈ N(y; A x̂0, σ_y² + A C Aᵀ), i.e. w solves (A C Aᵀ + σ_y² I) w = r:
 *   x̃0 = x̂0 + ζ·C Aᵀ w,
 * with w from `iterations` conjugate-gradient steps (w₀ = 0; one step is exact when A C Aᵀ is a
 * multiple of I, e.g. mask/avgpool/grayscale with isotropic C; blur needs a few). CG never overshoots
 * the solution in the energy norm, so no step size needs tuning (ζ = 1). C·v comes from
 *  - 'skip' (G1): C ≈ (s/a)²·I, the uninformative-prior covariance — no extra model call; it is ≥ the
 *    true covariance, so y is trusted a little more at high noise — and on an ill-conditioned A
 *    (blur) solving exactly with it amplifies the measurement noise: keep 1 CG step there;
 *  - 'fd' (G2): C·v = (s²/a)·J·v by a central difference — exact for an MMSE denoiser, 2 extra NFE per
 *    CG step (one batched call).
 * For a Gaussian prior and 'fd' with enough CG steps this IS E[x0 | x_t, y], so a sampler driven by it
 * samples the exact posterior; the tests measure both modes against the Kalman posterior mean.
 */
import type { Tensor } from '@diffgraph/engine';
import type { Guider } from '../contracts/sampling.ts';
import type { LinearOperator } from '../operators/operator.ts';
import { fitObservation } from '../operators/operator.ts';
import { addScaledPerItem, itemDots, residual } from './batch-ops.ts';
import { jacobianVectorProduct, type JacobianMode } from './jacobian.ts';

export interface DpsOptions {
  /** Step multiplier ζ (1 = the conditional-mean step above). */
  zeta?: number;
  /** Measurement noise std σ_y. */
  sigmaY?: number;
  jacobian?: JacobianMode;
  /** Conjugate-gradient steps for (A C Aᵀ + σ_y²) w = r (default 1). */
  iterations?: number;
}

export function dpsGuider(inner: Guider, operator: LinearOperator, observation: Tensor, options: DpsOptions = {}): Guider {
  const zeta = options.zeta ?? 1;
  const sigmaY = options.sigmaY ?? 0.05;
  const mode = options.jacobian ?? 'skip';
  const iterations = options.iterations ?? 1;
  if (!(zeta >= 0)) throw new Error(`DPS: zeta must be ≥ 0, got ${zeta}`);
  if (!(sigmaY >= 0)) throw new Error(`DPS: sigma_y must be ≥ 0, got ${sigmaY}`);
  if (!Number.isInteger(iterations) || iterations < 1) throw new Error(`DPS: iterations must be a positive integer, got ${iterations}`);
  const { schedule } = inner;
  return {
    schedule,
    async denoise(x, t) {
      const x0 = await inner.denoise(x, t);
      const a = schedule.alpha(t), s = schedule.sigma(t);
      if (!(s > 0)) return x0; // at sigma = 0 the prediction is the state: nothing to correct
      const ax0 = operator.forward(x0);
      const y = fitObservation(observation, ax0.shape, `DPS (${operator.name})`);
      // C·v and the noise variance it is paired with. 'skip' scales C = ρI out (ρ = (s/a)², ∞ at a = 0):
      // ρAᵀ(ρAAᵀ + σ²)⁻¹ = Aᵀ(AAᵀ + σ²/ρ)⁻¹, so C = I with noise σ²/ρ — finite at a = 0 (a projection).
      const exact = mode === 'fd' && a > 0;
      const noiseVar = exact ? sigmaY * sigmaY : a > 0 ? (sigmaY * sigmaY * a * a) / (s * s) : 0;
      const applyC = async (v: Tensor): Promise<Tensor> => {
        if (!exact) return v;
        const jv = await jacobianVectorProduct(inner.denoise, x, t, v);
        const c = (s * s) / a;
        for (let i = 0; i < jv.size; i++) jv.data[i] *= c;
        return jv;
      };
      // CG on the measurement space, per item; dx accumulates C Aᵀ w.
      let res = residual(y, ax0);
      let p = res.clone();
      let rr = itemDots(res, res);
      let dx = x0.zerosLike();
      for (let j = 0; j < iterations; j++) {
        const q = await applyC(operator.adjoint(p, x.shape));
        const mp = operator.forward(q);
        for (let i = 0; i < mp.size; i++) mp.data[i] += noiseVar * p.data[i];
        const pmp = itemDots(p, mp);
        const alpha = rr.map((v, b) => (pmp[b] > 0 ? v / pmp[b] : 0));
        dx = addScaledPerItem(dx, alpha, q);
        if (j === iterations - 1) break;
        res = addScaledPerItem(res, alpha.map((v) => -v), mp);
        const rrNext = itemDots(res, res);
        p = addScaledPerItem(res, rrNext.map((v, b) => (rr[b] > 0 ? v / rr[b] : 0)), p);
        rr = rrNext;
      }
      return addScaledPerItem(x0, new Float64Array(x.batch).fill(zeta), dx);
    },
  };
}
