/**
 * Loads a diffusers ONNX pipeline folder (what `optimum-cli export onnx` writes, DESIGN §7):
 * model_index.json, scheduler/scheduler_config.json, tokenizer/, text_encoder/, unet/, vae_decoder/ and
 * optionally vae_encoder/. Shapes, dtypes, the schedule, the prediction type and the latent scaling
 * all come from the files and the sessions' declared IO, never from SD's defaults.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Tensor } from '@diffgraph/engine';
import type { ModelStore } from '../../runtime/model-store.ts';
import { numberField, readJson, readOptionalJson, type Json } from './config-files.ts';
import { parameterizationOf } from './prediction-type.ts';
import { schedulerFromConfig, type SchedulerInfo } from './scheduler-config.ts';
import { OnnxTextEncoder } from './text-encoder.ts';
import { loadTokenizer } from './tokenizer.ts';
import { createUnetModel, type OnnxDiffusionModel } from './unet.ts';
import { OnnxVae } from './vae.ts';
import { fitLatentRgbFromDecoder, type LatentRgb } from '../../image/latent-rgb.ts';

export interface Pipeline {
  folder: string;
  model: OnnxDiffusionModel;
  textEncoder: OnnxTextEncoder;
  vae: OnnxVae;
  scheduler: SchedulerInfo;
}

type Log = (message: string) => void;

/** [C, H, W] from unet/config.json: in_channels and sample_size (an int, or [h, w]). */
function configSampleShape(cfg: Json, file: string): (number | undefined)[] {
  const channels = cfg.in_channels === undefined ? undefined : numberField(cfg, 'in_channels', file, 0);
  const size = cfg.sample_size;
  if (Array.isArray(size) && size.length === 2) return [channels, size[0] as number, size[1] as number];
  if (typeof size === 'number') return [channels, size, size];
  return [channels, undefined, undefined];
}

function component(folder: string, name: string, required: boolean): string | undefined {
  const file = path.join(folder, name, 'model.onnx');
  if (existsSync(file)) return file;
  if (required) throw new Error(`pipeline ${folder}: ${name}/model.onnx is missing`);
  return undefined;
}

export async function loadPipeline(store: ModelStore, name: string, log?: Log): Promise<Pipeline> {
  const folder = store.resolve(name, 'pipeline');
  if (!statSync(folder).isDirectory()) throw new Error(`pipeline "${name}" (${folder}) is not a folder: LoadPipeline expects a diffusers ONNX folder; use LoadOnnxModel for a single .onnx file`);
  const index = readJson(store.roots, path.join(folder, 'model_index.json'), `pipeline "${name}"`);
  const schedulerFile = path.join(folder, 'scheduler', 'scheduler_config.json');
  const scheduler = schedulerFromConfig(readJson(store.roots, schedulerFile, `pipeline "${name}"`), schedulerFile);
  for (const note of scheduler.notes) log?.(note);

  const unetConfigFile = path.join(folder, 'unet', 'config.json');
  const unetConfig = readOptionalJson(store.roots, unetConfigFile, `pipeline "${name}"`);
  const predictionType = typeof unetConfig.prediction_type === 'string' ? unetConfig.prediction_type : undefined;
  const parameterization = scheduler.parameterization ?? (predictionType ? parameterizationOf(predictionType, unetConfigFile) : 'eps');

  const [unet, text, decoder, encoder] = await Promise.all([
    store.open(component(folder, 'unet', true)!, log),
    store.open(component(folder, 'text_encoder', true)!, log),
    store.open(component(folder, 'vae_decoder', true)!, log),
    component(folder, 'vae_encoder', false) ? store.open(component(folder, 'vae_encoder', false)!, log) : Promise.resolve(undefined),
  ]);

  const declaredSeq = text.inputs.get('input_ids')?.shape[1];
  const tokenizer = loadTokenizer(path.join(folder, 'tokenizer'), typeof declaredSeq === 'number' ? declaredSeq : undefined, store.roots);
  const textEncoder = new OnnxTextEncoder(`${name}/text_encoder`, tokenizer, text);

  const vaeConfigFile = path.join(folder, 'vae_decoder', 'config.json');
  const vaeConfig = { ...readOptionalJson(store.roots, path.join(folder, 'vae_encoder', 'config.json'), `pipeline "${name}"`), ...readOptionalJson(store.roots, vaeConfigFile, `pipeline "${name}"`) };
  const vae = new OnnxVae({
    name: `${name}/vae`,
    decoder,
    encoder,
    scalingFactor: numberField(vaeConfig, 'scaling_factor', vaeConfigFile, 0.18215),
    shiftFactor: numberField(vaeConfig, 'shift_factor', vaeConfigFile, 0),
    latentChannels: vaeConfig.latent_channels === undefined ? undefined : numberField(vaeConfig, 'latent_channels', vaeConfigFile, 4),
  });

  // The unconditional branch (no conditioning linked) is the empty prompt, encoded once.
  let empty: Promise<Tensor> | undefined;
  const unconditional = () => (empty ??= textEncoder.encode(['']).then((e) => e.embeddings));

  const model = createUnetModel({
    name,
    session: unet,
    schedule: scheduler.schedule,
    parameterization,
    configSampleShape: configSampleShape(unetConfig, unetConfigFile),
    sampleRank: 3,
    unconditional,
    info: {
      pipeline: index._class_name,
      scheduler: scheduler.className,
      timestepSpacing: scheduler.timestepSpacing,
      stepsOffset: scheduler.stepsOffset,
      timestep: `${unet.input('timestep').dtype} [${unet.input('timestep').shape.join(', ')}]`,
    },
  });

  const width = textEncoder.width;
  const contextWidth = unet.input('encoder_hidden_states').shape[2];
  if (width !== undefined && typeof contextWidth === 'number' && width !== contextWidth) {
    throw new Error(`pipeline "${name}": the text encoder makes embeddings of width ${width} but unet/model.onnx expects encoder_hidden_states of width ${contextWidth}`);
  }
  if (vae.latentChannels !== model.sampleShape[0]) {
    throw new Error(`pipeline "${name}": the UNet works on ${model.sampleShape[0]} latent channels but the VAE decoder on ${vae.latentChannels}`);
  }
  model.schedulerGrid = scheduler.grid;
  let rgb: Promise<LatentRgb> | undefined;
  model.latentRgb = () => (rgb ??= fitLatentRgbFromDecoder((z) => vae.decode(z), model.sampleShape));
  log?.(`pipeline "${name}": ${parameterization} prediction on a ${scheduler.schedule.kind} schedule (${scheduler.className}), latent [${model.sampleShape.join(', ')}], ${tokenizer.kind} tokenizer of ${tokenizer.length} tokens`);
  return { folder, model, textEncoder, vae, scheduler };
}
