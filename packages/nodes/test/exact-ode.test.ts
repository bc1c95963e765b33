import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { GaussianMixture } from '../src/models/gmm.ts';
import { exactProbabilityFlow, exactVEFlow, exactVEFlowInLambda, integrateDormandPrince } from '../src/sampling/exact-ode.ts';
import { LinearVPSchedule } from '../src/schedules/noise-schedules.ts';
import { loadRefExact, loadRefModel } from './refs.ts';

const ref = loadRefModel('gmm2');

/** Worst |a − b|/max(1, |b|) over all entries. */
function worstRelError(actual: Tensor, expected: readonly (readonly number[])[]): number {
  const flat = expected.flat();
  expect(actual.size).toBe(flat.length);
  let worst = 0;
  for (let i = 0; i < flat.length; i++) worst = Math.max(worst, Math.abs(actual.data[i] - flat[i]) / Math.max(1, Math.abs(flat[i])));
  return worst;
}

describe('Dormand–Prince 5(4)', () => {
  it('integrates y′ = −y·cos(s) to its closed form, in either direction', () => {
    const rhs = (s: number, y: Float64Array, dy: Float64Array) => {
      dy[0] = -y[0] * Math.cos(s);
    };
    const forward = integrateDormandPrince(rhs, [2], 0, 6);
    expect(Math.abs(forward.y[0] - 2 * Math.exp(-Math.sin(6)))).toBeLessThan(1e-11);
    const backward = integrateDormandPrince(rhs, forward.y, 6, 0);
    expect(Math.abs(backward.y[0] - 2)).toBeLessThan(1e-11);
    expect(forward.evaluations).toBe(1 + 6 * (forward.acceptedSteps + forward.rejectedSteps));
  });
});

describe('exact probability-flow ODE', () => {
  it('matches the closed form for a single Gaussian: u − mu scales as sqrt(s² + sigma²)', () => {
    const gaussian = new GaussianMixture({ weights: [1], means: [[0.7, -1.2]], stds: [0.4] });
    const u0 = Tensor.from([2, 2], [5, -3, -8, 11], 'float64');
    const [sigma0, sigma1] = [12, 0];
    const ratio = Math.sqrt(0.16 + sigma1 ** 2) / Math.sqrt(0.16 + sigma0 ** 2);
    const expected = Array.from(u0.data, (u, i) => [0.7, -1.2][i % 2] + ratio * (u - [0.7, -1.2][i % 2]));
    const inSigma = exactVEFlow(gaussian, u0, sigma0, sigma1);
    const inLambda = exactVEFlowInLambda(gaussian, u0, -Math.log(sigma0), -Math.log(0.05));
    const ratioLambda = Math.sqrt(0.16 + 0.05 ** 2) / Math.sqrt(0.16 + sigma0 ** 2);
    for (let i = 0; i < 4; i++) {
      expect(Math.abs(inSigma.data[i] - expected[i])).toBeLessThan(1e-10);
      const mu = [0.7, -1.2][i % 2];
      expect(Math.abs(inLambda.data[i] - (mu + ratioLambda * (u0.data[i] - mu)))).toBeLessThan(1e-10);
    }
  });

  it('reproduces exact/gmm2__sd_discrete.json (t = 1 → 1/1000)', () => {
    const sd = ref.schedules.sd_discrete;
    const x = exactProbabilityFlow(ref.gmm, sd, ref.xT, 1, sd.tMin);
    expect(worstRelError(x, loadRefExact('gmm2', 'sd_discrete').x)).toBeLessThanOrEqual(1e-8);
  });

  it('reproduces exact/gmm2__linear_vp.json (t = 1 → 1e-3)', () => {
    const vp = ref.schedules.linear_vp;
    const x = exactProbabilityFlow(ref.gmm, vp, ref.xT, 1, vp.tMin);
    expect(worstRelError(x, loadRefExact('gmm2', 'linear_vp').x)).toBeLessThanOrEqual(1e-8);
  });

  it('reproduces exact/gmm2__sd_kdiffusion_to_zero.json (sigma_max → 0, start x_T·sigma_max)', () => {
    const u0 = Tensor.from(ref.xT.shape, ref.xT.data.map((v) => v * ref.sigmaMax), 'float64');
    const u = exactVEFlow(ref.gmm, u0, ref.sigmaMax, 0);
    expect(worstRelError(u, loadRefExact('gmm2', 'sd_kdiffusion_to_zero').x)).toBeLessThanOrEqual(1e-8);
    // The same end through the VP time interface: t = 1 → t = 0 on the SD schedule.
    const sd = ref.schedules.sd_discrete;
    const viaTime = exactProbabilityFlow(ref.gmm, sd, Tensor.from(u0.shape, u0.data.map((v) => v * sd.alpha(1)), 'float64'), 1, 0);
    expect(worstRelError(viaTime, loadRefExact('gmm2', 'sd_kdiffusion_to_zero').x)).toBeLessThanOrEqual(1e-8);
  });

  it('reproduces exact/gmm2__sd_kdiffusion_sigma_min_then_denoise.json', () => {
    const u0 = Tensor.from(ref.xT.shape, ref.xT.data.map((v) => v * ref.sigmaMax), 'float64');
    const atSigmaMin = exactVEFlow(ref.gmm, u0, ref.sigmaMax, ref.sigmaMin);
    const denoised = ref.gmm.denoiseVE(atSigmaMin, ref.sigmaMin);
    expect(worstRelError(denoised, loadRefExact('gmm2', 'sd_kdiffusion_sigma_min_then_denoise').x)).toBeLessThanOrEqual(1e-8);
  });

  it('runs backwards (encoding) to the starting noise, and keeps the dtype', () => {
    const vp = new LinearVPSchedule();
    const start = Tensor.from([4, 2], ref.xT.data.subarray(0, 8), 'float64');
    const data = exactProbabilityFlow(ref.gmm, vp, start, 1, 0.01);
    const back = exactProbabilityFlow(ref.gmm, vp, data, 0.01, 1);
    for (let i = 0; i < 8; i++) expect(Math.abs(back.data[i] - start.data[i])).toBeLessThan(1e-8);
    const start32 = Tensor.from([4, 2], start.data, 'float32');
    expect(exactProbabilityFlow(ref.gmm, vp, start32, 1, 0.01, { rtol: 1e-8, atol: 1e-8 }).dtype).toBe('float32');
  });
});
