/**
 * Image I/O nodes: LoadImage, SaveImage, PreviewImage. LoadImage reads PNG or JPEG, SaveImage writes
 * PNG; paths a workflow names are
 * confined to the host's input roots (reading) and output folder (writing).
 */
import { defineNode, type NodeContext, Tensor } from '@diffgraph/engine';
import { fileServices, resolveOutput } from '../io/services.ts';
import { encodePng, imageDims } from './png.ts';
import { readInputImage } from './decode-image.ts';
import { sanitizePrefix, writeNumbered } from './filenames.ts';
import { PARAMETERS_KEY, runParameters, WORKFLOW_KEY, workflowText } from './metadata.ts';
import { resize2d } from './resize.ts';

export const LoadImage = defineNode({
  type: 'LoadImage',
  category: 'image',
  description: 'Reads a PNG or JPEG from the input folders. The mask is 1 − alpha (1 = repaint where the image is transparent; all zeros for an opaque image or a JPEG). "workflow" is the workflow JSON a diffgraph (or ComfyUI) PNG carries, or "" if none.',
  version: 1,
  inputs: {
    path: { type: 'STRING', path: 'inputs', tooltip: 'PNG or JPEG file name, resolved inside the input folders' },
  },
  outputs: {
    image: { type: 'IMAGE' },
    mask: { type: 'MASK', tooltip: '1 − alpha: 1 where transparent (repaint), 0 where opaque' },
    workflow: { type: 'STRING', tooltip: 'Embedded workflow JSON, or "" when the file has none' },
  },
  run({ path: name }, ctx) {
    const decoded = readInputImage(ctx, 'LoadImage', name);
    return { image: decoded.image, mask: decoded.mask, workflow: decoded.text[WORKFLOW_KEY] ?? '' };
  },
});

export const SaveImage = defineNode({
  type: 'SaveImage',
  category: 'image',
  description: 'Writes each image of the batch as a PNG in the output folder, named <prefix>_00001.png, … (the prefix is sanitized; existing files are never overwritten). Embeds the workflow (when the host provides it) and a JSON summary of the run parameters.',
  version: 1,
  output: true,
  // A sink with a side effect: every run writes its files, even when the images are unchanged.
  sideEffects: true,
  inputs: {
    images: { type: 'IMAGE' },
    filename_prefix: { type: 'STRING', default: 'diffgraph', path: 'outputs', tooltip: 'Letters, digits, ".", "-", "_"; anything else becomes "_"' },
    embed_metadata: { type: 'BOOLEAN', default: true, tooltip: 'Embed the workflow and run parameters as PNG text chunks' },
    parameters: { type: 'JSON', optional: true, tooltip: 'Extra entries for the "parameters" text chunk, merged over the summary taken from the workflow' },
  },
  outputs: { paths: { type: 'JSON', tooltip: 'The files written, in batch order (the server reports each as a { file, url } download)' } },
  run({ images, filename_prefix: prefix, embed_metadata: embed, parameters }, ctx) {
    const { batch } = imageDims(images, 'SaveImage input "images"');
    if (parameters !== undefined && !isJsonObject(parameters)) throw new Error('SaveImage: input "parameters" must be a JSON object');
    const text = embed ? metadataText(ctx, parameters) : undefined;
    // resolveOutput confines the folder (after symlinks); the sanitized name cannot leave it.
    const dir = resolveOutput(ctx, '.');
    const name = sanitizePrefix(String(prefix));
    const paths: string[] = [];
    for (let i = 0; i < batch; i++) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      paths.push(writeNumbered(dir, name, '.png', encodePng(images, i, { text })));
      ctx.progress(i + 1, batch);
    }
    ctx.log(`saved ${batch} image${batch === 1 ? '' : 's'} to ${fileServices(ctx).outputDir}`);
    return { paths };
  },
});

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function metadataText(ctx: NodeContext, extra: Record<string, unknown> | undefined): Record<string, string> {
  const workflow = workflowText(ctx);
  const params = { ...(ctx.definitionOf ? runParameters(workflow, ctx.definitionOf) : {}), ...extra };
  const text: Record<string, string> = {};
  if (workflow !== undefined) text[WORKFLOW_KEY] = workflow;
  if (Object.keys(params).length > 0) text[PARAMETERS_KEY] = JSON.stringify(params);
  return text;
}

/** What PreviewImage and the latent preview hook hand to ctx.preview. */
export interface PngPreview {
  format: 'png';
  width: number;
  height: number;
  /** Index of the image in its batch. */
  index: number;
  data: Buffer;
}

/** Longest side of a preview; larger images are shrunk (area) so live previews stay cheap to send. */
export const PREVIEW_MAX_SIDE = 512;

/** A small PNG of batch item `index`, shrunk to at most `maxSide` on its longest side. */
export function previewPng(image: Tensor, index = 0, maxSide = PREVIEW_MAX_SIDE): PngPreview {
  const { batch, height, width } = imageDims(image, 'previewPng');
  if (index < 0 || index >= batch) throw new RangeError(`previewPng: no item ${index} in a batch of ${batch}`);
  const plane = 3 * height * width;
  let item = new Tensor([1, 3, height, width], image.data.slice(index * plane, (index + 1) * plane));
  const f = Math.min(1, maxSide / Math.max(height, width));
  if (f < 1) item = resize2d(item, Math.max(1, Math.round(height * f)), Math.max(1, Math.round(width * f)), 'area');
  return { format: 'png', width: item.shape[3], height: item.shape[2], index, data: encodePng(item, 0, { deflateLevel: 1 }) };
}

export const PreviewImage = defineNode({
  type: 'PreviewImage',
  category: 'image',
  description: 'Shows the images in the editor (a small PNG per image through the preview channel); writes no file.',
  version: 1,
  output: true,
  // Previews go to whoever is watching this run, so they are sent on every run, never cached.
  sideEffects: true,
  inputs: {
    images: { type: 'IMAGE' },
    max_side: { type: 'INT', default: PREVIEW_MAX_SIDE, min: 16, max: 4096, tooltip: 'Longer images are shrunk to this many pixels on their longest side' },
  },
  outputs: {},
  run({ images, max_side: maxSide }, ctx) {
    const { batch } = imageDims(images, 'PreviewImage input "images"');
    for (let i = 0; i < batch; i++) ctx.preview(previewPng(images, i, maxSide));
    return {};
  },
});
