/**
 * CLIP's byte-level BPE (openai/CLIP simple_tokenizer, HF CLIPTokenizer): clean the text (HTML
 * entities, control characters, whitespace) and lowercase it, split with CLIP's regex, map each
 * piece's UTF-8 bytes to printable characters, mark the last one with `</w>`, merge pairs by rank from
 * merges.txt, look the pieces up in vocab.json, and frame with <|startoftext|> … <|endoftext|>,
 * padded to the model length (SD1: with <|endoftext|>; SD2: with "!").
 */
import type { TokenizedText, Tokenizer } from './tokenizer-types.ts';

/** GPT-2/CLIP's reversible byte → printable character map. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCodePoint(cs[i])));
  return table;
}

const BYTE_CHARS = bytesToUnicode();
const PATTERN = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/giu;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function unescapeHtml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[body.toLowerCase()] ?? whole;
  });
}

/** CLIP's basic_clean + whitespace_clean + lower (ftfy's fix_text reduced to NFC normalisation). */
export function clipCleanText(text: string): string {
  const unescaped = unescapeHtml(unescapeHtml(text.normalize('NFC')));
  // eslint-disable-next-line no-control-regex
  const noControl = unescaped.replace(/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/g, '');
  return noControl.replace(/\s+/gu, ' ').trim().toLowerCase();
}

/** The pre-tokenized words of a text: cleaned, split with CLIP's regex, UTF-8 bytes mapped to characters. */
export function clipWords(text: string): string[] {
  return (clipCleanText(text).match(PATTERN) ?? []).map((piece) =>
    piece === '<|startoftext|>' || piece === '<|endoftext|>' ? piece : Array.from(new TextEncoder().encode(piece), (b) => BYTE_CHARS[b]).join(''),
  );
}

export interface ClipBpeOptions {
  vocab: Record<string, number>;
  /** Merge rules in rank order, each "left right". */
  merges: readonly string[];
  length: number;
  bosToken?: string;
  eosToken?: string;
  padToken?: string;
  unkToken?: string;
}

export class ClipBpeTokenizer implements Tokenizer {
  readonly kind = 'clip-bpe' as const;
  readonly length: number;
  private readonly vocab: Map<string, number>;
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();
  readonly bos: number;
  readonly eos: number;
  readonly pad: number;
  private readonly unk: number;

  constructor(options: ClipBpeOptions, private readonly file: string) {
    this.length = options.length;
    this.vocab = new Map(Object.entries(options.vocab));
    options.merges.forEach((m, rank) => this.ranks.set(m, rank));
    const need = (token: string, role: string) => {
      const id = this.vocab.get(token);
      if (id === undefined) throw new Error(`${file}: the ${role} token "${token}" is not in the vocabulary`);
      return id;
    };
    this.bos = need(options.bosToken ?? '<|startoftext|>', 'start');
    this.eos = need(options.eosToken ?? '<|endoftext|>', 'end');
    this.pad = need(options.padToken ?? '<|endoftext|>', 'padding');
    this.unk = need(options.unkToken ?? '<|endoftext|>', 'unknown');
    if (this.length < 2) throw new Error(`${file}: model length ${this.length} leaves no room for start and end tokens`);
    for (const special of ['<|startoftext|>', '<|endoftext|>']) this.cache.set(special, [special]);
  }

  /** The BPE pieces of one pre-tokenized word (already byte-mapped). */
  bpe(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached) return cached;
    const chars = [...word];
    let parts = [...chars.slice(0, -1), chars[chars.length - 1] + '</w>'];
    while (parts.length > 1) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i < parts.length - 1; i++) {
        const rank = this.ranks.get(`${parts[i]} ${parts[i + 1]}`);
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = i;
        }
      }
      if (best < 0) break;
      // Merge every occurrence of the best pair, left to right (as CLIP does).
      const [a, b] = [parts[best], parts[best + 1]];
      const merged: string[] = [];
      for (let i = 0; i < parts.length; i++) {
        if (i < parts.length - 1 && parts[i] === a && parts[i + 1] === b) {
          merged.push(a + b);
          i++;
        } else merged.push(parts[i]);
      }
      parts = merged;
    }
    this.cache.set(word, parts);
    return parts;
  }

  /** Ids of the text without the start/end framing. */
  tokenIds(text: string): number[] {
    const ids: number[] = [];
    for (const word of clipWords(text)) {
      for (const token of this.bpe(word)) ids.push(this.vocab.get(token) ?? this.unk);
    }
    return ids;
  }

  encode(text: string): TokenizedText {
    const content = this.tokenIds(text);
    const room = this.length - 2;
    const ids = [this.bos, ...content.slice(0, room), this.eos];
    while (ids.length < this.length) ids.push(this.pad);
    return { ids, truncated: content.length > room };
  }
}

/** merges.txt lines → merge rules (the first line is a "#version" header). */
export function parseMerges(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#version'));
}
