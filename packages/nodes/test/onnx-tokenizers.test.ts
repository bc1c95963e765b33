/** Tokenizers: HF WordLevel tokenizer.json and CLIP byte-level BPE (vocab.json + merges.txt). */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { bytesToUnicode, ClipBpeTokenizer, clipCleanText, parseMerges } from '../src/models/onnx/tokenizer-clip.ts';
import { loadTokenizer } from '../src/models/onnx/tokenizer.ts';
import { WordLevelTokenizer } from '../src/models/onnx/tokenizer-wordlevel.ts';
import { wordLevelTokenizerJson } from './fixtures/tiny-pipeline.ts';

describe('WordLevel tokenizer.json', () => {
  const tok = new WordLevelTokenizer(wordLevelTokenizerJson(7), 7, 'tokenizer.json');

  it('lowercases, splits on whitespace, frames with <bos> … <eos>, maps unknown words to <unk>, pads with <pad>', () => {
    expect(tok.encode('A  RED\tcircle zebra')).toEqual({ ids: [1, 4, 5, 7, 3, 2, 0], truncated: false });
  });

  it('encodes the empty prompt as [<bos>, <eos>, <pad>…]', () => {
    expect(tok.encode('').ids).toEqual([1, 2, 0, 0, 0, 0, 0]);
  });

  it('truncates long prompts but keeps <eos> last', () => {
    expect(tok.encode('a red circle on the left a blue square')).toEqual({ ids: [1, 4, 5, 7, 9, 10, 2], truncated: true });
  });
});

/**
 * CLIP's vocab is built as: the 256 byte characters (in bytes_to_unicode order), the same with "</w>",
 * one entry per merge in merges.txt order, then <|startoftext|>, <|endoftext|>. Building the test vocab
 * by that rule makes every expected id derivable by hand; with the real 48 894 merges the start token
 * is 512 + 48894 = 49406, and "a</w>" is 256 + 64 = 320 (as in the real vocab).
 */
function clipOrderedBytes(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + n++); }
  return cs.map((c) => String.fromCodePoint(c));
}

const MERGES = ['c a', 'ca t</w>', 'p h', 'o t', 'ph ot', 'phot o</w>', 'o f</w>'];

function clipVocab(merges: string[]): Record<string, number> {
  const chars = clipOrderedBytes();
  const tokens = [...chars, ...chars.map((c) => `${c}</w>`), ...merges.map((m) => m.replace(' ', '')), '<|startoftext|>', '<|endoftext|>'];
  return Object.fromEntries(tokens.map((t, i) => [t, i]));
}

describe('CLIP BPE tokenizer', () => {
  const vocab = clipVocab(MERGES);
  const BOS = 512 + MERGES.length, EOS = BOS + 1;
  const sd1 = new ClipBpeTokenizer({ vocab, merges: MERGES, length: 10 }, 'vocab.json');

  it('maps bytes to printable characters reversibly, as GPT-2/CLIP do', () => {
    const table = bytesToUnicode();
    expect(new Set(table).size).toBe(256);
    expect(table[0x61]).toBe('a');
    expect(table[0x20]).toBe('Ġ');
    expect(vocab['a</w>']).toBe(320);
    expect(vocab['!']).toBe(0);
  });

  it('"a photo of a cat" → [bos, a</w>, photo</w>, of</w>, a</w>, cat</w>, eos] padded with <|endoftext|> (SD1)', () => {
    expect(sd1.encode('a photo of a cat')).toEqual({ ids: [BOS, 320, 517, 518, 320, 513, EOS, EOS, EOS, EOS], truncated: false });
  });

  it('pads with "!" (id 0) when the pad token is "!" (SD2)', () => {
    const sd2 = new ClipBpeTokenizer({ vocab, merges: MERGES, length: 10, padToken: '!' }, 'vocab.json');
    expect(sd2.encode('a cat').ids).toEqual([BOS, 320, 513, EOS, 0, 0, 0, 0, 0, 0]);
  });

  it('cleans HTML entities, whitespace and case, and splits punctuation with CLIP\'s regex', () => {
    expect(clipCleanText('  A  PHOTO\n of&amp;amp;a cat!  ')).toBe('a photo of&a cat!');
    // '&</w>' = 256 + 5 ('&' is byte 0x26, fifth after '!'), '!</w>' = 256 + 0.
    expect(sd1.tokenIds('A  PHOTO of&amp;a CAT!')).toEqual([320, 517, 518, 261, 320, 513, 256]);
  });

  it('encodes non-ASCII letters through their UTF-8 bytes', () => {
    // 'é' = C3 A9: 'Ã' (0xC3, index 94 + 12 + 21 = 127) then '©</w>' (0xA9, 256 + 94 + 8 = 358).
    expect(sd1.tokenIds('é')).toEqual([127, 358]);
  });

  it('truncates to the model length keeping the end token', () => {
    const r = sd1.encode('a cat a cat a cat a cat a cat');
    expect(r.ids).toHaveLength(10);
    expect(r.ids[9]).toBe(EOS);
    expect(r.truncated).toBe(true);
  });

  it('loads vocab.json + merges.txt + special_tokens_map.json from a tokenizer folder', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dg-clip-'));
    writeFileSync(path.join(dir, 'vocab.json'), JSON.stringify(vocab));
    writeFileSync(path.join(dir, 'merges.txt'), `#version: 0.2\n${MERGES.join('\n')}\n`);
    writeFileSync(path.join(dir, 'special_tokens_map.json'), JSON.stringify({ pad_token: '!', bos_token: { content: '<|startoftext|>' } }));
    writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ model_max_length: 8 }));
    const tok = loadTokenizer(dir);
    expect(tok.kind).toBe('clip-bpe');
    expect(tok.encode('a photo').ids).toEqual([BOS, 320, 517, EOS, 0, 0, 0, 0]);
    expect(parseMerges('#version: 0.2\na b\n\n')).toEqual(['a b']);
  });

  // The real CLIP vocabulary is 1.6 MB and not shipped; point DIFFGRAPH_CLIP_TOKENIZER at an SD tokenizer/ folder to check real ids.
  const real = process.env.DIFFGRAPH_CLIP_TOKENIZER;
  it.skipIf(!real || !existsSync(path.join(real, 'vocab.json')))('matches the real CLIP ids (set DIFFGRAPH_CLIP_TOKENIZER to an SD tokenizer folder to run)', () => {
    const tok = loadTokenizer(real!);
    const merges = parseMerges(readFileSync(path.join(real!, 'merges.txt'), 'utf8'));
    expect(merges.length).toBe(48894);
    expect(tok.encode('a photo of a cat').ids.slice(0, 7)).toEqual([49406, 320, 1125, 539, 320, 2368, 49407]);
  });
});
