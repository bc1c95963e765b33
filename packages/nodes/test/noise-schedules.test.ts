import { describe, expect, it } from 'vitest';
import {
  DiscreteVPSchedule,
  FlowSchedule,
  LinearVPSchedule,
  VESchedule,
  linspace,
  makeBetas,
  makeNoiseSchedule,
  timeOfVeSigma,
  veSigmaOf,
} from '../src/schedules/noise-schedules.ts';
import type { NoiseSchedule } from '../src/contracts/sampling.ts';
import { loadRefModel } from './refs.ts';

const ref = loadRefModel('gmm2');
const schedules: Record<'sd_discrete' | 'linear_vp', NoiseSchedule> = ref.schedules;

function expectRelClose(actual: number, expected: number, tol: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(tol * Math.max(Math.abs(expected), 1e-300));
}

describe('reference schedules (data/refs/README.md §2)', () => {
  it('match model_checks: log_alpha, alpha, sigma, lambda at every listed t', () => {
    for (const check of ref.json.model_checks.vp) {
      const s = schedules[check.schedule];
      expectRelClose(s.logAlpha(check.t), check.log_alpha, 1e-11);
      expectRelClose(s.alpha(check.t), check.alpha, 1e-11);
      expectRelClose(s.sigma(check.t), check.sigma, 1e-11);
      expectRelClose(s.lambda(check.t), check.lambda_, 1e-11);
    }
  });

  it('have the stored end values and default range', () => {
    for (const name of ['sd_discrete', 'linear_vp'] as const) {
      const stored = ref.json.schedules[name];
      const s = schedules[name];
      expect(s.tMax).toBe(stored.t_T);
      expect(s.tMin).toBe(stored.t_end);
      expectRelClose(s.lambda(s.tMax), stored.lambda_T, 1e-14);
      expectRelClose(s.lambda(s.tMin), stored.lambda_end, 1e-14);
    }
  });

  it('tOfLambda inverts lambda to 1e-12 across [tMin, tMax] (between and on knots)', () => {
    for (const s of Object.values(schedules)) {
      for (let i = 0; i <= 2000; i++) {
        const t = s.tMin + ((s.tMax - s.tMin) * i) / 2000 + (i % 7) * 1.3e-5 * (i < 2000 ? 1 : 0);
        expect(Math.abs(s.tOfLambda(s.lambda(t)) - t)).toBeLessThanOrEqual(1e-12);
      }
    }
  });

  it('lambda is strictly decreasing', () => {
    for (const s of Object.values(schedules)) {
      let previous = Infinity;
      for (let i = 0; i <= 3000; i++) {
        const l = s.lambda(s.tMin + ((s.tMax - s.tMin) * i) / 3000);
        expect(l).toBeLessThan(previous);
        previous = l;
      }
    }
  });

  it('map k-diffusion sigmas to the grid ends', () => {
    const sd = ref.schedules.sd_discrete;
    expectRelClose(veSigmaOf(sd, 1), ref.sigmaMax, 1e-14);
    expectRelClose(veSigmaOf(sd, sd.tMin), ref.sigmaMin, 1e-13);
    expect(Math.abs(timeOfVeSigma(sd, ref.sigmaMax) - 1)).toBeLessThan(1e-14);
    expect(Math.abs(timeOfVeSigma(sd, ref.sigmaMin) - 1e-3)).toBeLessThan(1e-16);
    expect(timeOfVeSigma(sd, 0)).toBe(0);
  });
});

describe('DiscreteVPSchedule', () => {
  const sd = ref.schedules.sd_discrete;

  it('rebuilds the stored SD alphas_cumprod from the scaled_linear betas', () => {
    const built = DiscreteVPSchedule.fromBetas('scaled_linear');
    const stored = ref.json.schedules.sd_discrete.alphas_cumprod;
    expect(built.numTrainTimesteps).toBe(1000);
    for (let i = 0; i < 1000; i++) expectRelClose(built.alphasCumprod[i], stored[i], 1e-13);
    expect(built.alphasCumprod[0]).toBe(0.99915);
  });

  it('puts training step n at t = (n + 1)/N and labels it n for the network', () => {
    for (const n of [0, 1, 499, 998, 999]) {
      const t = sd.timeOfStep(n);
      expect(t).toBe((n + 1) / 1000);
      expectRelClose(sd.alpha(t) ** 2, sd.alphasCumprod[n], 1e-14);
      expect(Math.abs(sd.modelTime(t) - n)).toBeLessThan(1e-12);
    }
    expect(sd.modelTime(0.2345678)).toBeCloseTo(233.5678, 10);
  });

  it('is linear in log alpha between knots', () => {
    const [a, b] = [sd.logAlpha(0.25), sd.logAlpha(0.251)];
    expectRelClose(sd.logAlpha(0.2505), 0.5 * (a + b), 1e-13);
    expectRelClose(sd.logAlpha(0.2502), 0.8 * a + 0.2 * b, 1e-13);
  });

  it('treats t = 0 as the data point and stays valid below the first knot', () => {
    expect(sd.alpha(0)).toBe(1);
    expect(sd.sigma(0)).toBe(0);
    expect(sd.lambda(0)).toBe(Infinity);
    expect(sd.tOfLambda(Infinity)).toBe(0);
    for (const t of [1e-12, 1e-6, 5e-4, 9.99e-4]) {
      expect(sd.alpha(t)).toBeLessThan(1);
      expect(Number.isFinite(sd.lambda(t))).toBe(true);
      expectRelClose(sd.tOfLambda(sd.lambda(t)), t, 1e-9);
    }
    expect(() => sd.alpha(-0.1)).toThrow(RangeError);
  });

  it('extends the last segment above t = 1', () => {
    const slope = (sd.logAlpha(1) - sd.logAlpha(0.999)) / 0.001;
    expectRelClose(sd.logAlpha(1.0005), sd.logAlpha(1) + 0.0005 * slope, 1e-12);
  });

  it('builds the DDPM linear and cosine beta schedules', () => {
    const linear = makeBetas('linear');
    expect(linear[0]).toBe(1e-4);
    expect(linear[999]).toBe(0.02);
    expectRelClose(linear[500] - linear[499], (0.02 - 1e-4) / 999, 1e-9);
    const cosine = makeBetas('squaredcos_cap_v2');
    const alphaBar = (s: number) => Math.cos(((s + 0.008) / 1.008) * Math.PI / 2) ** 2;
    const cosineSchedule = DiscreteVPSchedule.fromBetas('squaredcos_cap_v2');
    // Before the clip, alphas_cumprod telescopes to alpha_bar(t)/alpha_bar(0).
    expectRelClose(cosineSchedule.alphasCumprod[499], alphaBar(0.5) / alphaBar(0), 1e-12);
    expect(cosine[999]).toBe(0.999);
    expect(Math.max(...cosine)).toBe(0.999);
  });

  it('rejects tables that are not a noise schedule', () => {
    expect(() => new DiscreteVPSchedule([0.9, 0.95])).toThrow();
    expect(() => new DiscreteVPSchedule([1, 0.5])).toThrow();
  });
});

