import type { NodeDefinition, Tensor } from '@diffgraph/engine';

/** The photographic negative of each image: 1 − value in every channel. */
export const ImageInvert: NodeDefinition = {
  type: 'ImageInvert',
  category: 'example/image',
  description: 'The negative of each image of the batch: every channel value v becomes 1 − v.',
  version: 1,
  inputs: {
    images: { type: 'IMAGE', tooltip: 'RGB images, [batch, 3, height, width], values in [0, 1]' },
  },
  outputs: {
    images: { type: 'IMAGE' },
  },
  run({ images }, ctx) {
    const input = images as Tensor;
    if (input.shape.length !== 4 || input.shape[1] !== 3) {
      throw new Error(`ImageInvert: input "images" must be [batch, 3, height, width], got [${input.shape.join(', ')}]`);
    }
    // clone() keeps the shape and dtype and gives a fresh buffer: no import of the Tensor class needed.
    const out = input.clone();
    const batch = input.shape[0]!;
    const perImage = out.data.length / batch;
    for (let b = 0; b < batch; b++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      for (let i = b * perImage; i < (b + 1) * perImage; i++) out.data[i] = 1 - out.data[i]!;
      ctx.progress(b + 1, batch);
    }
    return { images: out };
  },
};
