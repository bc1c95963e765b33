/**
 * ComfyUI's KSampler schedulers as Schedule spacings: the sigmas are ComfyUI's (comfy/samplers.py) on
 * the SD schedule's own table — checked where its picks land on whole timesteps, where they fall
 * between two (log sigma interpolated), and in how many steps they take.
 */
import { describe, expect, it } from 'vitest';
import { buildGrid, makeNoiseSchedule } from '../src/index.ts';
import { comfySigmas, COMFY_GRIDS } from '../src/schedules/comfy-grids.ts';
import { timesToSigmas } from '../src/schedules/sigma-grids.ts';
import type { DiscreteVPSchedule } from '../src/schedules/noise-schedules.ts';

const sd = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' }) as DiscreteVPSchedule;
/** ComfyUI's model_sampling.sigmas[n]. */
const table = (n: number) => Math.sqrt((1 - sd.alphasCumprod[n]) / sd.alphasCumprod[n]);
const close = (got: number[], want: number[]) => {
  expect(got).toHaveLength(want.length);
  got.forEach((v, i) => expect(v, `sigma ${i}`).toBeCloseTo(want[i], 12));
};

describe('ComfyUI scheduler grids', () => {
  it('normal: linspace(999, 0, steps) in timesteps, then 0', () => {
    close(comfySigmas(sd, 'comfy_normal', 4), [table(999), table(666), table(333), table(0), 0]);
    // 499.5 lies between two timesteps: log sigma halfway.
    close(comfySigmas(sd, 'comfy_normal', 3), [table(999), Math.exp((Math.log(table(499)) + Math.log(table(500))) / 2), table(0), 0]);
  });

  it('sgm_uniform: linspace(999, 0, steps + 1) without its last point, then 0', () => {
    close(comfySigmas(sd, 'comfy_sgm_uniform', 3), [table(999), table(666), table(333), 0]);
  });

  it('simple: every (1000/steps)-th sigma from the top, then 0', () => {
    close(comfySigmas(sd, 'comfy_simple', 4), [table(999), table(749), table(499), table(249), 0]);
    close(comfySigmas(sd, 'comfy_simple', 3), [table(999), table(666), table(333), 0]);
  });

  it('ddim_uniform: sigmas 1, 1 + 1000//steps, … reversed, then 0 — more steps than asked where 1000//steps falls short', () => {
    close(comfySigmas(sd, 'comfy_ddim_uniform', 4), [table(751), table(501), table(251), table(1), 0]);
    // 1000 // 7 = 142: timesteps 1, 143, …, 995 are eight.
    close(comfySigmas(sd, 'comfy_ddim_uniform', 7), [995, 853, 711, 569, 427, 285, 143, 1].map(table).concat(0));
  });

  it.each(COMFY_GRIDS)('%s through Schedule: steps intervals ending at t = 0, img2img keeps the last ones', (spacing) => {
    // Step counts that divide evenly enough for ddim_uniform to take exactly steps (see above).
    for (const steps of [1, 4, 20, 37]) {
      const { times } = buildGrid(sd, { spacing, steps, denoise: 1, rho: 7 });
      expect(times, `${steps} steps`).toHaveLength(steps + 1);
      expect(times[steps]).toBe(0);
      for (let i = 1; i < times.length; i++) expect(times[i]).toBeLessThan(times[i - 1]);
      close(timesToSigmas(sd, times), comfySigmas(sd, spacing, steps));
    }
    const full = buildGrid(sd, { spacing, steps: 20, denoise: 1, rho: 7 }).times;
    expect(buildGrid(sd, { spacing, steps: 10, denoise: 0.5, rho: 7 }).times).toEqual(full.slice(10));
  });

  it('a flow schedule reads its own times the same way and ends at sigma 0', () => {
    const flow = makeNoiseSchedule({ kind: 'flow' });
    const { times } = buildGrid(flow, { spacing: 'comfy_normal', steps: 6, denoise: 1, rho: 7 });
    expect(times).toHaveLength(7);
    expect(times[6]).toBe(0);
    expect(times[0]).toBeCloseTo(flow.tMax, 12);
  });
});
