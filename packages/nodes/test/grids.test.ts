import { describe, expect, it } from 'vitest';
import {
  customTimeGrid,
  discreteTimeGrid,
  discreteTimesteps,
  dpmSolverTimeGrid,
  timeGrid,
  timesFromVeSigmas,
  truncateForDenoise,
  validateTimeGrid,
  type ContinuousSpacing,
} from '../src/schedules/grids.ts';
import { veSigmaOf } from '../src/schedules/noise-schedules.ts';
import { listRefOutputs, loadRefModel, loadRefOutput } from './refs.ts';

const ref = loadRefModel('gmm2');

/** Stored grids are rounded to 12 significant digits. */
function expectGridClose(actual: readonly number[], expected: readonly number[]): void {
  expect(actual).toHaveLength(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected[i])));
  }
}

describe('DPM-Solver grids reproduce the stored `timesteps`', () => {
  const multistep = listRefOutputs({ model: 'gmm2', library: 'dpm-solver', method: 'multistep', order: 2, algorithm_type: 'dpmsolver++' });

  it('covers both schedules x 3 spacings x 3 step counts', () => {
    expect(multistep).toHaveLength(18);
  });

  for (const entry of multistep) {
    it(entry.id, () => {
      const output = loadRefOutput(entry.id);
      const { schedule: scheduleName, skip_type: spacing, steps } = output.config as unknown as {
        schedule: 'sd_discrete' | 'linear_vp';
        skip_type: ContinuousSpacing;
        steps: number;
      };
      const schedule = ref.schedules[scheduleName];
      expectGridClose(timeGrid(schedule, { spacing, steps }), output.timesteps!);
    });
  }

  it('matches UniPC grids too (same definition)', () => {
    for (const entry of listRefOutputs({ model: 'gmm2', library: 'unipc', variant: 'bh2', order: 3, algorithm_type: 'data_prediction' })) {
      const output = loadRefOutput(entry.id);
      const schedule = ref.schedules[output.config.schedule as 'sd_discrete' | 'linear_vp'];
      expectGridClose(timeGrid(schedule, { spacing: output.config.skip_type as ContinuousSpacing, steps: output.config.steps }), output.timesteps!);
    }
  });

  it('gives singlestep logSNR its outer grid: one equal-lambda interval per outer step', () => {
    // order 3 at 10 NFE runs orders [3, 3, 3, 1]: four outer steps.
    const output = loadRefOutput('gmm2__sd_discrete__dpmsolver++__singlestep__order3__logSNR__steps10');
    expectGridClose(dpmSolverTimeGrid(ref.schedules.sd_discrete, 'logSNR', 4), output.timesteps!);
  });

  it('gives singlestep time_uniform its outer grid: the NFE grid at cumulative orders', () => {
    const output = loadRefOutput('gmm2__linear_vp__dpmsolver__singlestep__order3__time_uniform__steps10');
    const full = dpmSolverTimeGrid(ref.schedules.linear_vp, 'time_uniform', 10);
    expectGridClose([0, 3, 6, 9, 10].map((i) => full[i]), output.timesteps!);
  });

  it('ends at the schedule ends and honours tStart/tEnd', () => {
    const sd = ref.schedules.sd_discrete;
    const grid = timeGrid(sd, { spacing: 'time_quadratic', steps: 7, tStart: 0.8, tEnd: 0.01 });
    expect(grid[0]).toBeCloseTo(0.8, 15);
    expect(grid[7]).toBeCloseTo(0.01, 15);
    const lambdas = timeGrid(sd, { spacing: 'logSNR', steps: 6 }).map((t) => sd.lambda(t));
    const h = lambdas.slice(1).map((l, i) => l - lambdas[i]);
    for (const step of h) expect(step).toBeCloseTo(h[0], 12);
    expect(() => timeGrid(sd, { spacing: 'logSNR', steps: 4, tEnd: 0 })).toThrow(RangeError);
  });
});

