/**
 * POST /upload/image (ComfyUI's): a multipart form with `image` (the file), `type` (input, the default,
 * or temp), `subfolder` and `overwrite`. The image is checked like any upload (sniffUpload: a readable
 * PNG or JPEG, by content) and kept under the name the client gave it, inside its folder; without
 * `overwrite`, a different file of that name is kept and the new one named "name (1).png". A name whose
 * extension is not the image's gets it appended ("x.html" → "x.html.png").
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Request } from 'express';
import { sniffUpload } from '../upload-sniff.ts';
import { confine, PathError } from '../guard.ts';

export type UploadAnswer = { name: string; subfolder: string; type: string } | { status: number; code: string; error: string };

const IMAGE_EXTENSIONS: Record<string, string[]> = { 'image/png': ['.png'], 'image/jpeg': ['.jpg', '.jpeg'] };

const refusal = (status: number, code: string, error: string): UploadAnswer => ({ status, code, error });

/** The client's file name without any folder part; null when nothing usable is left. */
function baseName(name: string): string | null {
  const base = path.posix.basename(name.replace(/\\/g, '/')).replace(/[\0-\x1f]/g, '');
  return base === '' || base === '.' || base === '..' || base.startsWith('.') ? null : base;
}

export async function uploadImage(req: Request, folders: { input: string; temp: string }): Promise<UploadAnswer> {
  if (!req.is('multipart/form-data') || !Buffer.isBuffer(req.body)) return refusal(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the image as multipart/form-data with an "image" file field.');
  let form: FormData;
  try {
    form = await new Response(new Uint8Array(req.body), { headers: { 'content-type': String(req.headers['content-type']) } }).formData();
  } catch (e) {
    return refusal(400, 'INVALID_REQUEST', `Not a readable multipart form: ${(e as Error).message}`);
  }
  const image = form.get('image');
  if (!(image instanceof Blob)) return refusal(400, 'INVALID_REQUEST', 'The form has no "image" file.');
  const type = String(form.get('type') ?? 'input') || 'input';
  if (type !== 'input' && type !== 'temp') return refusal(400, 'INVALID_REQUEST', `"type" must be input or temp, not "${type.slice(0, 32)}" (the output folder holds what runs write).`);
  const subfolder = String(form.get('subfolder') ?? '');
  const overwrite = ['true', '1'].includes(String(form.get('overwrite') ?? '').toLowerCase());
  const bytes = Buffer.from(await image.arrayBuffer());
  const sniffed = sniffUpload(bytes);
  if ('error' in sniffed) return refusal(sniffed.code === 'EMPTY_UPLOAD' ? 400 : 415, sniffed.code, sniffed.error);
  if (sniffed.type !== 'image/png' && sniffed.type !== 'image/jpeg') return refusal(415, 'UNSUPPORTED_MEDIA_TYPE', 'POST /upload/image takes a PNG or JPEG image (tensors go to POST /api/uploads).');
  const named = baseName(image instanceof File ? image.name : '') ?? `image.${sniffed.ext}`;
  // The name says what the bytes are, so /view serves it as the image it is and never as a page.
  const given = IMAGE_EXTENSIONS[sniffed.type].includes(path.extname(named).toLowerCase()) ? named : `${named}.${sniffed.ext}`;
  try {
    const dir = confine(folders[type], subfolder === '' ? '.' : subfolder, 'subfolder');
    mkdirSync(dir, { recursive: true });
    const { name: stem, ext } = path.parse(given);
    let name = given;
    for (let i = 1; !overwrite && existsSync(path.join(dir, name)); i++) {
      // The same file again keeps its name (a client re-sending its image).
      if (readFileSync(path.join(dir, name)).equals(bytes)) break;
      name = `${stem} (${i})${ext}`;
    }
    const target = confine(dir, name, 'file name');
    const tmp = `${target}.${process.pid}.${Date.now()}.part`;
    writeFileSync(tmp, bytes, { flag: 'wx' });
    renameSync(tmp, target);
    return { name, subfolder, type };
  } catch (e) {
    if (e instanceof PathError) return refusal(e.status, e.code, e.message);
    throw e;
  }
}
