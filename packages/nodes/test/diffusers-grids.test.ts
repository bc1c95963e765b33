/**
 * spacing "auto": the grid of a pipeline's scheduler_config.json, compared with diffusers' documented
 * set_timesteps formulas written out here independently (hand-computed timesteps where they are short,
 * the formulas otherwise): DDIM, Euler, DPM-Solver multistep, UniPC and FlowMatchEuler configs.
 * Our grid is times; the network's timestep is schedule.modelTime(t) and the VE sigma is e^(−lambda(t)).
 */
import { describe, expect, it } from 'vitest';
import { schedulerFromConfig } from '../src/models/onnx/scheduler-config.ts';
import { buildGrid } from '../src/schedules/schedule-node.ts';
import { dpmSolverTimeGrid, discreteTimeGrid } from '../src/schedules/grids.ts';
import { DiscreteVPSchedule, veSigmaOf } from '../src/schedules/noise-schedules.ts';
import { Tensor } from '@diffgraph/engine';
import type { NoiseGenerator, NoiseSchedule, TimeGrid } from '../src/contracts/sampling.ts';
import { startState, type StartScale } from '../src/contracts/start-state.ts';

const N = 1000;
const SD_BETAS = { beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', num_train_timesteps: N };

/** SD's training sigmas sqrt((1 − ᾱ_n)/ᾱ_n), from betas = linspace(√0.00085, √0.012, 1000)². */
const trainSigma: number[] = (() => {
  const lo = Math.sqrt(0.00085), hi = Math.sqrt(0.012);
  let product = 1;
  return Array.from({ length: N }, (_, n) => {
    const root = lo + ((hi - lo) * n) / (N - 1);
    product *= 1 - root * root;
    return Math.sqrt((1 - product) / product);
  });
})();

const range = (count: number, f: (i: number) => number) => Array.from({ length: count }, (_, i) => f(i));

function auto(config: Record<string, unknown>, steps: number, denoise = 1): { grid: TimeGrid; schedule: NoiseSchedule } {
  const info = schedulerFromConfig(config, 'scheduler_config.json');
  const grid = buildGrid(info.schedule, { spacing: 'auto', steps, denoise, rho: 7, schedulerGrid: info.grid });
  return { grid, schedule: info.schedule };
}

/** The network timesteps of every step (all points but the last) and the sigmas of every point. */
function observed(config: Record<string, unknown>, steps: number) {
  const { grid, schedule } = auto(config, steps);
  return {
    timesteps: grid.times.slice(0, -1).map((t) => schedule.modelTime(t)),
    sigmas: grid.times.map((t) => veSigmaOf(schedule, t)),
    times: grid.times,
    grid,
  };
}

function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i] - expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance * Math.max(1, Math.abs(expected[i])));
  }
}

/** Integer timesteps: the network gets them exactly and the sigmas are the training sigmas there. */
function expectIntegerGrid(config: Record<string, unknown>, steps: number, timesteps: number[], finalSigma: number | null): void {
  const { grid, schedule } = auto(config, steps);
  expectClose(grid.times.slice(0, timesteps.length).map((t) => schedule.modelTime(t)), timesteps, 1e-9, 'timesteps');
  const sigmas = [...timesteps.map((n) => trainSigma[n]), ...(finalSigma === null ? [] : [finalSigma])];
  expectClose(grid.times.map((t) => veSigmaOf(schedule, t)), sigmas, 1e-9, 'sigmas');
}

/** Karras et al.'s ramp with rho = 7 (diffusers' _convert_to_karras). */
function karras(count: number, sigmaMin: number, sigmaMax: number): number[] {
  const a = sigmaMax ** (1 / 7), b = sigmaMin ** (1 / 7);
  return range(count, (i) => (a + (i / (count - 1)) * (b - a)) ** 7);
}