describe('k-diffusion sigma lists as times', () => {
  for (const id of ['gmm2__sd_kdiffusion_karras__sample_heun__steps10', 'gmm2__sd_kdiffusion_exponential__sample_euler__steps5']) {
    it(`${id}: times end at 0 and map back to the sigmas`, () => {
      const sd = ref.schedules.sd_discrete;
      const sigmas = loadRefOutput(id).sigmas!;
      const times = timesFromVeSigmas(sd, sigmas);
      expect(times[times.length - 1]).toBe(0);
      expect(Math.abs(times[0] - 1)).toBeLessThan(1e-11);
      const back = times.map((t) => veSigmaOf(sd, t));
      for (let i = 0; i < sigmas.length; i++) expect(Math.abs(back[i] - sigmas[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, sigmas[i]));
    });
  }
});

describe('discrete (diffusers) spacings', () => {
  // Values of diffusers' DDIMScheduler.set_timesteps formulas (numpy) for N = 1000.
  it('uniform = "linspace"', () => {
    expect(discreteTimesteps('uniform', 10)).toEqual([999, 888, 777, 666, 555, 444, 333, 222, 111, 0]);
    expect(discreteTimesteps('uniform', 7)).toEqual([999, 832, 666, 500, 333, 166, 0]);
    expect(discreteTimesteps('uniform', 3)).toEqual([999, 500, 0]);
  });

  it('trailing', () => {
    expect(discreteTimesteps('trailing', 10)).toEqual([999, 899, 799, 699, 599, 499, 399, 299, 199, 99]);
    expect(discreteTimesteps('trailing', 7)).toEqual([999, 856, 713, 570, 428, 285, 142]);
    expect(discreteTimesteps('trailing', 3)).toEqual([999, 666, 332]);
    expect(discreteTimesteps('trailing', 1000)).toEqual(Array.from({ length: 1000 }, (_, i) => 999 - i));
  });

  it('leading (+ steps_offset)', () => {
    expect(discreteTimesteps('leading', 10)).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
    expect(discreteTimesteps('leading', 10, 1000, 1)).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    expect(discreteTimesteps('leading', 3)).toEqual([666, 333, 0]);
  });

  it('become times (n + 1)/N and end where diffusers lands', () => {
    const sd = ref.schedules.sd_discrete;
    const trailing = timeGrid(sd, { spacing: 'trailing', steps: 10 });
    expect(trailing).toEqual([1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.001]);
    expect(discreteTimeGrid(sd, 'trailing', 10, { setAlphaToOne: true }).at(-1)).toBe(0);
    // uniform already ends on the first training step: no zero-length final step.
    expect(discreteTimeGrid(sd, 'uniform', 10)).toHaveLength(10);
    expect(discreteTimeGrid(sd, 'uniform', 10, { setAlphaToOne: true })).toHaveLength(11);
    expect(timeGrid(sd, { spacing: 'leading', steps: 10, discrete: { stepsOffset: 1 } })[0]).toBe(0.902);
    expect(() => discreteTimeGrid(sd, 'leading', 1000, { stepsOffset: 1 })).toThrow(RangeError);
  });
});

describe('denoise < 1 (img2img)', () => {
  it('keeps the last steps + 1 points of the floor(steps/denoise)-step grid', () => {
    const vp = ref.schedules.linear_vp;
    const full = timeGrid(vp, { spacing: 'logSNR', steps: 25 });
    const partial = timeGrid(vp, { spacing: 'logSNR', steps: 10, denoise: 0.4 });
    expect(partial).toEqual(full.slice(15));
    // 3/0.3 is 10.000000000000002 in floating point: still 10 total steps.
    expect(timeGrid(vp, { spacing: 'time_uniform', steps: 3, denoise: 0.3 })).toEqual(timeGrid(vp, { spacing: 'time_uniform', steps: 10 }).slice(7));
    // 10/0.75 = 13.33: 13 total steps.
    expect(truncateForDenoise((n) => Array.from({ length: n + 1 }, (_, i) => n - i), 10, 0.75)).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect(timeGrid(vp, { spacing: 'time_uniform', steps: 4, denoise: 1 })).toHaveLength(5);
    expect(() => timeGrid(vp, { spacing: 'time_uniform', steps: 4, denoise: 0 })).toThrow(RangeError);
    expect(() => timeGrid(vp, { spacing: 'time_uniform', steps: 4, denoise: 1.5 })).toThrow(RangeError);
  });
});

describe('custom grids', () => {
  it('accept strictly decreasing times ending at >= 0', () => {
    expect(customTimeGrid([1, 0.5, 0.1, 0], ref.schedules.sd_discrete)).toEqual([1, 0.5, 0.1, 0]);
  });

  it('reject malformed lists', () => {
    const vp = ref.schedules.linear_vp;
    expect(() => validateTimeGrid([1])).toThrow(RangeError);
    expect(() => validateTimeGrid([1, 0.5, 0.5])).toThrow(/strictly decreasing/);
    expect(() => validateTimeGrid([0.2, 0.5])).toThrow(/strictly decreasing/);
    expect(() => validateTimeGrid([1, NaN])).toThrow(/finite/);
    expect(() => validateTimeGrid([1, -0.1])).toThrow(/>= 0/);
    expect(() => customTimeGrid([1.5, 0.5], vp)).toThrow(/tMax/);
    expect(() => timeGrid(vp, { spacing: 'time_uniform', steps: 0 })).toThrow(RangeError);
    expect(() => timeGrid(vp, { spacing: 'time_uniform', steps: 2.5 })).toThrow(RangeError);
  });
});
