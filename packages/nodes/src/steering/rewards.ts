/**
 * Rewards for Feynman–Kac steering and best-of-N: one number per batch item, computed on
 * x0-predictions (in the model's space). Image rewards take an IMAGE [B, 3, H, W] in [0, 1]; with a
 * VAE the x0-prediction is decoded first (`onImages`). No gradients are needed (FK resamples).
 */
import type { Tensor } from '@diffgraph/engine';
import { labelLogProbs, type Classifier, type LabelChoice } from '../guiders/classifier.ts';
import type { TensorRunner } from '../guiders/onnx-classifier.ts';
import type { Reward } from '../contracts/potential.ts';


/** What a VAE socket offers for rewards: latent → IMAGE [B, 3, H, W] in [0, 1]. */
export interface ImageDecoder {
  decode(latent: Tensor): Promise<Tensor>;
}

/** log p(y | x0) of the chosen labels (summed over heads), from the classifier at t = 0 (clean data). */
export function classifierReward(classifier: Classifier, choices: readonly LabelChoice[]): Reward {
  return {
    name: `log p(${choices.map((c) => c.head.labels?.[c.logit - c.head.offset] ?? c.logit - c.head.offset).join(', ')} | x0)`,
    async evaluate(x0) {
      const { logits } = await classifier.logitsAndGrad(x0, 0);
      return labelLogProbs(logits, choices);
    },
  };
}

/** −½·mean((x − target)²) over each item's entries; `target` is one item (broadcast) or a full batch. */
export function targetDistanceReward(target: readonly number[]): Reward {
  return {
    name: 'target distance',
    async evaluate(x) {
      const per = x.size / x.batch;
      if (target.length !== per) throw new Error(`target_distance: target has ${target.length} values, an item has ${per}`);
      const out = new Float64Array(x.batch);
      for (let b = 0; b < x.batch; b++) {
        let s = 0;
        for (let j = 0; j < per; j++) s += (x.data[b * per + j] - target[j]) ** 2;
        out[b] = -0.5 * s / per;
      }
      return out;
    },
  };
}

function expectImage(image: Tensor, what: string): [number, number] {
  if (image.shape.length !== 4 || image.shape[1] !== 3) {
    throw new Error(`${what}: needs an IMAGE [B, 3, H, W]; got [${image.shape.join(', ')}] — connect the model's VAE to reward latents`);
  }
  return [image.batch, image.shape[2] * image.shape[3]];
}

/** Mean Rec. 709 luminance, in [0, 1]. */
export const brightnessReward: Reward = {
  name: 'brightness',
  async evaluate(image) {
    const [batch, plane] = expectImage(image, 'brightness');
    const out = new Float64Array(batch);
    const d = image.data;
    for (let b = 0; b < batch; b++) {
      const o = b * 3 * plane;
      let s = 0;
      for (let p = 0; p < plane; p++) s += 0.2126 * d[o + p] + 0.7152 * d[o + plane + p] + 0.0722 * d[o + 2 * plane + p];
      out[b] = s / plane;
    }
    return out;
  },
};

/** −mean over pixels of the squared RGB distance to a colour (in [0, 1]³): 0 for a uniform image of it. */
export function colorReward(rgb: readonly number[]): Reward {
  if (rgb.length !== 3 || rgb.some((c) => !(c >= 0 && c <= 1))) throw new Error(`color reward: target must be [r, g, b] in [0, 1], got ${JSON.stringify(rgb)}`);
  return {
    name: `colour ${JSON.stringify(rgb)}`,
    async evaluate(image) {
      const [batch, plane] = expectImage(image, 'color');
      const out = new Float64Array(batch);
      const d = image.data;
      for (let b = 0; b < batch; b++) {
        const o = b * 3 * plane;
        let s = 0;
        for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) s += (d[o + c * plane + p] - rgb[c]) ** 2;
        out[b] = -s / plane;
      }
      return out;
    },
  };
}

/**
 * An image reward on x0-predictions: decoded by the VAE when there is one; otherwise the prediction
 * must already be pixels in the diffusion convention [−1, 1], mapped to [0, 1].
 */
export function onImages(reward: Reward, vae?: ImageDecoder): Reward {
  return {
    name: reward.name,
    async evaluate(x0) {
      if (vae) return reward.evaluate(await vae.decode(x0));
      const image = x0.clone();
      for (let j = 0; j < image.size; j++) image.data[j] = Math.min(1, Math.max(0, (image.data[j] + 1) / 2));
      return reward.evaluate(image);
    },
  };
}

/**
 * A reward network (e.g. an ONNX aesthetic or preference model) run by any tensor runner: one input
 * (the IMAGE, or the latent) and one output with one value per item.
 */
export function modelReward(name: string, run: TensorRunner, input: string, output: string): Reward {
  return {
    name,
    async evaluate(x) {
      const out = (await run({ [input]: x }, [output]))[output];
      if (!out || out.size !== x.batch) throw new Error(`${name}: output "${output}" must hold one value per item (${x.batch}), got ${out}`);
      return Float64Array.from(out.data);
    },
  };
}
