/**
 * TALE (Pham et al., arXiv 2408.03637): training-free composition of an object from a source image
 * into a background, in latent space. The model-agnostic core:
 *  1. latent composition: both images are encoded; the source's latent is shifted by the offset (in
 *     latent cells, bilinear: a multiple of the VAE's factor is an exact copy) and pasted into the
 *     background's latent under the object mask m (area-averaged to latent size): z_c = m·z_obj + (1 − m)·z_bg;
 *  2. adaptive latent manipulation: during the first `manipulation_end` of the steps the object
 *     region of the state is replaced by the source object noised to the current time (one fixed
 *     noise draw), so the object's layout is settled by its own latents before the rest adapts;
 *  3. energy-guided optimisation of the composite: at every model call the x0-prediction is moved
 *     to the minimiser of E(x0) + ‖x0 − x̂0‖²/(2ρ), with the energy
 *       E = ½·Σ w_bg·(1 − d)·(x0 − z_bg)² + ½·Σ w_obj·m·(x0 − z_obj)²
 *     (background preservation outside the seam band d, object fidelity on the object) and
 *     ρ = energy_scale·(σ/α)²: the gradient step with the denoiser's Jacobian skipped, J ≈ I/α
 *     (G1, as in inverse/jacobian.ts), solved in closed form since E is quadratic:
 *       x̃0 = (x̂0 + ρ·(w_b·z_bg + w_o·z_obj)) / (1 + ρ·(w_b + w_o)).
 *     At high noise it follows the composite, at low noise the model: the seam band, free of both
 *     terms, is where the model harmonises the object with the background.
 * The paper takes its energy gradients through the UNet; an ONNX UNet gives none, so the energies
 * here are on the latent x0-prediction, where their gradients are analytic.
 */
import { defineNode, Tensor } from '@diffgraph/engine';
import type { Guider, NoiseGenerator, TimeGrid } from '../contracts/sampling.ts';
import { fitMask } from '../image/inpaint-mask.ts';
import { sample } from '../sampling/sample-node.ts';
import { assertFiniteLatent, gridIndex, maskPlane, requireGuider, requireVae, singleImage } from './common.ts';
import { centroid, dilate, movePlane, type Plane } from './geometry.ts';

const NODE = 'TALE';

export interface TaleTargets {
  /** Background latent, object latent (shifted source) and the naive composite. */
  background: Tensor;
  object: Tensor;
  composite: Tensor;
  /** Per latent entry: object coverage m and seam band d (both area-averaged, [0, 1]). */
  objectMask: Float64Array;
  band: Float64Array;
}

export interface TaleOptions {
  /** Model calls at times ≥ this get the object region replaced (adaptive latent manipulation). */
  manipulateFrom: number;
  energyScale: number;
  backgroundWeight: number;
  objectWeight: number;
}

/** Step 1: the latent composite and the masks the guider needs. */
export function composeLatents(background: Tensor, source: Tensor, objectMask: Float64Array, dims: Plane, dx: number, dy: number, seam: number): TaleTargets {
  const center = centroid(objectMask, dims);
  if (!center) throw new Error(`${NODE} input "mask": the mask is empty; mark the object to copy with white (1)`);
  const moved = movePlane(objectMask, dims, center, { dx, dy, scale: 1 });
  const [, channels, h, w] = background.shape;
  const factorX = dims.width / w, factorY = dims.height / h;
  const object = source.clone();
  const cells = h * w;
  for (let c = 0; c < channels; c++) {
    const plane = source.data.subarray(c * cells, (c + 1) * cells);
    object.data.set(movePlane(plane, { height: h, width: w }, [0, 0], { dx: dx / factorX, dy: dy / factorY, scale: 1 }), c * cells);
  }
  const toLatent = (plane: Float64Array, input: string) => fitMask(new Tensor([1, 1, dims.height, dims.width], Float32Array.from(plane)), background.shape, `${NODE} input "${input}"`);
  const m = toLatent(moved, 'mask');
  const d = toLatent(dilate(moved, dims, seam), 'mask');
  const composite = background.clone();
  for (let i = 0; i < composite.size; i++) composite.data[i] = m[i] * object.data[i] + (1 - m[i]) * background.data[i];
  return { background, object, composite, objectMask: m, band: d };
}

