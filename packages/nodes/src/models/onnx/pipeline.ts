/**
 * Loads a diffusers ONNX pipeline folder (what `optimum-cli export onnx` writes, DESIGN §7):
 * model_index.json, scheduler/scheduler_config.json, tokenizer/, text_encoder/, unet/, vae_decoder/ and
 * optionally vae_encoder/. Shapes, dtypes, the schedule, the prediction type and the latent scaling
 * all come from the files and the sessions' declared IO, never from SD's defaults. The SDXL layout
 * (docs/model-layouts.md) adds text_encoder_2/ + tokenizer_2/ and the UNet inputs text_embeds and
 * time_ids.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { Tensor } from '@diffgraph/engine';
import type { Conditioning } from '../../contracts/sampling.ts';
import type { ModelStore } from '../../runtime/model-store.ts';
import type { OnnxSession } from '../../runtime/onnx-session.ts';
import { folderFingerprint } from '../../runtime/folder-fingerprint.ts';
import { numberField, readJson, readOptionalJson, type Json } from './config-files.ts';
import { parameterizationOf } from './prediction-type.ts';
import { schedulerFromConfig, type SchedulerInfo } from './scheduler-config.ts';
import { SdxlTextEncoder } from './sdxl.ts';
import { OnnxTextEncoder, type TextEncoderOptions } from './text-encoder.ts';
import { loadTokenizer } from './tokenizer.ts';
import { createUnetModel, DIFFUSERS_UNET_NAMES, SDXL_UNET_NAMES, type OnnxDiffusionModel } from './unet.ts';
import { OnnxVae } from './vae.ts';
import { fitLatentRgbFromDecoder, type LatentRgb } from '../../image/latent-rgb.ts';

export type PipelineLayout = 'sd' | 'sdxl';

export interface Pipeline {
  folder: string;
  layout: PipelineLayout;
  model: OnnxDiffusionModel;
  /** The (first) text encoder. */
  textEncoder: OnnxTextEncoder;
  /** SDXL's second text encoder (with the pooled projection). */
  textEncoder2?: OnnxTextEncoder;
  /** What LoadPipeline's TEXT_ENCODER output carries: the encoder, or SDXL's pair. */
  encoder: OnnxTextEncoder | SdxlTextEncoder;
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

const SDXL_CLASSES = new Set(['StableDiffusionXLPipeline', 'ORTStableDiffusionXLPipeline', 'StableDiffusionXLImg2ImgPipeline', 'ORTStableDiffusionXLImg2ImgPipeline']);

/** SD or SDXL, from model_index.json's class and the folders; the layouts diffgraph cannot run are named. */
function layoutOf(index: Json, folder: string, name: string): PipelineLayout {
  const has = (dir: string) => existsSync(path.join(folder, dir));
  const className = String(index._class_name ?? '');
  if (!has('unet') && has('transformer')) {
    throw new Error(`pipeline "${name}": ${className || 'this pipeline'} has a transformer/ denoiser (the SD3/Flux layouts), which LoadPipeline does not support: it loads the SD and SDXL UNet layouts`);
  }
  if (!SDXL_CLASSES.has(className) && !has('text_encoder_2')) return 'sd';
  if (index.requires_aesthetics_score === true || !has('text_encoder')) {
    throw new Error(`pipeline "${name}": this is an SDXL refiner (one text encoder, aesthetic-score time ids), which LoadPipeline does not support: load an SDXL base pipeline`);
  }
  if (!has('text_encoder_2') || !has('tokenizer_2')) {
    throw new Error(`pipeline "${name}": ${className} is the SDXL layout but ${!has('text_encoder_2') ? 'text_encoder_2/' : 'tokenizer_2/'} is missing`);
  }
  return 'sdxl';
}

/** Pixels per latent cell: 2^(len(block_out_channels) − 1) as diffusers computes it, else its 8. */
function vaeScaleFactor(vaeConfig: Json): number {
  const blocks = vaeConfig.block_out_channels;
  return Array.isArray(blocks) && blocks.length > 0 ? 2 ** (blocks.length - 1) : 8;
}

