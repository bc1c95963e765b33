/**
 * The ComfyUI node classes the converter supports, described as ComfyUI describes them (INPUT_TYPES,
 * RETURN_TYPES): `/object_info` answers from this table, and the UI format's positional widget values
 * are named from it the way ComfyUI's front end does (every input that is not a link type is a widget,
 * in order, a seed's `control_after_generate` value and an image upload button each taking a slot).
 */

/** Lists the server fills in when asked (they depend on the models, the uploads and our tables). */
export type ChoiceList = 'checkpoints' | 'input_images' | 'samplers' | 'schedulers';

export type ComfyInputSpec =
  | { type: 'INT' | 'FLOAT' | 'STRING' | 'BOOLEAN'; options?: Record<string, unknown> }
  | { choices: readonly string[] | ChoiceList; options?: Record<string, unknown> }
  /** A link type (MODEL, CLIP, LATENT, …): never a widget. */
  | { link: string };

export interface ComfyClass {
  displayName: string;
  category: string;
  description: string;
  required: Record<string, ComfyInputSpec>;
  /** ComfyUI output type and our output name, by ComfyUI output index. */
  outputs: readonly { type: string; name: string; ours: string }[];
  outputNode?: boolean;
}

const SEED_MAX = 0xffffffffffffffff;
const seed: ComfyInputSpec = { type: 'INT', options: { default: 0, min: 0, max: SEED_MAX, control_after_generate: true } };
const steps: ComfyInputSpec = { type: 'INT', options: { default: 20, min: 1, max: 10000 } };
const cfg: ComfyInputSpec = { type: 'FLOAT', options: { default: 8, min: 0, max: 100, step: 0.1, round: 0.01 } };
const denoise: ComfyInputSpec = { type: 'FLOAT', options: { default: 1, min: 0, max: 1, step: 0.01 } };
const sigma = (value: number): ComfyInputSpec => ({ type: 'FLOAT', options: { default: value, min: 0, max: 5000, step: 0.01, round: false } });
const link = (type: string): ComfyInputSpec => ({ link: type });
const out = (type: string, ours: string, name = type) => ({ type, name, ours });
const samplerInputs = { sampler_name: { choices: 'samplers' }, scheduler: { choices: 'schedulers' } } as const;