describe('DDIMScheduler', () => {
  const SD15 = { _class_name: 'DDIMScheduler', ...SD_BETAS, set_alpha_to_one: false, steps_offset: 1, timestep_spacing: 'leading', clip_sample: false };

  it("SD 1.5's config (leading, steps_offset 1), 50 steps: 981, 961, ..., 1, then alphas_cumprod[0]", () => {
    const timesteps = range(50, (i) => 981 - 20 * i);
    expect(timesteps.slice(0, 3)).toEqual([981, 961, 941]);
    expect(timesteps[49]).toBe(1);
    expectIntegerGrid(SD15, 50, timesteps, trainSigma[0]);
  });

  it('trailing (steps_offset ignored), 10 steps: 999, 899, ..., 99, then alphas_cumprod[0]', () => {
    expectIntegerGrid({ ...SD15, timestep_spacing: 'trailing' }, 10, range(10, (i) => 999 - 100 * i), trainSigma[0]);
  });

  it('trailing, 7 steps: round(arange(1000, 0, −1000/7)) − 1', () => {
    expectIntegerGrid({ ...SD15, timestep_spacing: 'trailing' }, 7, [999, 856, 713, 570, 428, 285, 142], trainSigma[0]);
  });

  it('linspace, 10 steps: 999, 888, ..., 0; the step onto alphas_cumprod[0] has zero length and is dropped', () => {
    expectIntegerGrid({ ...SD15, timestep_spacing: 'linspace' }, 10, range(10, (i) => 999 - 111 * i), null);
  });

  it('set_alpha_to_one ends on the clean sample (t = 0, sigma = 0)', () => {
    expectIntegerGrid({ ...SD15, timestep_spacing: 'linspace', set_alpha_to_one: true }, 10, range(10, (i) => 999 - 111 * i), 0);
  });

  it("absent fields take DDIMScheduler's defaults: leading, steps_offset 0, set_alpha_to_one true", () => {
    expectIntegerGrid({ _class_name: 'DDIMScheduler', ...SD_BETAS }, 10, range(10, (i) => 900 - 100 * i), 0);
  });

  it('denoise < 1 keeps the last steps of the longer auto grid', () => {
    const full = auto({ ...SD15, timestep_spacing: 'trailing' }, 20).grid.times;
    expect(auto({ ...SD15, timestep_spacing: 'trailing' }, 10, 0.5).grid.times).toEqual(full.slice(-11));
  });
});

describe('EulerDiscreteScheduler', () => {
  const EULER = { _class_name: 'EulerDiscreteScheduler', ...SD_BETAS };

  it('linspace (the default), 10 steps: float timesteps 999·k/9, sigmas interpolated linearly in sigma, then 0', () => {
    const o = observed(EULER, 10);
    const timesteps = range(10, (i) => (999 * (9 - i)) / 9);
    const sigmas = timesteps.map((s) => {
      const n = Math.floor(s), f = s - n;
      return f === 0 ? trainSigma[n] : (1 - f) * trainSigma[n] + f * trainSigma[n + 1];
    });
    expectClose(o.sigmas, [...sigmas, 0], 1e-9, 'sigmas');
    // The sigma is exact; between training steps our time interpolates log alpha rather than sigma, so the
    // network's fractional timestep is within 0.005 of a step of diffusers' (measured: 0.0028 at most).
    o.timesteps.forEach((step, i) => expect(Math.abs(step - timesteps[i]), `timestep ${i}`).toBeLessThan(0.005));
    expect(o.timesteps).toHaveLength(10);
  });

  it('leading + steps_offset 1 (SD 1.5 Euler), 50 steps: 981, ..., 1, then sigma 0', () => {
    expectIntegerGrid({ ...EULER, timestep_spacing: 'leading', steps_offset: 1 }, 50, range(50, (i) => 981 - 20 * i), 0);
  });

  it('final_sigmas_type sigma_min ends on the training sigma_min', () => {
    expectIntegerGrid({ ...EULER, timestep_spacing: 'trailing', final_sigmas_type: 'sigma_min' }, 10, range(10, (i) => 999 - 100 * i), trainSigma[0]);
  });

  it('trailing + karras: the ramp spans the spacing\'s own first and last sigma (sigma(999) .. sigma(99))', () => {
    const o = observed({ ...EULER, timestep_spacing: 'trailing', use_karras_sigmas: true }, 10);
    expectClose(o.sigmas, [...karras(10, trainSigma[99], trainSigma[999]), 0], 1e-9, 'sigmas');
  });

  it('karras with sigma_min / sigma_max in the config uses those ends', () => {
    const o = observed({ ...EULER, use_karras_sigmas: true, sigma_min: 0.1, sigma_max: 10 }, 6);
    expectClose(o.sigmas, [...karras(6, 0.1, 10), 0], 1e-9, 'sigmas');
  });

  it('exponential sigmas: uniform in log sigma between the same ends', () => {
    const o = observed({ ...EULER, timestep_spacing: 'trailing', use_exponential_sigmas: true }, 5);
    const lo = Math.log(trainSigma[199]), hi = Math.log(trainSigma[999]);
    expectClose(o.sigmas, [...range(5, (i) => Math.exp(hi + (i / 4) * (lo - hi))), 0], 1e-9, 'sigmas');
  });

  it('EulerAncestralDiscreteScheduler has no sigma ramps and always ends at 0', () => {
    expectIntegerGrid({ ...EULER, _class_name: 'EulerAncestralDiscreteScheduler', timestep_spacing: 'trailing', use_karras_sigmas: true, final_sigmas_type: 'sigma_min' }, 10, range(10, (i) => 999 - 100 * i), 0);
  });

  it('timestep_type continuous with v-prediction feeds the network 0.25·log(sigma)', () => {
    const o = observed({ ...EULER, timestep_spacing: 'trailing', timestep_type: 'continuous', prediction_type: 'v_prediction' }, 4);
    expectClose(o.timesteps, [999, 749, 499, 249].map((n) => 0.25 * Math.log(trainSigma[n])), 1e-9, 'timesteps');
    // Discrete timesteps otherwise (diffusers applies continuous only to v-prediction).
    expectClose(observed({ ...EULER, timestep_spacing: 'trailing', timestep_type: 'continuous' }, 4).timesteps, [999, 749, 499, 249], 1e-9, 'eps timesteps');
  });
});

