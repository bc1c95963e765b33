/** What an upload is, judged by its bytes: POST /api/uploads and ComfyUI's POST /upload/image. */
import { decodeNpy, decodeRgba, imageFormat, tensorFromJson } from '@diffgraph/nodes';

export type UploadType = 'image/png' | 'image/jpeg' | 'application/x-npy' | 'application/json';

export type UploadRefusal = { code: 'EMPTY_UPLOAD' | 'UNSUPPORTED_MEDIA_TYPE' | 'UNREADABLE_UPLOAD'; error: string };

/**
 * What an upload is, by its content (never by its name or Content-Type). Images and tensors are
 * decoded in full, so a file with the right magic bytes and garbage after them is refused here
 * (UNREADABLE_UPLOAD) rather than by the node that opens it later.
 */
export function sniffUpload(bytes: Buffer): { type: UploadType; ext: string } | UploadRefusal {
  if (bytes.length === 0) return { code: 'EMPTY_UPLOAD', error: 'The upload is empty.' };
  const image = imageFormat(bytes);
  if (image) {
    try {
      decodeRgba(bytes);
    } catch (e) {
      return { code: 'UNREADABLE_UPLOAD', error: `Not a readable ${image === 'png' ? 'PNG' : 'JPEG'} image: ${(e as Error).message}.` };
    }
    return image === 'png' ? { type: 'image/png', ext: 'png' } : { type: 'image/jpeg', ext: 'jpg' };
  }
  if (bytes.length >= 6 && bytes[0] === 0x93 && bytes.subarray(1, 6).toString('latin1') === 'NUMPY') {
    try {
      decodeNpy(bytes);
    } catch (e) {
      return { code: 'UNREADABLE_UPLOAD', error: `Not a readable .npy tensor: ${(e as Error).message}` };
    }
    return { type: 'application/x-npy', ext: 'npy' };
  }
  const first = bytes.subarray(0, 64).toString('utf8').trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      tensorFromJson(JSON.parse(bytes.toString('utf8')));
    } catch (e) {
      return { code: 'UNSUPPORTED_MEDIA_TYPE', error: `Not a tensor JSON document ({ shape, dtype, data } or nested arrays): ${(e as Error).message}` };
    }
    return { type: 'application/json', ext: 'json' };
  }
  return { code: 'UNSUPPORTED_MEDIA_TYPE', error: 'Unsupported upload: send a PNG or JPEG image, a .npy tensor or a tensor JSON document.' };
}
