/**
 * ComfyUI's names for what our nodes do — class names and the display names its menus show — so a
 * ComfyUI user's search finds them. The first entry of a ComfyUI class's list is the node its main
 * work lands on (a KSampler becomes Sample, with Solver, Schedule, CFGGuider and RandomNoise beside it).
 */
const COMFY_NAMES: Record<string, string[]> = {
  CheckpointLoaderSimple: ['Load Checkpoint', 'LoadPipeline'],
  CLIPTextEncode: ['CLIP Text Encode (Prompt)', 'TextEncode'],
  EmptyLatentImage: ['Empty Latent Image', 'EmptyLatent'],
  KSampler: ['KSampler', 'Sample', 'Solver', 'Schedule', 'CFGGuider', 'RandomNoise'],
  KSamplerAdvanced: ['KSampler (Advanced)', 'Sample', 'Solver', 'Schedule', 'CFGGuider', 'RandomNoise'],
  SamplerCustomAdvanced: ['SamplerCustomAdvanced', 'Sample'],
  SamplerCustom: ['SamplerCustom', 'Sample'],
  KSamplerSelect: ['KSamplerSelect', 'Solver'],
  BasicScheduler: ['BasicScheduler', 'Schedule'],
  KarrasScheduler: ['KarrasScheduler', 'Schedule'],
  ExponentialScheduler: ['ExponentialScheduler', 'Schedule'],
  RandomNoise: ['RandomNoise', 'RandomNoise'],
  DisableNoise: ['DisableNoise', 'DisableNoise'],
  CFGGuider: ['CFGGuider', 'CFGGuider'],
  BasicGuider: ['BasicGuider', 'BasicGuider'],
  VAEEncode: ['VAE Encode', 'VAEEncode'],
  VAEDecode: ['VAE Decode', 'VAEDecode'],
  LoadImage: ['Load Image', 'LoadImage'],
  LoadImageMask: ['Load Image (as Mask)', 'LoadMask'],
  SaveImage: ['Save Image', 'SaveImage'],
  PreviewImage: ['Preview Image', 'PreviewImage'],
};

export interface NodeAliases {
  /** ComfyUI names whose main work this node does. */
  aliases: string[];
  /** ComfyUI names under which this node is one of several (KSampler's Solver, Schedule, …). */
  seeAlso: string[];
}

/** Our node type → the ComfyUI names (class name, then display name) that should find it. */
export function comfyAliases(): Map<string, NodeAliases> {
  const out = new Map<string, NodeAliases>();
  for (const [classType, [display, ...types]] of Object.entries(COMFY_NAMES)) {
    types.forEach((type, i) => {
      const entry = out.get(type) ?? { aliases: [], seeAlso: [] };
      const list = i === 0 ? entry.aliases : entry.seeAlso;
      for (const name of [classType, display]) if (name !== type && !entry.aliases.includes(name) && !list.includes(name)) list.push(name);
      out.set(type, entry);
    });
  }
  return out;
}
