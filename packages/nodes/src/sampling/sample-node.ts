import { defineNode, type Tensor, throttledYield } from '@diffgraph/engine';
import { SAMPLE_INPUTS, startState, type SampleRequest } from '../contracts/start-state.ts';
import { latentPreviewHook } from '../image/latent-preview.ts';
import { steeredSample } from '../steering/fk-sample.ts';

export async function sample(r: SampleRequest): Promise<{ samples: Tensor; denoised: Tensor }> {
  const x = startState(r);
  let denoised = x;
  const letEventsIn = throttledYield();
  const denoiser = async (state: Tensor, t: number) => {
    // Let cancel requests, timers and I/O in between model calls.
    await letEventsIn();
    if (r.signal?.aborted) throw r.signal.reason;
    return r.guider.denoise(state, t);
  };
  const samples = await r.solver.solve({
    denoiser,
    schedule: r.guider.schedule,
    x,
    times: r.grid.times,
    spacing: r.grid.spacing,
    lcm: r.grid.lcm,
    orders: r.grid.orders,
    noise: (like, step) => r.noise.sample(like, step + 1),
    hooks: {
      signal: r.signal,
      onStep: ({ step, steps, denoised: d }) => {
        denoised = d;
        r.onStep?.(step, steps, d);
      },
    },
  });
  assertFinite(samples, r);
  return { samples, denoised };
}

/** A solver that left the model's range (a grid end where lambda is infinite, an unstable order) says so. */
function assertFinite(x: Tensor, r: SampleRequest): void {
  for (let i = 0; i < x.size; i++) {
    if (!Number.isFinite(x.data[i])) {
      throw new Error(`solver "${r.solver.kind}" produced a non-finite value (${x.data[i]}) on a ${r.grid.spacing} grid from t = ${r.grid.times[0]} to ${r.grid.times[r.grid.times.length - 1]}; try another spacing or solver`);
    }
  }
}

export const Sample = defineNode({
  type: 'Sample',
  category: 'sampling',
  description: 'Runs a solver over a time grid with a guider, from a latent (plus noise) to samples. Reports progress every step and stops within one step when cancelled.',
  version: 1,
  inputs: {
    ...SAMPLE_INPUTS,
    potential: { type: 'POTENTIAL', optional: true, tooltip: 'Feynman–Kac steering: k particles per item resampled by this reward potential (SteeredSample also outputs every particle and its reward)' },
    preview_every: { type: 'INT', default: 4, min: 0, max: 1000, tooltip: 'Send a cheap latent preview of the x0 prediction every N steps (image latents only; 0 = never)' },
  },
  outputs: { samples: { type: 'LATENT' }, denoised: { type: 'LATENT' } },
  async run(i, ctx) {
    const grid = i.sigmas;
    const steps = grid.times.length - 1;
    ctx.progress(0, steps);
    if (i.potential) {
      const { samples, denoised } = await steeredSample({
        guider: i.guider, solver: i.solver, grid, latent: i.latent, noise: i.noise, potential: i.potential,
        addNoise: i.add_noise, startScale: i.start_scale, signal: ctx.signal,
        onStep: (step) => ctx.progress(step + 1, steps),
      });
      return { samples, denoised };
    }
    const wantPreviews = i.preview_every > 0 && ctx.previewing !== false;
    // The model's own fitted projection when it has one (a loaded pipeline), else the SD factors.
    const rgb = wantPreviews ? await i.guider.latentRgb?.() : undefined;
    const preview = wantPreviews ? latentPreviewHook(ctx, { every: i.preview_every, ...(rgb ?? { scale: 4 }) }) : undefined;
    return sample({
      guider: i.guider, solver: i.solver, grid, latent: i.latent, noise: i.noise,
      addNoise: i.add_noise, startScale: i.start_scale, signal: ctx.signal,
      onStep: (step, total, denoised) => {
        ctx.progress(step + 1, steps);
        preview?.(step, total, denoised);
      },
    });
  },
});