describe('DPMSolverMultistepScheduler and UniPCMultistepScheduler', () => {
  const DPM = { _class_name: 'DPMSolverMultistepScheduler', ...SD_BETAS };

  it('linspace, 10 steps: round(linspace(0, 999, 11)) reversed without its 0, then sigma 0', () => {
    // 499.5 rounds half to even: 500.
    expectIntegerGrid(DPM, 10, [999, 899, 799, 699, 599, 500, 400, 300, 200, 100], 0);
  });

  it('leading + steps_offset 1, 20 steps: (20..1)·(1000 // 21) + 1', () => {
    const timesteps = range(20, (i) => (20 - i) * 47 + 1);
    expect(timesteps.slice(0, 2)).toEqual([941, 894]);
    expectIntegerGrid({ ...DPM, timestep_spacing: 'leading', steps_offset: 1 }, 20, timesteps, 0);
    expectIntegerGrid({ ...DPM, _class_name: 'UniPCMultistepScheduler', timestep_spacing: 'leading', steps_offset: 1 }, 20, timesteps, 0);
  });

  it('trailing, 10 steps, final_sigmas_type sigma_min', () => {
    expectIntegerGrid({ ...DPM, timestep_spacing: 'trailing', final_sigmas_type: 'sigma_min' }, 10, range(10, (i) => 999 - 100 * i), trainSigma[0]);
  });

  it('karras spans the full training range whatever the spacing, then 0', () => {
    for (const className of ['DPMSolverMultistepScheduler', 'UniPCMultistepScheduler']) {
      const o = observed({ ...DPM, _class_name: className, timestep_spacing: 'trailing', use_karras_sigmas: true }, 8);
      expectClose(o.sigmas, [...karras(8, trainSigma[0], trainSigma[999]), 0], 1e-9, `${className} sigmas`);
    }
  });

  it('karras with final_sigmas_type sigma_min: the last step would have zero length, so the ramp is the grid', () => {
    const o = observed({ ...DPM, use_karras_sigmas: true, final_sigmas_type: 'sigma_min' }, 8);
    expectClose(o.sigmas, karras(8, trainSigma[0], trainSigma[999]), 1e-9, 'sigmas');
  });

  it('lambda_min_clipped cuts the steps whose half log-SNR is below it off the top', () => {
    const clip = -2;
    const lambdas = trainSigma.map((s) => -Math.log(s));
    const last = N - lambdas.filter((l) => l < clip).length;
    expect(last).toBeLessThan(N);
    const timesteps = range(5, (i) => Math.round(((last - 1) * (5 - i)) / 5));
    expectIntegerGrid({ ...DPM, lambda_min_clipped: clip }, 5, timesteps, 0);
  });

  it('lower_order_final does not change the grid', () => {
    expect(observed({ ...DPM, lower_order_final: false }, 10).times).toEqual(observed(DPM, 10).times);
  });
});

