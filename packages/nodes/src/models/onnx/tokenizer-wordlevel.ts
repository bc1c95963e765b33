/**
 * The HF `tokenizers` WordLevel pipeline, for small models whose tokenizer.json maps whole words to ids
 * (models/shapes-32): normalizer (Lowercase, NFC…, Strip) → pre-tokenizer (WhitespaceSplit /
 * Whitespace) → vocab lookup with an unk token → TemplateProcessing (<bos> … <eos>) → fixed padding.
 */
import type { Json } from './config-files.ts';
import type { TokenizedText, Tokenizer } from './tokenizer-types.ts';

type Step = (text: string) => string;
type Split = (text: string) => string[];
/** A template entry: a special token's ids, or the sequence itself. */
type TemplatePart = { special: number[] } | { sequence: true };

function normalizer(spec: unknown, file: string): Step {
  if (spec === null || spec === undefined) return (s) => s;
  const n = spec as Json;
  switch (n.type) {
    case 'Lowercase':
      return (s) => s.toLowerCase();
    case 'NFC': case 'NFD': case 'NFKC': case 'NFKD':
      return (s) => s.normalize(n.type as string);
    case 'Strip': {
      const left = n.strip_left !== false, right = n.strip_right !== false;
      return (s) => {
        const t = left ? s.trimStart() : s;
        return right ? t.trimEnd() : t;
      };
    }
    case 'Sequence': {
      const steps = (n.normalizers as unknown[]).map((x) => normalizer(x, file));
      return (s) => steps.reduce((acc, f) => f(acc), s);
    }
    default:
      throw new Error(`${file}: normalizer type "${String(n.type)}" is not supported (Lowercase, NFC/NFD/NFKC/NFKD, Strip, Sequence)`);
  }
}

function preTokenizer(spec: unknown, file: string): Split {
  if (spec === null || spec === undefined) return (s) => (s === '' ? [] : [s]);
  const p = spec as Json;
  switch (p.type) {
    case 'WhitespaceSplit':
      return (s) => s.split(/\s+/u).filter(Boolean);
    case 'Whitespace':
      return (s) => s.match(/\w+|[^\w\s]+/gu) ?? [];
    case 'Sequence': {
      const splits = (p.pretokenizers as unknown[]).map((x) => preTokenizer(x, file));
      return (s) => splits.reduce<string[]>((pieces, f) => pieces.flatMap(f), [s]);
    }
    default:
      throw new Error(`${file}: pre_tokenizer type "${String(p.type)}" is not supported (WhitespaceSplit, Whitespace, Sequence)`);
  }
}

function template(spec: unknown, file: string): TemplatePart[] {
  if (spec === null || spec === undefined) return [{ sequence: true }];
  const p = spec as Json;
  if (p.type !== 'TemplateProcessing') throw new Error(`${file}: post_processor type "${String(p.type)}" is not supported (TemplateProcessing)`);
  const specials = (p.special_tokens ?? {}) as Record<string, { ids: number[] }>;
  return (p.single as Json[]).map((item) => {
    if ('Sequence' in item) return { sequence: true } as const;
    const id = (item.SpecialToken as { id: string }).id;
    if (!specials[id]) throw new Error(`${file}: post_processor uses special token "${id}" without declaring its ids`);
    return { special: specials[id].ids };
  });
}

export class WordLevelTokenizer implements Tokenizer {
  readonly kind = 'wordlevel' as const;
  private readonly normalize: Step;
  private readonly split: Split;
  private readonly vocab: Map<string, number>;
  private readonly unk: number | undefined;
  private readonly template: TemplatePart[];
  private readonly padId: number;

  /** `json` is a parsed tokenizer.json; `length` the fixed sequence length (its padding, or the model's). */
  constructor(json: Json, readonly length: number, private readonly file: string) {
    const model = json.model as Json;
    this.normalize = normalizer(json.normalizer, file);
    this.split = preTokenizer(json.pre_tokenizer, file);
    this.vocab = new Map(Object.entries(model.vocab as Record<string, number>));
    const unkToken = model.unk_token as string | undefined;
    this.unk = unkToken === undefined ? undefined : this.vocab.get(unkToken);
    this.template = template(json.post_processor, file);
    const padding = json.padding as Json | null;
    const padToken = (padding?.pad_token as string | undefined) ?? '<pad>';
    this.padId = (padding?.pad_id as number | undefined) ?? this.vocab.get(padToken) ?? 0;
  }

  private idOf(word: string): number {
    const id = this.vocab.get(word) ?? this.unk;
    if (id === undefined) throw new Error(`${this.file}: word "${word}" is not in the vocabulary and there is no unk_token`);
    return id;
  }

  encode(text: string): TokenizedText {
    const words = this.split(this.normalize(text)).map((w) => this.idOf(w));
    const specials = this.template.reduce((n, p) => n + ('special' in p ? p.special.length : 0), 0);
    const room = Math.max(0, this.length - specials);
    const kept = words.slice(0, room);
    const ids = this.template.flatMap((p) => ('special' in p ? p.special : kept));
    while (ids.length < this.length) ids.push(this.padId);
    return { ids: ids.slice(0, this.length), truncated: words.length > room };
  }
}

/** The fixed length a tokenizer.json pads to, if it says. */
export function fixedPadding(json: Json): number | undefined {
  const strategy = (json.padding as Json | null)?.strategy as Json | string | undefined;
  if (strategy && typeof strategy === 'object' && typeof strategy.Fixed === 'number') return strategy.Fixed;
  const truncation = json.truncation as Json | null;
  return typeof truncation?.max_length === 'number' ? truncation.max_length : undefined;
}