async function openTextEncoder(store: ModelStore, folder: string, name: string, which: '' | '_2', options: TextEncoderOptions, log?: Log): Promise<OnnxTextEncoder> {
  const session = await store.open(component(folder, `text_encoder${which}`, true)!, log);
  const declaredSeq = session.inputs.get('input_ids')?.shape[1];
  const tokenizer = loadTokenizer(path.join(folder, `tokenizer${which}`), typeof declaredSeq === 'number' ? declaredSeq : undefined, store.roots);
  return new OnnxTextEncoder(`${name}/text_encoder${which}`, tokenizer, session, options);
}

/** A declared axis, else the config's value (exports often leave widths symbolic). */
function declaredOr(d: number | string | undefined, fromConfig: number | undefined): number | undefined {
  return typeof d === 'number' ? d : fromConfig;
}

/**
 * The encoders' widths against the UNet's: encoder_hidden_states (cross_attention_dim in
 * unet/config.json) and, for SDXL, text_embeds (projection_class_embeddings_input_dim less the six
 * time ids' sinusoids of addition_time_embed_dim each), so a mismatched folder fails at load.
 */
function checkWidths(name: string, encoder: OnnxTextEncoder | SdxlTextEncoder, unet: OnnxSession, unetConfig: Json, file: string): void {
  const optional = (key: string) => (unetConfig[key] === undefined || unetConfig[key] === null ? undefined : numberField(unetConfig, key, file, 0));
  const sdxl = encoder instanceof SdxlTextEncoder;
  const contextWidth = declaredOr(unet.input('encoder_hidden_states').shape[2], optional('cross_attention_dim'));
  if (encoder.width !== undefined && contextWidth !== undefined && encoder.width !== contextWidth) {
    throw new Error(`pipeline "${name}": the text encoder${sdxl ? 's make' : ' makes'} embeddings of width ${encoder.width} but unet/model.onnx expects encoder_hidden_states of width ${contextWidth}`);
  }
  if (!sdxl) return;
  const addedWidth = optional('projection_class_embeddings_input_dim'), timeIdWidth = optional('addition_time_embed_dim');
  const unetPooledWidth = declaredOr(unet.input('text_embeds').shape[1], addedWidth !== undefined && timeIdWidth !== undefined ? addedWidth - 6 * timeIdWidth : undefined);
  if (encoder.pooledWidth !== undefined && unetPooledWidth !== undefined && encoder.pooledWidth !== unetPooledWidth) {
    throw new Error(`pipeline "${name}": text_encoder_2 makes a pooled projection of width ${encoder.pooledWidth} but unet/model.onnx expects text_embeds of width ${unetPooledWidth}`);
  }
}

/**
 * The pipeline in a model root's folder `name`. A folder whose files are unchanged since the store last
 * loaded it is not read again: the store shares the parsed pipeline (its sessions are shared anyway).
 */
export async function loadPipeline(store: ModelStore, name: string, log?: Log): Promise<Pipeline> {
  const folder = store.resolve(name, 'pipeline');
  if (!statSync(folder).isDirectory()) throw new Error(`pipeline "${name}" (${folder}) is not a folder: LoadPipeline expects a diffusers ONNX folder; use LoadOnnxModel for a single .onnx file`);
  const { pipeline, notes } = await store.shared(`pipeline ${name}\0${folder}`, folderFingerprint(folder), () => readPipeline(store, folder, name, log));
  for (const note of notes) log?.(note);
  return pipeline;
}