describe('FlowMatchEulerDiscreteScheduler', () => {
  const FLOW = { _class_name: 'FlowMatchEulerDiscreteScheduler', num_train_timesteps: N };
  const flowTimes = (config: Record<string, unknown>, steps: number) => auto(config, steps).grid.times;

  it('shift 1, 10 steps: sigmas linspace(1, 1/1000, 10), then 0; the first point is the schedule\'s tMax', () => {
    const sigmas = range(10, (i) => 1 + (i / 9) * (0.001 - 1));
    expectClose(flowTimes({ ...FLOW, shift: 1 }, 10), [0.999, ...sigmas.slice(1), 0], 1e-12, 'times');
  });

  it('shift 3 (SD3), 28 steps: shift(linspace(1, shift(1/1000), 28)) with shift(s) = 3s/(1 + 2s)', () => {
    const shift = (s: number) => (3 * s) / (1 + 2 * s);
    const sigmaMin = shift(0.001);
    const sigmas = range(28, (i) => shift(1 + (i / 27) * (sigmaMin - 1)));
    expectClose(flowTimes({ ...FLOW, shift: 3 }, 28), [0.999, ...sigmas.slice(1), 0], 1e-12, 'times');
  });

  it('karras re-spaces the shifted sigmas between their ends', () => {
    const shift = (s: number) => (2 * s) / (1 + s);
    const sigmaMin = shift(shift(0.001));
    expectClose(flowTimes({ ...FLOW, shift: 2, use_karras_sigmas: true }, 6), [0.999, ...karras(6, sigmaMin, 1).slice(1), 0], 1e-12, 'times');
  });

  it('use_dynamic_shifting and shift_terminal are refused by name', () => {
    expect(() => auto({ ...FLOW, use_dynamic_shifting: true }, 10)).toThrow(/spacing "auto" cannot reproduce.*use_dynamic_shifting.*choose a spacing explicitly/);
    expect(() => auto({ ...FLOW, shift_terminal: 0.1 }, 10)).toThrow(/shift_terminal/);
  });
});

