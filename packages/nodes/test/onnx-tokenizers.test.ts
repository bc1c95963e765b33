/** Tokenizers: HF WordLevel tokenizer.json and CLIP byte-level BPE (vocab.json + merges.txt). */
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { bytesToUnicode, ClipBpeTokenizer, clipCleanText, parseMerges } from '../src/models/onnx/tokenizer-clip.ts';
import { loadTokenizer } from '../src/models/onnx/tokenizer.ts';
import { WordLevelTokenizer } from '../src/models/onnx/tokenizer-wordlevel.ts';
import { wordLevelTokenizerJson } from './fixtures/tiny-pipeline.ts';
import { buildClipTokenizer, MERGE_COUNT } from './fixtures/clip-tokenizer/build.ts';

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
});

/**
 * A committed CLIP-format tokenizer (fixtures/clip-tokenizer: 320 byte-level BPE merges learned from
 * prompts by build.ts, in CLIP's vocab.json + merges.txt layout and as a fast tokenizer.json) checked
 * against Hugging Face's own implementation, @huggingface/tokenizers, on prompts in and out of its
 * training text. (HTML entities are left out: CLIP's Python tokenizer unescapes them, the fast
 * tokenizer.json — and so the HF library — does not.)
 */
describe('CLIP BPE tokenizer against @huggingface/tokenizers', () => {
  const dir = fileURLToPath(new URL('./fixtures/clip-tokenizer/', import.meta.url));
  const read = (name: string) => readFileSync(path.join(dir, name), 'utf8');
  const hf = new HfTokenizer(JSON.parse(read('tokenizer.json')), JSON.parse(read('tokenizer_config.json')));
  const fromFiles = loadTokenizer(dir);
  // The same tokenizer from its tokenizer.json alone (the fast-tokenizer path of loadTokenizer).
  const jsonOnly = mkdtempSync(path.join(os.tmpdir(), 'dg-clip-json-'));
  for (const name of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']) copyFileSync(path.join(dir, name), path.join(jsonOnly, name));
  const fromJson = loadTokenizer(jsonOnly);

  const PROMPTS = [
    'a photo of a cat',
    'A Photo Of A CAT sitting on a RED sofa, 4k',
    '  an oil   painting\n of a\tlighthouse  ',
    "the cat's toy is under the table, it's a sunny day; we'll see, they've gone, I'm here, you're there, he'd go",
    'a xylophone, a quizzical zebra and a jukebox',
    'photo-realistic, ultra-detailed, 8k uhd, f/1.8, 1024x768!!!',
    'café naïve über façade smörgåsbord',
    '猫の写真 and a 🐱 with a 🎩',
    'e\u0301 (a decomposed é, NFC-normalised)',
    '((masterpiece)), [best quality], {sharp}, <lora:foo:0.8>',
    '12345 67890 3.14159 -42',
    'morning mountains mornings mountaineering',
    '',
  ];

  it('the committed files are what build.ts makes, in CLIP\'s layout', () => {
    for (const [name, content] of Object.entries(buildClipTokenizer())) {
      const committed = read(name);
      expect(typeof content === 'string' ? committed : JSON.parse(committed), name).toEqual(content);
    }
    const vocab = JSON.parse(read('vocab.json')) as Record<string, number>;
    const merges = parseMerges(read('merges.txt'));
    expect(merges.length).toBe(MERGE_COUNT);
    expect(Object.keys(vocab).length).toBe(512 + MERGE_COUNT + 2);
    expect(vocab['a</w>']).toBe(320); // as in the real CLIP vocabulary
    expect(vocab['<|startoftext|>']).toBe(512 + MERGE_COUNT);
    merges.forEach((m, i) => expect(vocab[m.replace(' ', '')]).toBe(512 + i));
  });

  it.each(PROMPTS)('%j gives the ids Hugging Face gives', (prompt) => {
    const expected = hf.encode(prompt).ids;
    for (const tok of [fromFiles, fromJson]) {
      expect(tok).toBeInstanceOf(ClipBpeTokenizer);
      const clip = tok as ClipBpeTokenizer;
      expect([clip.bos, ...clip.tokenIds(prompt), clip.eos]).toEqual(expected);
    }
  });

  it('frames and pads to the model length: "a photo of a cat"', () => {
    const ids = [832, 320, 552, 518, 320, 593, 833];
    expect(hf.encode('a photo of a cat').ids).toEqual(ids);
    expect(fromFiles.length).toBe(77);
    expect(fromFiles.encode('a photo of a cat')).toEqual({ ids: [...ids, ...new Array(70).fill(833)], truncated: false });
  });
});
