/** Input files in the browser: what an image file is, and which image a mask is painted over. */
import type { Workflow } from '@diffgraph/engine';
import { isLink } from './graph/index.ts';

export const isJpeg = (bytes: Uint8Array): boolean => bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;

/**
 * The image a mask is painted over: the one a LoadImage loads that feeds a node the mask feeds too
 * (inpainting: the image and its mask), else the first LoadImage's.
 */
export function maskBackground(workflow: Workflow, maskId: string, available: Set<string>): string | undefined {
  const feeds = (from: string) => new Set(Object.entries(workflow.nodes).filter(([, n]) => Object.values(n.inputs ?? {}).some((v) => isLink(v) && v.from === from)).map(([id]) => id));
  const consumers = feeds(maskId);
  const loaders = Object.entries(workflow.nodes)
    .filter(([, n]) => n.type === 'LoadImage' && typeof n.inputs?.path === 'string' && available.has(n.inputs.path))
    .map(([id, n]) => ({ id, path: n.inputs!.path as string }));
  const shared = loaders.find((l) => [...feeds(l.id)].some((c) => consumers.has(c)));
  return (shared ?? loaders[0])?.path ?? [...available][0];
}

/** Whether every pixel of an image file is fully opaque (a JPEG always is). */
export async function isOpaqueImage(file: Blob): Promise<boolean> {
  const bitmap = await createImageBitmap(file);
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}
