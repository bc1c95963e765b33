/**
 * Cyclic One-Way Diffusion (Wang et al., arXiv 2306.08247): keep a pixel region (the visual
 * condition) and generate the rest around it, letting information flow one way, from the region to
 * the rest. With the grid t_0 > … > t_N and two of its points t_hi = t_[from·N] > t_lo = t_[to·N]:
 *  1. seed: the canvas (condition in place) is encoded and noised to t_0 (or the start is the noise);
 *  2. denoise t_0 → t_hi, then `cycles` times: denoise t_hi → t_lo and re-noise t_lo → t_hi by the
 *     forward transition x_hi = r·x_lo + √(s_hi² − r²·s_lo²)·z, r = a_hi/a_lo (fresh seeded z each
 *     cycle), then denoise t_hi → t_N;
 *  3. at every model call the condition is injected: the state's kept region is the condition noised
 *     to that time and the x0 there is the condition itself (InpaintGuider), so the rest is
 *     conditioned on the region and never the other way round;
 *  4. the kept region of the latent and of the decoded image is pasted back exactly.
 * Each cycle's re-noise erases the mismatches at the region's border that one pass leaves and gives
 * the generated part another pass conditioned on the region.
 */
import { defineNode, Tensor } from '@diffgraph/engine';
import type { NoiseGenerator, NoiseSchedule, TimeGrid } from '../contracts/sampling.ts';
import { startState } from '../contracts/start-state.ts';
import { segmentOrders } from '../schedules/grids.ts';
import { checkSolvesInParts } from '../solvers/catalog.ts';
import { inpaintGuider } from '../sampling/inpaint-guider.ts';
import { inpaintComposite } from '../sampling/inpaint-composite.ts';
import { assertFiniteLatent, gridIndex, maskPlane, pasteBack, planeMask, requireGuider, requireVae, singleImage, solveSegment } from './common.ts';

const NODE = 'CyclicOneWay';

/** Forward transition q(x_hi | x_lo) of the noise schedule: a state at t_lo re-noised to t_hi > t_lo. */
export function renoise(x: Tensor, schedule: NoiseSchedule, tLo: number, tHi: number, z: Tensor): Tensor {
  const r = schedule.alpha(tHi) / schedule.alpha(tLo);
  const spread = Math.sqrt(Math.max(0, schedule.sigma(tHi) ** 2 - (r * schedule.sigma(tLo)) ** 2));
  const out = x.clone();
  for (let i = 0; i < out.size; i++) out.data[i] = r * x.data[i] + spread * z.data[i];
  return out;
}

export const CyclicOneWay = defineNode({
  type: 'CyclicOneWay',
  category: 'editing',
  description: 'Cyclic One-Way Diffusion: keeps the masked-out pixel region (the visual condition) exactly and generates the rest around it, cycling re-noise/denoise between two points of the grid and re-injecting the region at every model call, so information flows from the region to the rest only.',
  version: 1,
  inputs: {
    vae: { type: 'VAE' },
    guider: { type: 'GUIDER', tooltip: 'The model and prompt that describe the whole picture' },
    solver: { type: 'SOLVER' },
    sigmas: { type: 'SIGMAS' },
    noise: { type: 'NOISE' },
    image: { type: 'IMAGE', tooltip: 'The canvas with the visual condition in place, one image [1, 3, H, W]' },
    mask: { type: 'MASK', tooltip: '1 (white) = generate, 0 = keep (the visual condition); the image\'s size' },
    cycles: { type: 'INT', default: 3, min: 0, max: 100, tooltip: 'Re-noise/denoise cycles between cycle_from and cycle_to (0 = one plain inpainting pass)' },
    cycle_from: { type: 'FLOAT', default: 0.3, min: 0, max: 1, step: 0.05, tooltip: 'Where each cycle starts, as a fraction of the grid\'s steps (0 = its first time): the level it re-noises to' },
    cycle_to: { type: 'FLOAT', default: 0.8, min: 0, max: 1, step: 0.05, tooltip: 'Where each cycle ends and re-noises, as a fraction of the grid\'s steps; later than cycle_from' },
  },
  outputs: { image: { type: 'IMAGE' }, latent: { type: 'LATENT' } },
  async run(i, ctx) {
    checkSolvesInParts(NODE, i.solver);
    const dims = singleImage(i.image, NODE, 'image');
    const generate = maskPlane(i.mask, dims, NODE, 'mask', 'image');
    const vae = requireVae(i.vae, NODE);
    const inner = requireGuider(i.guider, NODE);
    const grid: TimeGrid = i.sigmas;
    const noise: NoiseGenerator = i.noise;
    const steps = grid.times.length - 1;
    const hi = gridIndex(i.cycle_from, steps), lo = gridIndex(i.cycle_to, steps);
    if (i.cycles > 0 && lo <= hi) {
      throw new Error(`${NODE} input "cycle_to": ${i.cycle_to} must lie at least one step (of ${steps}) after cycle_from = ${i.cycle_from}`);
    }
    const region = planeMask(generate, dims);
    const condition = await vae.encode(i.image);
    const guider = inpaintGuider(inner, condition, region, noise, NODE);
    const { schedule } = guider;
    const total = hi + i.cycles * (lo - hi) + (steps - hi);
    let done = 0, stream = 1;
    ctx.progress(0, total);
    const segment = async (x: Tensor, from: number, to: number) => {
      const times = grid.times.slice(from, to + 1);
      const out = await solveSegment({
        solver: i.solver, guider, x, times, spacing: grid.spacing, orders: segmentOrders(grid, from, to), noise, stream, signal: ctx.signal,
        onStep: () => ctx.progress(++done, total),
      });
      stream += times.length;
      return out;
    };
    let x = startState({ guider, solver: i.solver, grid, latent: condition, noise, addNoise: true, startScale: 'auto' });
    x = await segment(x, 0, hi);
    for (let k = 0; k < i.cycles; k++) {
      x = await segment(x, hi, lo);
      x = renoise(x, schedule, grid.times[lo], grid.times[hi], noise.sample(x, stream++));
    }
    x = await segment(x, hi, steps);
    assertFiniteLatent(x, NODE);
    const latent = inpaintComposite(x, condition, region, NODE);
    const decoded = await vae.decode(latent);
    return { image: pasteBack(decoded, i.image, generate), latent };
  },
});
