/**
 * Picks the tokenizer a pipeline's `tokenizer/` folder holds: CLIP BPE from vocab.json + merges.txt
 * (Stable Diffusion), or an HF tokenizer.json (WordLevel, or a BPE model carrying CLIP's vocab/merges).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readJson, readOptionalJson, readText, type Json, type ModelRoots } from './config-files.ts';
import { ClipBpeTokenizer, parseMerges } from './tokenizer-clip.ts';
import { tokenContent, type Tokenizer } from './tokenizer-types.ts';
import { fixedPadding, WordLevelTokenizer } from './tokenizer-wordlevel.ts';

/** A usable model_max_length (HF writes 1e30 for "unbounded"). */
function maxLength(config: Json): number | undefined {
  const n = config.model_max_length;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n < 1e6 ? n : undefined;
}

function specialTokens(roots: ModelRoots, folder: string): { pad?: string; bos?: string; eos?: string; unk?: string; length?: number } {
  const map = readOptionalJson(roots, path.join(folder, 'special_tokens_map.json'), 'tokenizer');
  const config = readOptionalJson(roots, path.join(folder, 'tokenizer_config.json'), 'tokenizer');
  const pick = (key: string) => tokenContent(map[key]) ?? tokenContent(config[key]);
  return { pad: pick('pad_token'), bos: pick('bos_token'), eos: pick('eos_token'), unk: pick('unk_token'), length: maxLength(config) };
}

function fromVocabAndMerges(roots: ModelRoots, folder: string, fallbackLength: number | undefined): Tokenizer {
  const vocabFile = path.join(folder, 'vocab.json');
  const specials = specialTokens(roots, folder);
  return new ClipBpeTokenizer({
    vocab: readJson(roots, vocabFile, 'tokenizer') as Record<string, number>,
    merges: parseMerges(readText(roots, path.join(folder, 'merges.txt'), 'tokenizer')),
    length: specials.length ?? fallbackLength ?? 77,
    bosToken: specials.bos, eosToken: specials.eos, padToken: specials.pad, unkToken: specials.unk,
  }, vocabFile);
}

function fromTokenizerJson(roots: ModelRoots, folder: string, fallbackLength: number | undefined): Tokenizer {
  const file = path.join(folder, 'tokenizer.json');
  const json = readJson(roots, file, 'tokenizer');
  const model = json.model as Json | undefined;
  const specials = specialTokens(roots, folder);
  const length = fixedPadding(json) ?? specials.length ?? fallbackLength;
  if (length === undefined) throw new Error(`${file}: cannot tell the sequence length (no fixed padding, model_max_length or declared input_ids length)`);
  switch (model?.type) {
    case 'WordLevel':
      return new WordLevelTokenizer(json, length, file);
    case 'BPE': {
      // A fast CLIP tokenizer: the same vocab and merges, stored inline (merges as "a b" or ["a", "b"]).
      const merges = (model.merges as (string | string[])[]).map((m) => (Array.isArray(m) ? m.join(' ') : m));
      const padding = json.padding as Json | null;
      return new ClipBpeTokenizer({
        vocab: model.vocab as Record<string, number>, merges, length,
        bosToken: specials.bos, eosToken: specials.eos, padToken: (padding?.pad_token as string | undefined) ?? specials.pad, unkToken: (model.unk_token as string | undefined) ?? specials.unk,
      }, file);
    }
    default:
      throw new Error(`${file}: tokenizer model type "${String(model?.type)}" is not supported (WordLevel, or CLIP BPE)`);
  }
}

/**
 * `fallbackLength`: the text encoder's declared sequence length, used when the files do not say.
 * `roots`: where every file must lie after symlinks (a pipeline passes its model roots).
 */
export function loadTokenizer(folder: string, fallbackLength?: number, roots: ModelRoots = [folder]): Tokenizer {
  if (existsSync(path.join(folder, 'vocab.json')) && existsSync(path.join(folder, 'merges.txt'))) return fromVocabAndMerges(roots, folder, fallbackLength);
  if (existsSync(path.join(folder, 'tokenizer.json'))) return fromTokenizerJson(roots, folder, fallbackLength);
  throw new Error(`tokenizer folder ${folder} has neither vocab.json + merges.txt (CLIP BPE) nor tokenizer.json`);
}
