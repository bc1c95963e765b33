/**
 * Text chunks of a PNG (tEXt, zTXt, iTXt; PNG spec §11.3.4), read in the browser: a PNG written by
 * SaveImage carries its workflow under the keyword "workflow".
 */
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const latin1 = (b: Uint8Array) => Array.from(b, (c) => String.fromCharCode(c)).join('');

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((v, i) => bytes[i] === v);
}

/** Every text entry, in file order (a later chunk with the same keyword wins). */
export async function readPngText(bytes: Uint8Array): Promise<Record<string, string>> {
  if (!isPng(bytes)) throw new Error('not a PNG file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, string> = {};
  let pos = 8;
  while (pos + 12 <= bytes.length) {
    const length = view.getUint32(pos);
    const type = latin1(bytes.subarray(pos + 4, pos + 8));
    const data = bytes.subarray(pos + 8, pos + 8 + length);
    if (pos + 12 + length > bytes.length) throw new Error(`truncated PNG (chunk ${type})`);
    pos += 12 + length;
    if (type === 'IEND') break;
    if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') continue;
    const nul = data.indexOf(0);
    if (nul < 1) continue;
    const keyword = latin1(data.subarray(0, nul));
    if (type === 'tEXt') out[keyword] = latin1(data.subarray(nul + 1));
    else if (type === 'zTXt') out[keyword] = latin1(await inflate(data.subarray(nul + 2)));
    else {
      const compressed = data[nul + 1] === 1;
      const langEnd = data.indexOf(0, nul + 3);
      const translatedEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
      if (translatedEnd < 0) continue;
      const text = data.subarray(translatedEnd + 1);
      out[keyword] = new TextDecoder().decode(compressed ? await inflate(text) : text);
    }
  }
  return out;
}