describe('auto without a config, and the explicit spacings', () => {
  const schedule = DiscreteVPSchedule.fromBetas('scaled_linear');

  it('a model without a scheduler config (GaussianMixtureModel, LoadOnnxModel) gets the logSNR grid', () => {
    const grid = buildGrid(schedule, { spacing: 'auto', steps: 12, denoise: 1, rho: 7 });
    expect(grid.times).toEqual(dpmSolverTimeGrid(schedule, 'logSNR', 12));
    expect(grid.spacing).toBe('logSNR');
  });

  it('explicit spacings ignore the config (leading keeps steps_offset 0, as before auto)', () => {
    const info = schedulerFromConfig({ _class_name: 'DDIMScheduler', ...SD_BETAS, steps_offset: 1, use_karras_sigmas: true }, 'scheduler_config.json');
    const grid = buildGrid(info.schedule, { spacing: 'leading', steps: 10, denoise: 1, rho: 7, schedulerGrid: info.grid });
    expect(grid.times).toEqual(discreteTimeGrid(info.schedule, 'leading', 10));
  });

  it('other features auto cannot reproduce are named', () => {
    expect(() => auto({ _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, use_beta_sigmas: true }, 10)).toThrow(/use_beta_sigmas/);
    expect(() => auto({ _class_name: 'EulerDiscreteScheduler', ...SD_BETAS, interpolation_type: 'log_linear' }, 10)).toThrow(/interpolation_type "log_linear"/);
    expect(() => auto({ _class_name: 'DPMSolverMultistepScheduler', ...SD_BETAS, timestep_spacing: 'quadratic' }, 10)).toThrow(/timestep_spacing "quadratic"/);
  });

  it('an unknown class follows DDIM\'s rules, and the loader says so', () => {
    const info = schedulerFromConfig({ _class_name: 'PNDMScheduler', ...SD_BETAS, steps_offset: 1, set_alpha_to_one: false }, 'scheduler_config.json');
    expect(info.notes.join('\n')).toMatch(/PNDMScheduler .* follows DDIMScheduler's rules/);
    expectIntegerGrid({ _class_name: 'PNDMScheduler', ...SD_BETAS, steps_offset: 1, set_alpha_to_one: false }, 50, range(50, (i) => 981 - 20 * i), trainSigma[0]);
  });
});

describe("the start state: diffusers' init_noise_sigma and scale_model_input in VP terms (start_scale auto)", () => {
  const SD = { ...SD_BETAS, set_alpha_to_one: false, steps_offset: 1 };
  const noiseValues = [0.5, -1.25, 2, 0.75];
  const noise: NoiseGenerator = { seed: null, sample: (like) => Tensor.from(like.shape, noiseValues) };
  const latent = Tensor.zeros([1, 4], 'float64');

  function start(config: Record<string, unknown>, startScale: StartScale, denoise = 1) {
    const { grid, schedule } = auto(config, 10, denoise);
    const state = startState({ guider: { schedule, denoise: async (x) => x }, solver: { kind: 'none', solve: async (a) => a.x }, grid, latent, noise, addNoise: true, startScale });
    return { state: Array.from(state.data), sigma0: schedule.sigma(grid.times[0]), t0: grid.times[0], start: grid.start };
  }

  it('Euler with trailing / linspace: latents = sigma_max·noise in VE, divided by sqrt(sigma_max² + 1): sigma(t0)·noise', () => {
    for (const timestep_spacing of ['trailing', 'linspace']) {
      const s = start({ _class_name: 'EulerDiscreteScheduler', ...SD, timestep_spacing }, 'auto');
      const sigmaMax = trainSigma[999];
      expect(s.start).toBe('sigma');
      // The VP state diffusers' UNet sees: scale_model_input(sigma_max·noise) = sigma_max/sqrt(sigma_max² + 1)·noise.
      expectClose(s.state, noiseValues.map((v) => (sigmaMax / Math.sqrt(sigmaMax ** 2 + 1)) * v), 1e-12, timestep_spacing);
    }
  });

  it('Euler with leading: init_noise_sigma = sqrt(sigma_max² + 1), so the VP state is the noise itself, below tMax too', () => {
    const s = start({ _class_name: 'EulerDiscreteScheduler', ...SD, timestep_spacing: 'leading' }, 'auto');
    expect(s.t0).toBeLessThan(1);
    expect(s.state).toEqual(noiseValues);
  });

  it('DDIM / DPM-Solver / UniPC / FlowMatch (init_noise_sigma 1): the noise itself', () => {
    expect(start({ _class_name: 'DDIMScheduler', ...SD, timestep_spacing: 'leading' }, 'auto').state).toEqual(noiseValues);
    expect(start({ _class_name: 'DPMSolverMultistepScheduler', ...SD, timestep_spacing: 'leading' }, 'auto').state).toEqual(noiseValues);
    expect(start({ _class_name: 'UniPCMultistepScheduler', ...SD }, 'auto').state).toEqual(noiseValues);
    expect(start({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3 }, 'auto').state).toEqual(noiseValues);
  });

  it('an explicit start_scale wins; img2img (denoise < 1) noises the latent to sigma(t0) as on every grid', () => {
    const s = start({ _class_name: 'EulerDiscreteScheduler', ...SD, timestep_spacing: 'trailing' }, 'unit');
    expect(s.state).toEqual(noiseValues);
    const partial = start({ _class_name: 'DDIMScheduler', ...SD, timestep_spacing: 'trailing' }, 'auto', 0.5);
    expect(partial.start).toBeUndefined();
    expectClose(partial.state, noiseValues.map((v) => partial.sigma0 * v), 1e-12, 'img2img');
  });

  it('auto on a grid that reproduces no scheduler is unit (the old default)', () => {
    const schedule = DiscreteVPSchedule.fromBetas('scaled_linear');
    const grid = buildGrid(schedule, { spacing: 'trailing', steps: 10, denoise: 1, rho: 7 });
    const state = startState({ guider: { schedule, denoise: async (x) => x }, solver: { kind: 'none', solve: async (a) => a.x }, grid, latent, noise, addNoise: true, startScale: 'auto' });
    expect(Array.from(state.data)).toEqual(noiseValues);
  });
});
