/**
 * MASK nodes. A MASK is [B, 1, H, W] in [0, 1] with 1 = repaint. Mask images are conventionally
 * white where to repaint, so a colour channel is taken as is; the alpha channel is inverted
 * (transparent = repaint), matching LoadImage's mask.
 */
import { defineNode, Tensor } from '@diffgraph/engine';
import { imageDims } from './png.ts';
import { readInputImage } from './decode-image.ts';

export const COLOR_CHANNELS = ['red', 'green', 'blue', 'luminance'] as const;
export type ColorChannel = (typeof COLOR_CHANNELS)[number];

// Rec. 601 luma, as PIL's convert('L').
const LUMA = [0.299, 0.587, 0.114];

/** One channel (or the luma) of every image of a batch, as a MASK [B, 1, H, W]. */
export function imageChannel(image: Tensor, channel: ColorChannel, where = 'imageChannel'): Tensor {
  const { batch, height, width } = imageDims(image, where);
  const plane = height * width;
  const out = Tensor.zeros([batch, 1, height, width]);
  const src = image.data, dst = out.data;
  const c = COLOR_CHANNELS.indexOf(channel);
  if (c < 0) throw new Error(`${where}: unknown channel "${channel}" (one of ${COLOR_CHANNELS.join(', ')})`);
  for (let b = 0; b < batch; b++) {
    const base = b * 3 * plane;
    for (let p = 0; p < plane; p++) {
      const v = c < 3 ? src[base + c * plane + p] : LUMA[0] * src[base + p] + LUMA[1] * src[base + plane + p] + LUMA[2] * src[base + 2 * plane + p];
      dst[b * plane + p] = Math.min(1, Math.max(0, v));
    }
  }
  return out;
}

function invert(mask: Tensor): Tensor {
  const out = mask.clone();
  for (let i = 0; i < out.data.length; i++) out.data[i] = 1 - out.data[i];
  return out;
}

export const ImageToMask = defineNode({
  type: 'ImageToMask',
  category: 'mask',
  description: 'A colour channel (or the luminance) of an image as a MASK: white = 1 = repaint.',
  version: 1,
  inputs: {
    image: { type: 'IMAGE' },
    channel: { type: 'STRING', enum: COLOR_CHANNELS, default: 'red' },
    invert: { type: 'BOOLEAN', default: false, tooltip: 'Repaint where the channel is dark instead' },
  },
  outputs: { mask: { type: 'MASK' } },
  run({ image, channel, invert: inv }) {
    const mask = imageChannel(image, channel, 'ImageToMask input "image"');
    return { mask: inv ? invert(mask) : mask };
  },
});

export const LoadMask = defineNode({
  type: 'LoadMask',
  category: 'mask',
  description: 'Reads a MASK from a PNG or JPEG in the input folders: a colour channel (white = repaint) or the alpha channel (transparent = repaint; a JPEG has none, so its alpha mask is all zeros).',
  version: 1,
  inputs: {
    path: { type: 'STRING', path: 'inputs', tooltip: 'PNG or JPEG file name, resolved inside the input folders' },
    channel: { type: 'STRING', enum: ['alpha', ...COLOR_CHANNELS], default: 'alpha' },
    invert: { type: 'BOOLEAN', default: false },
  },
  outputs: { mask: { type: 'MASK' } },
  run({ path: name, channel, invert: inv }, ctx) {
    const decoded = readInputImage(ctx, 'LoadMask', name);
    const mask = channel === 'alpha' ? decoded.mask : imageChannel(decoded.image, channel, 'LoadMask');
    return { mask: inv ? invert(mask) : mask };
  },
});

export const MaskToImage = defineNode({
  type: 'MaskToImage',
  category: 'mask',
  description: 'A MASK as a grey IMAGE (white = repaint), to preview or save it.',
  version: 1,
  inputs: { mask: { type: 'MASK' } },
  outputs: { image: { type: 'IMAGE' } },
  run({ mask }) {
    const m = mask;
    if (!(m instanceof Tensor) || m.shape.length !== 4 || m.shape[1] !== 1) throw new Error(`MaskToImage: input "mask" must be a MASK [B, 1, H, W], got ${m}`);
    const [b, , h, w] = m.shape;
    const plane = h * w;
    const out = Tensor.zeros([b, 3, h, w]);
    for (let i = 0; i < b; i++) {
      const src = m.data.subarray(i * plane, (i + 1) * plane);
      for (let c = 0; c < 3; c++) out.data.set(src, (i * 3 + c) * plane);
    }
    return { image: out };
  },
});
