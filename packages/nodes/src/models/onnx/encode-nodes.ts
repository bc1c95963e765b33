/** TextEncode, VAEEncode and VAEDecode: the nodes between prompts/images and the model's latent space. */
import type { NodeDefinition, Tensor } from '@diffgraph/engine';
import type { OnnxTextEncoder } from './text-encoder.ts';
import type { OnnxVae } from './vae.ts';

function expect<T>(value: unknown, check: (v: any) => boolean, node: string, input: string, what: string): T {
  if (!check(value)) throw new Error(`${node}: input "${input}" must be ${what}`);
  return value as T;
}

const isEncoder = (v: any) => typeof v?.encode === 'function' && v?.tokenizer !== undefined;
const isVae = (v: any) => typeof v?.decode === 'function' && typeof v?.scalingFactor === 'number';

export const TextEncode: NodeDefinition = {
  type: 'TextEncode',
  category: 'conditioning',
  description: 'Encodes a prompt with a pipeline\'s tokenizer and text encoder into a CONDITIONING (embeddings [1, sequence, width]).',
  version: 1,
  inputs: {
    encoder: { type: 'TEXT_ENCODER' },
    text: { type: 'STRING', multiline: true, default: '', tooltip: 'The prompt; empty = the unconditional embedding' },
  },
  outputs: { conditioning: { type: 'CONDITIONING' } },
  async run({ encoder, text }, ctx) {
    const enc = expect<OnnxTextEncoder>(encoder, isEncoder, 'TextEncode', 'encoder', 'a TEXT_ENCODER from LoadPipeline');
    const { embeddings, truncated } = await enc.encode([text as string]);
    if (truncated[0]) ctx.log(`TextEncode: the prompt is longer than ${enc.tokenizer.length} tokens and was truncated`);
    return { conditioning: { embeddings, text } };
  },
};

export const VAEEncode: NodeDefinition = {
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
    return { latent: await v.encode(image as Tensor, chunk as number) };
  },
};

export const VAEDecode: NodeDefinition = {
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
    return { image: await v.decode(latent as Tensor, chunk as number) };
  },
};