describe('LinearVPSchedule', () => {
  const vp = new LinearVPSchedule();
  it('uses the closed form and its inverse, and is exact at t = 0', () => {
    expect(vp.logAlpha(0.5)).toBeCloseTo(-0.25 * 0.25 * 19.9 - 0.25 * 0.1, 15);
    expect(vp.modelTime(0.37)).toBe(0.37);
    expect(vp.sigma(0)).toBe(0);
    expect(vp.lambda(0)).toBe(Infinity);
    expect(vp.tOfLambda(Infinity)).toBe(0);
    for (const t of [1e-6, 0.3, 0.9999]) expectRelClose(vp.tOfLambda(vp.lambda(t)), t, 1e-10);
  });
});

describe('FlowSchedule and VESchedule', () => {
  it('flow: alpha = 1 − t, sigma = t, lambda = log((1 − t)/t), inverse the sigmoid', () => {
    const flow = new FlowSchedule();
    expect(flow.alpha(0.25)).toBe(0.75);
    expect(flow.sigma(0.25)).toBe(0.25);
    expectRelClose(flow.lambda(0.25), Math.log(3), 1e-15);
    for (const t of [1e-9, 0.001, 0.5, 0.999]) expectRelClose(flow.tOfLambda(flow.lambda(t)), t, 1e-12);
    expect(flow.lambda(0)).toBe(Infinity);
    expect(flow.lambda(1)).toBe(-Infinity);
    expect(flow.tOfLambda(Infinity)).toBe(0);
    expect(flow.tOfLambda(-Infinity)).toBe(1);
    expect(flow.tOfLambda(-800)).toBe(1);
    expect(flow.tOfLambda(800)).toBeGreaterThanOrEqual(0);
    expect(flow.modelTime(0.5)).toBe(500);
  });

  it('ve: alpha = 1, sigma = t, lambda = −log t', () => {
    const ve = new VESchedule();
    expect([ve.tMin, ve.tMax]).toEqual([0.002, 80]);
    expect(ve.alpha(3)).toBe(1);
    expect(ve.sigma(3)).toBe(3);
    expectRelClose(ve.lambda(3), -Math.log(3), 1e-15);
    expectRelClose(ve.tOfLambda(ve.lambda(17.5)), 17.5, 1e-15);
    expect(ve.tOfLambda(Infinity)).toBe(0);
    expect(veSigmaOf(ve, 2.5)).toBeCloseTo(2.5, 14);
  });
});

describe('makeNoiseSchedule', () => {
  it('builds every kind from a JSON spec', () => {
    const fromTable = makeNoiseSchedule({ kind: 'discrete', alphasCumprod: ref.json.schedules.sd_discrete.alphas_cumprod });
    expect(fromTable.lambda(0.6004)).toBe(ref.schedules.sd_discrete.lambda(0.6004));
    const fromName = makeNoiseSchedule(JSON.parse('{"kind":"discrete","betaSchedule":"scaled_linear"}'));
    expectRelClose(fromName.lambda(0.6004), fromTable.lambda(0.6004), 1e-12);
    expect(makeNoiseSchedule({ kind: 'linear_vp' }).lambda(1)).toBeCloseTo(ref.json.schedules.linear_vp.lambda_T, 14);
    expect(makeNoiseSchedule({ kind: 'flow' }).kind).toBe('flow');
    expect(makeNoiseSchedule({ kind: 've', sigmaMax: 14.6 }).tMax).toBe(14.6);
    expect(() => makeNoiseSchedule({ kind: 'nope' } as never)).toThrow();
  });
});

describe('linspace', () => {
  it('hits both ends exactly, like torch', () => {
    const xs = linspace(1, 0.001, 21);
    expect(xs[0]).toBe(1);
    expect(xs[20]).toBe(0.001);
    expect(xs).toHaveLength(21);
    expect(linspace(2, 5, 1)).toEqual([2]);
  });
});
