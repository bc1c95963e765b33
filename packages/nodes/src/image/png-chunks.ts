/**
 * PNG chunk surgery: split an encoded PNG into chunks, and read or insert text chunks (tEXt, zTXt,
 * iTXt; PNG spec §11.3.4). pngjs encodes and decodes pixels but skips text chunks, so metadata is
 * handled here on the encoded bytes.
 *
 * Writing: a keyword/value pair that is printable Latin-1 … in practice ASCII … and short goes into a
 * tEXt chunk (what every viewer shows); anything else (non-ASCII text, long JSON) goes into an iTXt
 * chunk, which is UTF-8 by definition and zlib-compressed when large. This mirrors PIL's
 * PngInfo.add_text, which ComfyUI uses for its "workflow"/"prompt" keys, so either tool can read the
 * other's files.
 */
import { deflateSync, inflateSync } from 'node:zlib';

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** tEXt values up to this many bytes stay tEXt; longer ASCII goes to (compressed) iTXt. */
const TEXT_CHUNK_LIMIT = 1024;
/** iTXt values above this many bytes are deflated. */
const COMPRESS_ABOVE = 1024;

// CRC-32 (ISO 3309 / PNG spec Annex D), table-driven. Node 20 only gained zlib.crc32 in 20.15, so the
// few lines are written here instead of depending on the minor version.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of the concatenation of the given byte ranges. */
export function crc32(...parts: Uint8Array[]): number {
  let c = 0xffffffff;
  for (const bytes of parts) {
    for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

export interface PngChunk {
  /** Four ASCII letters, e.g. "IHDR". */
  type: string;
  data: Buffer;
}

/** Splits a PNG into its chunks, checking the signature, lengths and every CRC. */
export function readChunks(png: Buffer): PngChunk[] {
  if (png.length < 8 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG file (bad signature)');
  const chunks: PngChunk[] = [];
  let pos = 8;
  while (pos < png.length) {
    if (pos + 12 > png.length) throw new Error(`truncated PNG: chunk header at byte ${pos}`);
    const length = png.readUInt32BE(pos);
    const typeBytes = png.subarray(pos + 4, pos + 8);
    const end = pos + 12 + length;
    if (end > png.length) throw new Error(`truncated PNG: chunk "${typeBytes.toString('latin1')}" at byte ${pos} runs past the end`);
    const data = png.subarray(pos + 8, pos + 8 + length);
    if (crc32(typeBytes, data) !== png.readUInt32BE(pos + 8 + length)) {
      throw new Error(`corrupt PNG: bad CRC in chunk "${typeBytes.toString('latin1')}" at byte ${pos}`);
    }
    const type = typeBytes.toString('latin1');
    chunks.push({ type, data });
    pos = end;
    if (type === 'IEND') break;
  }
  if (chunks[0]?.type !== 'IHDR' || chunks.at(-1)?.type !== 'IEND') throw new Error('corrupt PNG: must start with IHDR and end with IEND');
  return chunks;
}

export function encodeChunk(chunk: PngChunk): Buffer {
  const typeBytes = Buffer.from(chunk.type, 'latin1');
  if (typeBytes.length !== 4 || !/^[A-Za-z]{4}$/.test(chunk.type)) throw new Error(`invalid PNG chunk type "${chunk.type}"`);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(chunk.data.length, 0);
  typeBytes.copy(head, 4);
  const tail = Buffer.alloc(4);
  tail.writeUInt32BE(crc32(typeBytes, chunk.data), 0);
  return Buffer.concat([head, chunk.data, tail]);
}

export function writeChunks(chunks: readonly PngChunk[]): Buffer {
  return Buffer.concat([PNG_SIGNATURE, ...chunks.map(encodeChunk)]);
}

function checkKeyword(keyword: string): Buffer {
  // Spec: 1–79 bytes of printable Latin-1, no leading/trailing/double spaces.
  if (!/^[\x21-\x7e\xa1-\xff](?:[\x20-\x7e\xa1-\xff]{0,77}[\x21-\x7e\xa1-\xff])?$/.test(keyword) || keyword.includes('  ')) {
    throw new Error(`invalid PNG text keyword "${keyword}" (1–79 printable Latin-1 characters, no surrounding or double spaces)`);
  }
  return Buffer.from(keyword, 'latin1');
}

/** A text chunk for one keyword: tEXt when the value is short printable ASCII, else iTXt (UTF-8). */
export function textChunk(keyword: string, value: string): PngChunk {
  const key = checkKeyword(keyword);
  const zero = Buffer.alloc(1);
  if (/^[\x20-\x7e\n]*$/.test(value) && value.length <= TEXT_CHUNK_LIMIT) {
    return { type: 'tEXt', data: Buffer.concat([key, zero, Buffer.from(value, 'latin1')]) };
  }
  const utf8 = Buffer.from(value, 'utf8');
  const compress = utf8.length > COMPRESS_ABOVE;
  // keyword \0 compression-flag compression-method language-tag \0 translated-keyword \0 text
  const header = Buffer.from([0, compress ? 1 : 0, 0, 0, 0]);
  return { type: 'iTXt', data: Buffer.concat([key, header, compress ? deflateSync(utf8) : utf8]) };
}

/** Keyword and value of a tEXt, zTXt or iTXt chunk; undefined for any other chunk type. */
export function parseTextChunk(chunk: PngChunk): { keyword: string; value: string } | undefined {
  const { type, data } = chunk;
  if (type !== 'tEXt' && type !== 'zTXt' && type !== 'iTXt') return undefined;
  const nul = data.indexOf(0);
  if (nul < 1) throw new Error(`corrupt PNG: ${type} chunk without a keyword`);
  const keyword = data.subarray(0, nul).toString('latin1');
  if (type === 'tEXt') return { keyword, value: data.subarray(nul + 1).toString('latin1') };
  if (type === 'zTXt') {
    if (data[nul + 1] !== 0) throw new Error(`PNG zTXt "${keyword}": unknown compression method ${data[nul + 1]}`);
    return { keyword, value: inflateSync(data.subarray(nul + 2)).toString('latin1') };
  }
  const compressed = data[nul + 1] === 1;
  if (compressed && data[nul + 2] !== 0) throw new Error(`PNG iTXt "${keyword}": unknown compression method ${data[nul + 2]}`);
  const langEnd = data.indexOf(0, nul + 3);
  const translatedEnd = langEnd < 0 ? -1 : data.indexOf(0, langEnd + 1);
  if (translatedEnd < 0) throw new Error(`corrupt PNG: iTXt "${keyword}" has no language tag or translated keyword`);
  const text = data.subarray(translatedEnd + 1);
  return { keyword, value: (compressed ? inflateSync(text) : text).toString('utf8') };
}

/** Every text entry of a PNG, in file order; a later chunk with the same keyword wins. */
export function readPngText(png: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const chunk of readChunks(png)) {
    const entry = parseTextChunk(chunk);
    if (entry) out[entry.keyword] = entry.value;
  }
  return out;
}

/**
 * The PNG with text chunks for `entries` inserted right after IHDR (before the image data, so
 * streaming readers see them first, as PIL writes them). Existing chunks are kept unchanged.
 */
export function insertPngText(png: Buffer, entries: Readonly<Record<string, string>>): Buffer {
  const chunks = readChunks(png);
  const text = Object.entries(entries).map(([k, v]) => textChunk(k, v));
  return writeChunks([chunks[0], ...text, ...chunks.slice(1)]);
}
