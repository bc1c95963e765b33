/** The model loader nodes: LoadPipeline (diffusers ONNX folder) and LoadOnnxModel (.onnx + sidecar). */
import { defineNode } from '@diffgraph/engine';
import { storeOf } from '../../runtime/store-of.ts';
import { loadPipeline } from './pipeline.ts';
import { loadOnnxModel } from './single-model.ts';

export const LoadPipeline = defineNode({
  type: 'LoadPipeline',
  category: 'models',
  description: 'Loads a diffusers ONNX pipeline folder (model_index.json, scheduler, tokenizer, text_encoder, unet, vae_encoder/vae_decoder; SDXL adds tokenizer_2 and text_encoder_2) from the model roots. Layout, schedule, prediction type, shapes and latent scaling come from its files.',
  version: 1,
  inputs: {
    path: { type: 'STRING', default: 'shapes-32', path: 'models', role: 'model', summary: 'model', tooltip: 'Pipeline folder, resolved inside the model roots' },
  },
  outputs: { model: { type: 'MODEL' }, text_encoder: { type: 'TEXT_ENCODER' }, vae: { type: 'VAE' } },
  async run({ path }, ctx) {
    try {
      const p = await loadPipeline(storeOf(ctx), path, (m) => ctx.log(m));
      return { model: p.model, text_encoder: p.encoder, vae: p.vae };
    } catch (e) {
      throw new Error(`LoadPipeline: ${(e as Error).message}`);
    }
  },
});

export const LoadOnnxModel = defineNode({
  type: 'LoadOnnxModel',
  category: 'models',
  description: 'Loads one .onnx denoising network with a sidecar JSON that gives its parameterization (eps/v/x0/flow), noise schedule, IO names and sample shape.',
  version: 1,
  inputs: {
    path: { type: 'STRING', path: 'models', role: 'model', summary: 'model', tooltip: '.onnx file, resolved inside the model roots' },
    config: { type: 'STRING', default: '', optional: true, path: 'models', tooltip: 'Sidecar JSON (default: the same name with .json)' },
  },
  outputs: { model: { type: 'MODEL' } },
  async run({ path, config }, ctx) {
    try {
      return { model: await loadOnnxModel(storeOf(ctx), path, config, (m) => ctx.log(m)) };
    } catch (e) {
      throw new Error(`LoadOnnxModel: ${(e as Error).message}`);
    }
  },
});
