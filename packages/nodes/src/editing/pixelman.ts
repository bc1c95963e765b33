/**
 * PixelMan (Jiang et al., arXiv 2412.14283): consistent object editing by manipulating the object
 * directly in pixel space, then letting the diffusion model harmonise the result, without training
 * and in few steps. The model-agnostic core, through the denoiser, the VAE and masks:
 *  1. pixel manipulation: the object (mask = 1) is copied to its new place (offset and scale about
 *     its centroid, premultiplied bilinear resampling: an integer offset at scale 1 is an exact copy);
 *  2. leak-proof start: the vacated area (the object's old footprint grown by `seam` pixels) is
 *     filled with the mean colour of the ring around it before encoding, and is regenerated from
 *     fresh noise, so nothing of the old object reaches the generated pixels (the paper blocks the
 *     same leak in self-attention, which an ONNX UNet does not expose);
 *  3. anchored sampling: inpainting by replacement (InpaintGuider) anchored to the pixel-manipulated
 *     latent — every x0-prediction is exactly that latent outside the regenerated region R (vacated
 *     area, plus a seam band around the pasted object's soft edge), so the moved object and the
 *     background are the manipulated image's own, and only R is generated;
 *  4. exact paste-back: the decoded image is blended into the manipulated image by R, so the pixels
 *     outside R are the manipulated image's, bit for bit.
 */
import { defineNode, Tensor } from '@diffgraph/engine';
import type { NoiseGenerator, TimeGrid, Solver } from '../contracts/sampling.ts';
import { inpaintGuider } from '../sampling/inpaint-guider.ts';
import { inpaintComposite } from '../sampling/inpaint-composite.ts';
import { sample } from '../sampling/sample-node.ts';
import { assertFiniteLatent, maskPlane, pasteBack, planeMask, requireGuider, requireVae, singleImage } from './common.ts';
import { centroid, dilate, movePlane, union, type Placement, type Plane } from './geometry.ts';

const NODE = 'PixelMan';

export interface Manipulation {
  /** The object copied to its new place over the background with the vacated area filled. */
  image: Tensor;
  /** Where the object now is (soft edge). */
  moved: Float64Array;
  /** What the model regenerates: vacated area and the seam band, never the pasted object's core. */
  regenerate: Float64Array;
}

/** The mean colour of the ring of pixels just outside `area` (and outside `exclude`), per channel. */
function ringColour(image: Tensor, area: Float64Array, exclude: Float64Array, dims: Plane): number[] {
  const n = dims.height * dims.width;
  const ring = dilate(area, dims, 2);
  let count = 0;
  const sum = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    if (ring[i] > 0 && area[i] === 0 && exclude[i] === 0) {
      count++;
      for (let c = 0; c < 3; c++) sum[c] += image.data[c * n + i];
    }
  }
  return count > 0 ? sum.map((s) => s / count) : [0.5, 0.5, 0.5];
}

/** Steps 1 and 2 above, and the region R of step 3: pure pixel work, no model. */
export function manipulate(image: Tensor, objectMask: Float64Array, at: Placement, seam: number): Manipulation {
  const dims: Plane = { height: image.shape[2], width: image.shape[3] };
  const n = dims.height * dims.width;
  const center = centroid(objectMask, dims);
  if (!center) throw new Error(`${NODE} input "mask": the mask is empty; mark the object to move with white (1)`);
  const moved = movePlane(objectMask, dims, center, at);
  const vacated = dilate(objectMask, dims, seam);
  const fill = ringColour(image, vacated, moved, dims);
  const out = image.clone();
  for (let c = 0; c < 3; c++) {
    const plane = image.data.subarray(c * n, (c + 1) * n);
    // Premultiplied: the moved colour·coverage plus the background's share of each pixel.
    const carried = movePlane(plane.map((v, i) => v * objectMask[i]), dims, center, at);
    for (let i = 0; i < n; i++) {
      const background = (1 - vacated[i]) * plane[i] + vacated[i] * fill[c];
      out.data[c * n + i] = Math.min(1, Math.max(0, carried[i] + (1 - moved[i]) * background));
    }
  }
  const band = union(vacated, dilate(moved, dims, seam));
  const regenerate = band.map((r, i) => (moved[i] >= 1 - 1e-6 ? 0 : r));
  return { image: out, moved, regenerate };
}

export const PixelMan = defineNode({
  type: 'PixelMan',
  category: 'editing',
  description: 'PixelMan object editing: moves (and scales) the masked object in pixel space, then regenerates only the vacated area and a seam band with inpainting sampling anchored to the manipulated image. Outside that region the result is the manipulated image exactly.',
  version: 1,
  inputs: {
    vae: { type: 'VAE' },
    guider: { type: 'GUIDER', tooltip: 'The model and prompt that harmonise (e.g. CFGGuider with the scene\'s new description, or an empty prompt)' },
    solver: { type: 'SOLVER' },
    sigmas: { type: 'SIGMAS', tooltip: 'A full grid regenerates the vacated area from noise; denoise < 1 starts from the ring-colour fill' },
    noise: { type: 'NOISE' },
    image: { type: 'IMAGE', tooltip: 'One image [1, 3, H, W]' },
    mask: { type: 'MASK', tooltip: 'The object to move: 1 (white) on the object, 0 elsewhere; the image\'s size' },
    dx: { type: 'FLOAT', default: 0, min: -4096, max: 4096, step: 1, tooltip: 'Move right by this many pixels (negative: left)' },
    dy: { type: 'FLOAT', default: 0, min: -4096, max: 4096, step: 1, tooltip: 'Move down by this many pixels (negative: up)' },
    scale: { type: 'FLOAT', default: 1, min: 0.1, max: 8, step: 0.05, tooltip: 'Resize the object about its centroid' },
    seam: { type: 'INT', default: 2, min: 0, max: 64, tooltip: 'Pixels around the old footprint and the pasted object\'s edge that are regenerated too' },
  },
  outputs: { image: { type: 'IMAGE' }, manipulated: { type: 'IMAGE' }, latent: { type: 'LATENT' }, mask: { type: 'MASK' } },
  async run(i, ctx) {
    const dims = singleImage(i.image, NODE, 'image');
    const objectMask = maskPlane(i.mask, dims, NODE, 'mask', 'image');
    const vae = requireVae(i.vae, NODE);
    const guider = requireGuider(i.guider, NODE);
    const edit = manipulate(i.image, objectMask, { dx: i.dx, dy: i.dy, scale: i.scale }, i.seam);
    const region = planeMask(edit.regenerate, dims);
    const anchor = await vae.encode(edit.image);
    const grid: TimeGrid = i.sigmas;
    const steps = grid.times.length - 1;
    ctx.progress(0, steps);
    const noise: NoiseGenerator = i.noise;
    const solver: Solver = i.solver;
    const { samples } = await sample({
      guider: inpaintGuider(guider, anchor, region, noise, NODE), solver, grid, latent: anchor, noise,
      addNoise: true, startScale: 'auto', signal: ctx.signal, onStep: (step) => ctx.progress(step + 1, steps),
    });
    assertFiniteLatent(samples, NODE);
    const latent = inpaintComposite(samples, anchor, region, NODE);
    const decoded = await vae.decode(latent);
    return { image: pasteBack(decoded, edit.image, edit.regenerate), manipulated: edit.image, latent, mask: region };
  },
});
