/**
 * TPMConstraint (Tiramisu, arXiv 2401.03349): a guider that wraps an inner guider
 * and, during the early part of sampling, fuses the TPM's exact conditional for the unknown region
 * with the denoiser's x0-prediction.
 *
 * At a call (x, t) with a = alpha(t), s = sigma(t), per batch item:
 *  1. the TPM is conditioned on hard evidence = the observed latent where mask < 1/2 (known), and
 *     soft evidence = the state itself on the unknown values, x_t,d = a·x0,d + s·n (exact, because
 *     both factorise per value) → m_PC, v_PC = E, Var[x0,d | y, x_t] under the circuit;
 *  2. the denoiser side is N(m_DM = x̂0, v_DM) with v_DM = ρ·v_p/(ρ + v_p), ρ = (s/a)²: the posterior
 *     variance of x0,d given x_t for a Gaussian prior with the TPM's marginal variance v_p (no
 *     Jacobian needed; ρ alone is the uninformative-prior value);
 *  3. fusion rule — Tiramisu's weighted geometric mean p_DM^α·p_PC^(1−α), α = 1 − strength, in closed
 *     form for two Gaussians:  precision = α/v_DM + (1−α)/v_PC,
 *     x̃0,d = (α·m_DM/v_DM + (1−α)·m_PC/v_PC)/precision  (strength 1 = the TPM's mean, 0 = the model's);
 *  4. known values are set to the observation (their exact conditional).
 * Active while the elapsed fraction of the schedule (tMax − t)/tMax is ≤ `until` (Tiramisu: the first
 * 10%, with strength 0.2; the defaults here were tuned on held-apart scenes of the default pack, see
 * TPM_CONSTRAINT_DEFAULTS); afterwards the inner x0 is returned unchanged — wrap an InpaintGuider as the inner guider to
 * keep the known region for the rest of the run. With a TPM that is the data distribution, strength 1
 * and until 1, a sampler driven by this guider samples p(x_unknown | y) exactly (tested).
 */
import { Tensor } from '@diffgraph/engine';
import type { Guider } from '../contracts/sampling.ts';
import { fitMask, fitOriginal } from '../image/inpaint-mask.ts';
import type { TreeCircuit } from './circuit.ts';
import { missing } from './evidence.ts';

export interface TpmConstraintOptions {
  /** Weight of the TPM in the fusion, 1 − α (Tiramisu uses 0.2, a DM weight of 0.8). */
  strength?: number;
  /** Fraction of the schedule (from tMax) during which the constraint is active (Tiramisu: 0.1). */
  until?: number;
}

/**
 * The defaults: the setting with the highest coherence on the tuning split of `pnpm bench:guidance`
 * (docs/benchmarks-guidance.md §4, reported there on a held-out split). Tiramisu's own 0.2 for the first
 * 10 % was too weak for the default pack's 20-step schedules.
 */
export const TPM_CONSTRAINT_DEFAULTS = { strength: 1, until: 0.8 } as const;

export function tpmConstraint(inner: Guider, tpm: TreeCircuit, observed: Tensor, mask: Tensor, o: TpmConstraintOptions = {}): Guider {
  const strength = o.strength ?? TPM_CONSTRAINT_DEFAULTS.strength;
  const until = o.until ?? TPM_CONSTRAINT_DEFAULTS.until;
  if (!(strength >= 0 && strength <= 1)) throw new Error(`TPMConstraint: strength must be in [0, 1], got ${strength}`);
  if (!(until >= 0 && until <= 1)) throw new Error(`TPMConstraint: until must be in [0, 1], got ${until}`);
  const { schedule } = inner;
  const priorVariance = tpm.condition(missing(tpm.D)).variance;
  const fitted = new Map<string, { mask: Float64Array; original: Float64Array }>();
  const fit = (x: Tensor) => {
    const key = x.shape.join(',');
    let f = fitted.get(key);
    if (!f) {
      const per = x.size / x.batch;
      if (per !== tpm.D) throw new Error(`TPMConstraint: the TPM models ${tpm.D} values per item [${tpm.itemShape.join(', ')}], the states have ${per} [${x.shape.slice(1).join(', ')}]`);
      f = { mask: fitMask(mask, x.shape, 'TPMConstraint input "mask"'), original: fitOriginal(observed, x.shape, 'TPMConstraint input "latent"') };
      fitted.set(key, f);
    }
    return f;
  };
  return {
    schedule,
    async denoise(x, t) {
      const x0 = await inner.denoise(x, t);
      if (until === 0 || (schedule.tMax - t) / schedule.tMax > until) return x0;
      const { mask: m, original } = fit(x);
      const a = schedule.alpha(t), s = schedule.sigma(t);
      const rho = a > 0 ? (s / a) ** 2 : Infinity;
      const D = tpm.D;
      const out = new Tensor(x0.shape, x0.data.slice());
      for (let b = 0; b < x.batch; b++) {
        const base = b * D;
        const hard = new Float64Array(D);
        for (let d = 0; d < D; d++) hard[d] = m[base + d] < 0.5 ? original[base + d] : Number.NaN;
        const obs = Float64Array.from(x.data.subarray(base, base + D));
        const pc = tpm.condition({ hard, soft: { obs, alpha: a, sigma: s } });
        for (let d = 0; d < D; d++) {
          const i = base + d;
          if (!Number.isNaN(hard[d])) {
            out.data[i] = hard[d];
            continue;
          }
          if (strength === 1) {
            out.data[i] = pc.mean[d];
          } else if (strength > 0) {
            const vp = priorVariance[d];
            const vDm = Math.max(rho === Infinity ? vp : (rho * vp) / (rho + vp), 1e-12);
            const vPc = Math.max(pc.variance[d], 1e-12);
            const wDm = (1 - strength) / vDm, wPc = strength / vPc;
            out.data[i] = (wDm * x0.data[i] + wPc * pc.mean[d]) / (wDm + wPc);
          }
        }
      }
      return out;
    },
  };
}
