/** TextEncode, VAEEncode and VAEDecode: the nodes between prompts/images and the model's latent space. */
import { defineNode } from '@diffgraph/engine';
import type { SdxlTextEncoder, SizeConditioning } from './sdxl.ts';
import type { OnnxTextEncoder } from './text-encoder.ts';
import type { OnnxVae } from './vae.ts';

function expect<T>(value: unknown, check: (v: any) => boolean, node: string, input: string, what: string): T {
  if (!check(value)) throw new Error(`${node}: input "${input}" must be ${what}`);
  return value as T;
}

const isEncoder = (v: any) => typeof v?.encode === 'function' && v?.tokenizer !== undefined;
const isVae = (v: any) => typeof v?.decode === 'function' && typeof v?.scalingFactor === 'number';

/** A pixel count of SDXL's size conditioning (ignored by SD encoders). */
const pixels = (tooltip: string) => ({ type: 'INT', default: 0, min: 0, max: 16384, tooltip }) as const;

/** (height, width) in pixels, or undefined (0 = the output size, diffusers' default). */
function sizePair(height: number, width: number, node: string, what: string): [number, number] | undefined {
  if (height === 0 && width === 0) return undefined;
  if (height === 0 || width === 0) throw new Error(`${node}: set both ${what}_height and ${what}_width, or neither (0 = the output size)`);
  return [height, width];
}

export const TextEncode = defineNode({
  type: 'TextEncode',
  category: 'conditioning',
  description: 'Encodes a prompt with a pipeline\'s tokenizer and text encoder into a CONDITIONING (embeddings [1, sequence, width]; for SDXL also the pooled projection and the size conditioning).',
  version: 1,
  inputs: {
    encoder: { type: 'TEXT_ENCODER' },
    text: { type: 'STRING', multiline: true, default: '', summary: 'prompt', tooltip: 'The prompt; empty = the encoded empty prompt' },
    original_height: pixels('SDXL: the original image height in time_ids (0 = the output height)'),
    original_width: pixels('SDXL: the original image width in time_ids (0 = the output width)'),
    crop_top: pixels('SDXL: the crop\'s top coordinate in time_ids'),
    crop_left: pixels('SDXL: the crop\'s left coordinate in time_ids'),
    target_height: pixels('SDXL: the target height in time_ids (0 = the output height)'),
    target_width: pixels('SDXL: the target width in time_ids (0 = the output width)'),
  },
  outputs: { conditioning: { type: 'CONDITIONING' } },
  async run(i, ctx) {
    const enc = expect<OnnxTextEncoder | SdxlTextEncoder>(i.encoder, isEncoder, 'TextEncode', 'encoder', 'a TEXT_ENCODER from LoadPipeline');
    const { embeddings, pooled, truncated } = await enc.encode([i.text]);
    if (truncated[0]) ctx.log(`TextEncode: the prompt is longer than ${enc.tokenizer.length} tokens and was truncated`);
    if (!pooled) return { conditioning: { embeddings, text: i.text } };
    const sizes: SizeConditioning = {
      original: sizePair(i.original_height, i.original_width, 'TextEncode', 'original'),
      cropTopLeft: [i.crop_top, i.crop_left],
      target: sizePair(i.target_height, i.target_width, 'TextEncode', 'target'),
    };
    return { conditioning: { embeddings, pooled, sizes, text: i.text } };
  },
});

export const VAEEncode = defineNode({
  type: 'VAEEncode',
  category: 'latent',
  description: 'Encodes an IMAGE [B, 3, H, W] in [0, 1] into the model\'s scaled latent (the posterior mean where the export gives it).',
  version: 1,
  inputs: {
    vae: { type: 'VAE' },
    image: { type: 'IMAGE' },
    chunk: { type: 'INT', default: 4, min: 1, max: 256, tooltip: 'Images per encoder call' },
  },
  outputs: { latent: { type: 'LATENT' } },
  async run({ vae, image, chunk }) {
    const v = expect<OnnxVae>(vae, isVae, 'VAEEncode', 'vae', 'a VAE from LoadPipeline');
    return { latent: await v.encode(image, chunk) };
  },
});

export const VAEDecode = defineNode({
  type: 'VAEDecode',
  category: 'latent',
  description: 'Decodes a scaled latent into an IMAGE [B, 3, H, W] in [0, 1] (clamped), a chunk of the batch at a time.',
  version: 1,
  inputs: {
    vae: { type: 'VAE' },
    latent: { type: 'LATENT' },
    chunk: { type: 'INT', default: 4, min: 1, max: 256, tooltip: 'Latents per decoder call (some exported VAEs need 1)' },
  },
  outputs: { image: { type: 'IMAGE' } },
  async run({ vae, latent, chunk }) {
    const v = expect<OnnxVae>(vae, isVae, 'VAEDecode', 'vae', 'a VAE from LoadPipeline');
    return { image: await v.decode(latent, chunk) };
  },
});

declare module '@diffgraph/engine' {
  interface SocketTypes {
    TEXT_ENCODER: OnnxTextEncoder | SdxlTextEncoder;
  }
}
