/**
 * The TEXT_ENCODER socket: tokenizer + text_encoder/model.onnx. The ids go in the dtype the model
 * declares (int32 from diffusers' script, int64 from optimum), and outputs are selected by name because
 * exports differ in what else they return (pooler_output, hidden_states.N); a float16 output (fp16
 * exports) is widened to float32. SD uses last_hidden_state; SDXL's encoders give the penultimate
 * layer's hidden state (`hidden_states.{L-1}` of an export with hidden states 0..L) and, for the
 * second encoder, the pooled projection `text_embeds`.
 */
import type { Tensor } from '@diffgraph/engine';
import type { IoContract } from '../../runtime/io-contract.ts';
import type { OnnxSession } from '../../runtime/onnx-session.ts';
import { FLOAT_IO_DTYPES, fromOrt, idsTensor } from '../../runtime/ort-tensors.ts';
import type { Tokenizer } from './tokenizer-types.ts';

const IDS_INPUT: IoContract['inputs'] = { input_ids: { dtypes: ['int32', 'int64'], ranks: [2] } };

export interface TextEncoding {
  /** [B, sequence, width] */
  embeddings: Tensor;
  /** [B, projection]: the pooled projection an SDXL UNet takes as `text_embeds`. */
  pooled?: Tensor;
  /** Per prompt: whether it was cut to fit the sequence length. */
  truncated: boolean[];
}

export interface TextEncoderOptions {
  /** Which hidden state is the embedding: the final one (SD) or the penultimate layer's (SDXL). */
  hiddenState?: 'last' | 'penultimate';
  /** Also return this pooled output (SDXL's second encoder: `text_embeds`). */
  pooledOutput?: string;
}

/** The output holding the penultimate layer's hidden state: hidden_states.{L-1} of hidden_states.0..L. */
function penultimateOutput(session: OnnxSession): string {
  const layers = [...session.outputs.keys()].map((n) => /^hidden_states\.(\d+)$/.exec(n)).filter((m) => m !== null).map((m) => Number(m![1]));
  const last = Math.max(-1, ...layers);
  if (last < 1) {
    throw new Error(`${session.file}: an SDXL text encoder must output its hidden states (hidden_states.0 … hidden_states.N, as optimum exports SDXL's encoders) to give the penultimate layer's; it outputs ${[...session.outputs.keys()].join(', ')}`);
  }
  return `hidden_states.${last - 1}`;
}

export class OnnxTextEncoder {
  /** Small on purpose: sessions belong to the model store, not to the executor's output cache. */
  readonly byteSize = 256;
  /** The output the embeddings come from. */
  readonly hiddenOutput: string;
  readonly pooledOutput: string | undefined;

  constructor(readonly name: string, readonly tokenizer: Tokenizer, readonly session: OnnxSession, options: TextEncoderOptions = {}) {
    this.hiddenOutput = options.hiddenState === 'penultimate' ? penultimateOutput(session) : 'last_hidden_state';
    this.pooledOutput = options.pooledOutput;
    const outputs: IoContract['outputs'] = { [this.hiddenOutput]: { dtypes: FLOAT_IO_DTYPES, ranks: [3] } };
    if (this.pooledOutput) outputs[this.pooledOutput] = { dtypes: FLOAT_IO_DTYPES, ranks: [2] };
    session.check({ inputs: IDS_INPUT, outputs }, 'text encoder');
    const seq = session.input('input_ids').shape[1];
    if (typeof seq === 'number' && seq !== tokenizer.length) {
      throw new Error(`${session.file}: input 'input_ids' has sequence length ${seq}, but the tokenizer makes ${tokenizer.length} tokens`);
    }
  }

  /** Width of the embeddings if the model declares it (it may be symbolic). */
  get width(): number | undefined {
    const d = this.session.output(this.hiddenOutput).shape[2];
    return typeof d === 'number' ? d : undefined;
  }

  async encode(texts: readonly string[]): Promise<TextEncoding> {
    const tokens = texts.map((t) => this.tokenizer.encode(t));
    const ids = tokens.flatMap((t) => t.ids);
    const dtype = this.session.input('input_ids').dtype;
    const fetch = this.pooledOutput ? [this.hiddenOutput, this.pooledOutput] : [this.hiddenOutput];
    const out = await this.session.run({ input_ids: idsTensor(ids, [texts.length, this.tokenizer.length], dtype) }, fetch);
    const embeddings = fromOrt(out[this.hiddenOutput], this.session.file, this.hiddenOutput);
    const pooled = this.pooledOutput ? fromOrt(out[this.pooledOutput], this.session.file, this.pooledOutput) : undefined;
    return { embeddings, pooled, truncated: tokens.map((t) => t.truncated) };
  }
}