/** Reads and checks every file of the folder; `notes` are what each load of it reports. */
async function readPipeline(store: ModelStore, folder: string, name: string, log?: Log): Promise<{ pipeline: Pipeline; notes: string[] }> {
  const notes: string[] = [];
  const index = readJson(store.roots, path.join(folder, 'model_index.json'), `pipeline "${name}"`);
  const schedulerFile = path.join(folder, 'scheduler', 'scheduler_config.json');
  const scheduler = schedulerFromConfig(readJson(store.roots, schedulerFile, `pipeline "${name}"`), schedulerFile);
  notes.push(...scheduler.notes);

  const unetConfigFile = path.join(folder, 'unet', 'config.json');
  const unetConfig = readOptionalJson(store.roots, unetConfigFile, `pipeline "${name}"`);
  const predictionType = typeof unetConfig.prediction_type === 'string' ? unetConfig.prediction_type : undefined;
  const parameterization = scheduler.parameterization ?? (predictionType ? parameterizationOf(predictionType, unetConfigFile) : 'eps');

  const layout = layoutOf(index, folder, name);
  const sdxl = layout === 'sdxl';
  const [unet, textEncoder, textEncoder2, decoder, encoder] = await Promise.all([
    store.open(component(folder, 'unet', true)!, log),
    openTextEncoder(store, folder, name, '', { hiddenState: sdxl ? 'penultimate' : 'last' }, log),
    sdxl ? openTextEncoder(store, folder, name, '_2', { hiddenState: 'penultimate', pooledOutput: 'text_embeds' }, log) : Promise.resolve(undefined),
    store.open(component(folder, 'vae_decoder', true)!, log),
    component(folder, 'vae_encoder', false) ? store.open(component(folder, 'vae_encoder', false)!, log) : Promise.resolve(undefined),
  ]);
  const conditioningEncoder = textEncoder2 ? new SdxlTextEncoder(`${name}/text_encoders`, textEncoder, textEncoder2) : textEncoder;
  const tokenizer = textEncoder.tokenizer;
  if (sdxl && (!unet.inputs.has('text_embeds') || !unet.inputs.has('time_ids'))) {
    throw new Error(`pipeline "${name}": ${String(index._class_name)} is the SDXL layout but unet/model.onnx has no ${!unet.inputs.has('text_embeds') ? "'text_embeds'" : "'time_ids'"} input (it takes ${[...unet.inputs.keys()].join(', ')})`);
  }

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

  // The unconditional branch (no negative linked): the empty prompt, encoded once; SDXL zeroes it
  // where model_index.json sets force_zeros_for_empty_prompt (the pipeline's default: true), as
  // diffusers does for an omitted negative prompt (an explicit "" is encoded by TextEncode).
  const forceZeros = sdxl && index.force_zeros_for_empty_prompt !== false;
  let empty: Promise<Conditioning> | undefined;
  const unconditional = () => (empty ??= conditioningEncoder.encode(['']).then(({ embeddings, pooled }) => (forceZeros
    ? { embeddings: Tensor.zeros(embeddings.shape), pooled: pooled && Tensor.zeros(pooled.shape) }
    : { embeddings, pooled })));

  const model = createUnetModel({
    name,
    session: unet,
    names: sdxl ? SDXL_UNET_NAMES : DIFFUSERS_UNET_NAMES,
    outputScale: vaeScaleFactor(vaeConfig),
    schedule: scheduler.schedule,
    parameterization,
    configSampleShape: configSampleShape(unetConfig, unetConfigFile),
    sampleRank: 3,
    unconditional,
    info: {
      pipeline: index._class_name,
      layout,
      ...(sdxl ? { forceZerosForEmptyPrompt: forceZeros } : {}),
      scheduler: scheduler.className,
      timestepSpacing: scheduler.timestepSpacing,
      stepsOffset: scheduler.stepsOffset,
      timestep: `${unet.input('timestep').dtype} [${unet.input('timestep').shape.join(', ')}]`,
    },
  });

  checkWidths(name, conditioningEncoder, unet, unetConfig, unetConfigFile);
  if (vae.latentChannels !== model.sampleShape[0]) {
    throw new Error(`pipeline "${name}": the UNet works on ${model.sampleShape[0]} latent channels but the VAE decoder on ${vae.latentChannels}`);
  }
  model.schedulerGrid = scheduler.grid;
  let rgb: Promise<LatentRgb> | undefined;
  model.latentRgb = () => (rgb ??= fitLatentRgbFromDecoder((z) => vae.decode(z), model.sampleShape));
  notes.push(`pipeline "${name}": ${sdxl ? 'SDXL layout, ' : ''}${parameterization} prediction on a ${scheduler.schedule.kind} schedule (${scheduler.className}), latent [${model.sampleShape.join(', ')}], ${tokenizer.kind} tokenizer of ${tokenizer.length} tokens`);
  return { pipeline: { folder, layout, model, textEncoder, textEncoder2, encoder: conditioningEncoder, vae, scheduler }, notes };
}
