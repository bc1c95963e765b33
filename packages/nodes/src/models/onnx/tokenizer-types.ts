/** What every tokenizer gives the text encoder: a fixed-length id sequence per prompt. */
export interface TokenizedText {
  ids: number[];
  /** The prompt had more tokens than fit (the tail was cut before the end token). */
  truncated: boolean;
}

export interface Tokenizer {
  readonly kind: 'wordlevel' | 'clip-bpe';
  /** Every encoding has exactly this many ids (padded or truncated). */
  readonly length: number;
  encode(text: string): TokenizedText;
}

/** `content` of an HF special-token entry, which is either a string or { content }. */
export function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') return (value as { content: string }).content;
  return undefined;
}