export const COMFY_CLASSES: Record<string, ComfyClass> = {
  CheckpointLoaderSimple: {
    displayName: 'Load Checkpoint', category: 'loaders', description: 'Loads a pipeline folder of the model roots (named with or without a checkpoint extension).',
    required: { ckpt_name: { choices: 'checkpoints' } },
    outputs: [out('MODEL', 'model'), out('CLIP', 'text_encoder'), out('VAE', 'vae')],
  },
  CLIPTextEncode: {
    displayName: 'CLIP Text Encode (Prompt)', category: 'conditioning', description: 'Encodes a text prompt with the checkpoint\'s text encoder.',
    required: { text: { type: 'STRING', options: { multiline: true, dynamicPrompts: true } }, clip: link('CLIP') },
    outputs: [out('CONDITIONING', 'conditioning')],
  },
  EmptyLatentImage: {
    displayName: 'Empty Latent Image', category: 'latent', description: 'An empty latent batch; its size is the model\'s own sample size (width and height are not carried over).',
    required: { width: { type: 'INT', options: { default: 512, min: 16, max: 16384, step: 8 } }, height: { type: 'INT', options: { default: 512, min: 16, max: 16384, step: 8 } }, batch_size: { type: 'INT', options: { default: 1, min: 1, max: 4096 } } },
    outputs: [out('LATENT', 'latent')],
  },
  KSampler: {
    displayName: 'KSampler', category: 'sampling', description: 'Samples a latent: noise, CFG guidance, schedule and solver in one node.',
    required: { model: link('MODEL'), seed, steps, cfg, ...samplerInputs, positive: link('CONDITIONING'), negative: link('CONDITIONING'), latent_image: link('LATENT'), denoise },
    outputs: [out('LATENT', 'samples')],
  },
  KSamplerAdvanced: {
    displayName: 'KSampler (Advanced)', category: 'sampling', description: 'KSampler with add_noise; only the whole schedule (start_at_step 0, end_at_step ≥ steps) converts.',
    required: {
      model: link('MODEL'), add_noise: { choices: ['enable', 'disable'] }, noise_seed: seed, steps, cfg, ...samplerInputs,
      positive: link('CONDITIONING'), negative: link('CONDITIONING'), latent_image: link('LATENT'),
      start_at_step: { type: 'INT', options: { default: 0, min: 0, max: 10000 } }, end_at_step: { type: 'INT', options: { default: 10000, min: 0, max: 10000 } },
      return_with_leftover_noise: { choices: ['disable', 'enable'] },
    },
    outputs: [out('LATENT', 'samples')],
  },
  VAEEncode: { displayName: 'VAE Encode', category: 'latent', description: 'Encodes an image into a latent.', required: { pixels: link('IMAGE'), vae: link('VAE') }, outputs: [out('LATENT', 'latent')] },
  VAEDecode: { displayName: 'VAE Decode', category: 'latent', description: 'Decodes a latent into an image.', required: { samples: link('LATENT'), vae: link('VAE') }, outputs: [out('IMAGE', 'image')] },
  LoadImage: {
    displayName: 'Load Image', category: 'image', description: 'Loads a PNG or JPEG from the input folder (upload with POST /upload/image).',
    required: { image: { choices: 'input_images', options: { image_upload: true } } },
    outputs: [out('IMAGE', 'image'), out('MASK', 'mask')],
  },
  SaveImage: {
    displayName: 'Save Image', category: 'image', description: 'Saves the images to the output folder.',
    required: { images: link('IMAGE'), filename_prefix: { type: 'STRING', options: { default: 'ComfyUI' } } }, outputs: [], outputNode: true,
  },
  PreviewImage: { displayName: 'Preview Image', category: 'image', description: 'Saves the images to the temp folder.', required: { images: link('IMAGE') }, outputs: [], outputNode: true },
  RandomNoise: { displayName: 'RandomNoise', category: 'sampling/custom_sampling/noise', description: 'Seeded start noise (torch CPU randn, as ComfyUI).', required: { noise_seed: seed }, outputs: [out('NOISE', 'noise')] },
  DisableNoise: { displayName: 'DisableNoise', category: 'sampling/custom_sampling/noise', description: 'No start noise.', required: {}, outputs: [out('NOISE', 'noise')] },
  CFGGuider: {
    displayName: 'CFGGuider', category: 'sampling/custom_sampling/guiders', description: 'Classifier-free guidance.',
    required: { model: link('MODEL'), positive: link('CONDITIONING'), negative: link('CONDITIONING'), cfg }, outputs: [out('GUIDER', 'guider')],
  },
  BasicGuider: { displayName: 'BasicGuider', category: 'sampling/custom_sampling/guiders', description: 'The conditional prediction alone.', required: { model: link('MODEL'), conditioning: link('CONDITIONING') }, outputs: [out('GUIDER', 'guider')] },
  KSamplerSelect: { displayName: 'KSamplerSelect', category: 'sampling/custom_sampling/samplers', description: 'A solver by ComfyUI sampler name.', required: { sampler_name: { choices: 'samplers' } }, outputs: [out('SAMPLER', 'solver')] },
  BasicScheduler: {
    displayName: 'BasicScheduler', category: 'sampling/custom_sampling/schedulers', description: 'A schedule by ComfyUI scheduler name.',
    required: { model: link('MODEL'), scheduler: { choices: 'schedulers' }, steps, denoise }, outputs: [out('SIGMAS', 'sigmas')],
  },
  KarrasScheduler: {
    displayName: 'KarrasScheduler', category: 'sampling/custom_sampling/schedulers', description: 'Karras spacing; sigma_max and sigma_min come from the model\'s noise schedule.',
    required: { steps, sigma_max: sigma(14.614642), sigma_min: sigma(0.0291675), rho: { type: 'FLOAT', options: { default: 7, min: 0, max: 100, step: 0.01, round: false } } },
    outputs: [out('SIGMAS', 'sigmas')],
  },
  ExponentialScheduler: {
    displayName: 'ExponentialScheduler', category: 'sampling/custom_sampling/schedulers', description: 'Exponential spacing; sigma_max and sigma_min come from the model\'s noise schedule.',
    required: { steps, sigma_max: sigma(14.614642), sigma_min: sigma(0.0291675) }, outputs: [out('SIGMAS', 'sigmas')],
  },
  SamplerCustomAdvanced: {
    displayName: 'SamplerCustomAdvanced', category: 'sampling/custom_sampling', description: 'Samples with a noise, guider, sampler and sigmas.',
    required: { noise: link('NOISE'), guider: link('GUIDER'), sampler: link('SAMPLER'), sigmas: link('SIGMAS'), latent_image: link('LATENT') },
    outputs: [out('LATENT', 'samples', 'output'), out('LATENT', 'denoised', 'denoised_output')],
  },
};

/** The value ComfyUI's front end stores after every seed widget ("fixed", "randomize", …); not an input. */
export const CONTROL = 'control_after_generate';

/** Widget names in widgets_values order (ComfyUI's front end: its widget inputs, in INPUT_TYPES order). */
export function widgetNames(spec: ComfyClass): string[] {
  const names: string[] = [];
  for (const [name, input] of Object.entries(spec.required)) {
    if ('link' in input) continue;
    names.push(name);
    if (input.options?.control_after_generate) names.push(CONTROL);
    if (input.options?.image_upload) names.push('upload');
  }
  return names;
}