/** Steps 2 and 3 as a guider around the inner one. */
export function taleGuider(inner: Guider, targets: TaleTargets, noise: NoiseGenerator, o: TaleOptions): Guider {
  const { schedule } = inner;
  const { background: zb, object: zo, objectMask: m, band: d } = targets;
  let eps: Tensor | undefined;
  return {
    schedule,
    latentRgb: inner.latentRgb?.bind(inner),
    async denoise(x, t) {
      if (x.size !== zb.size) throw new Error(`${NODE}: states ${x} do not match the composite ${zb} (one image at a time)`);
      const a = schedule.alpha(t), s = schedule.sigma(t);
      let fed = x;
      if (t >= o.manipulateFrom) {
        eps ??= noise.sample(x.zerosLike(), 0);
        fed = x.clone();
        for (let i = 0; i < fed.size; i++) fed.data[i] = m[i] * (a * zo.data[i] + s * eps.data[i]) + (1 - m[i]) * x.data[i];
      }
      const x0 = await inner.denoise(fed, t);
      if (!(s > 0)) return x0;
      const rho = o.energyScale * (s / a) ** 2;
      const out = x0.clone();
      for (let i = 0; i < out.size; i++) {
        const wb = o.backgroundWeight * (1 - d[i]), wo = o.objectWeight * m[i];
        out.data[i] = (x0.data[i] + rho * (wb * zb.data[i] + wo * zo.data[i])) / (1 + rho * (wb + wo));
      }
      return out;
    },
  };
}

export const TALE = defineNode({
  type: 'TALE',
  category: 'editing',
  description: 'TALE image composition: pastes the masked object of "source" into "background" in latent space at an offset, replaces the object region with the source\'s noised latents in the early steps, and pulls every x0-prediction towards the background (outside a seam band) and the object by a quadratic energy, leaving the seam to the model.',
  version: 1,
  inputs: {
    vae: { type: 'VAE' },
    guider: { type: 'GUIDER', tooltip: 'The model and prompt that describe the composed scene' },
    solver: { type: 'SOLVER' },
    sigmas: { type: 'SIGMAS', tooltip: 'denoise < 1 starts from the noised composite' },
    noise: { type: 'NOISE' },
    background: { type: 'IMAGE', tooltip: 'One image [1, 3, H, W]' },
    source: { type: 'IMAGE', tooltip: 'The image holding the object; the background\'s size' },
    mask: { type: 'MASK', tooltip: 'The object in "source": 1 (white) on it, 0 elsewhere' },
    dx: { type: 'FLOAT', default: 0, min: -4096, max: 4096, step: 1, tooltip: 'Place the object this many pixels right of where it is in the source' },
    dy: { type: 'FLOAT', default: 0, min: -4096, max: 4096, step: 1, tooltip: 'Place the object this many pixels below where it is in the source' },
    seam: { type: 'INT', default: 4, min: 0, max: 64, tooltip: 'Width in pixels of the band around the object that neither energy term holds' },
    manipulation_end: { type: 'FLOAT', default: 0.3, min: 0, max: 1, step: 0.05, tooltip: 'Fraction of the steps (from the first) in which the object region is replaced by the source\'s noised latents' },
    energy_scale: { type: 'FLOAT', default: 1, min: 0, max: 1000, step: 0.1, tooltip: 'Strength of the energy guidance (0 = none)' },
    background_weight: { type: 'FLOAT', default: 1, min: 0, max: 100, step: 0.1 },
    object_weight: { type: 'FLOAT', default: 1, min: 0, max: 100, step: 0.1 },
  },
  outputs: { image: { type: 'IMAGE' }, composite: { type: 'IMAGE' }, latent: { type: 'LATENT' } },
  async run(i, ctx) {
    const dims = singleImage(i.background, NODE, 'background');
    const sourceDims = singleImage(i.source, NODE, 'source');
    if (sourceDims.height !== dims.height || sourceDims.width !== dims.width) {
      throw new Error(`${NODE} input "source": the source is ${sourceDims.width}×${sourceDims.height} but input "background" is ${dims.width}×${dims.height}; they must match`);
    }
    const objectMask = maskPlane(i.mask, dims, NODE, 'mask', 'source');
    const vae = requireVae(i.vae, NODE);
    const inner = requireGuider(i.guider, NODE);
    const grid: TimeGrid = i.sigmas;
    const steps = grid.times.length - 1;
    const [background, source] = [await vae.encode(i.background), await vae.encode(i.source)];
    const targets = composeLatents(background, source, objectMask, dims, i.dx, i.dy, i.seam);
    const switchAt = gridIndex(i.manipulation_end, steps);
    // Calls at times above the switch point manipulate; 0 steps means a threshold above every time.
    const manipulateFrom = switchAt === 0 ? Infinity : grid.times[switchAt - 1];
    const guider = taleGuider(inner, targets, i.noise, { manipulateFrom, energyScale: i.energy_scale, backgroundWeight: i.background_weight, objectWeight: i.object_weight });
    ctx.progress(0, steps);
    const { samples } = await sample({
      guider, solver: i.solver, grid, latent: targets.composite, noise: i.noise,
      addNoise: true, startScale: 'auto', signal: ctx.signal, onStep: (step) => ctx.progress(step + 1, steps),
    });
    assertFiniteLatent(samples, NODE);
    const [image, composite] = [await vae.decode(samples), await vae.decode(targets.composite)];
    return { image, composite, latent: samples };
  },
});
