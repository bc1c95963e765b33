/**
 * The TEXT_ENCODER socket: tokenizer + text_encoder/model.onnx (input_ids → last_hidden_state).
 * The ids go in the dtype the model declares (int32 from diffusers' script, int64 from optimum), and
 * the output is selected by name because exports differ in what else they return (pooler_output);
 * a float16 output (fp16 exports) is widened to float32.
 */
import type { Tensor } from '@diffgraph/engine';
import type { IoContract } from '../../runtime/io-contract.ts';
import type { OnnxSession } from '../../runtime/onnx-session.ts';
import { FLOAT_IO_DTYPES, fromOrt, idsTensor } from '../../runtime/ort-tensors.ts';
import type { Tokenizer } from './tokenizer-types.ts';

export const TEXT_ENCODER_CONTRACT: IoContract = {
  inputs: { input_ids: { dtypes: ['int32', 'int64'], ranks: [2] } },
  outputs: { last_hidden_state: { dtypes: FLOAT_IO_DTYPES, ranks: [3] } },
};

export interface TextEncoding {
  /** [B, sequence, width] */
  embeddings: Tensor;
  /** Per prompt: whether it was cut to fit the sequence length. */
  truncated: boolean[];
}

export class OnnxTextEncoder {
  /** Small on purpose: sessions belong to the model store, not to the executor's output cache. */
  readonly byteSize = 256;

  constructor(readonly name: string, readonly tokenizer: Tokenizer, readonly session: OnnxSession) {
    session.check(TEXT_ENCODER_CONTRACT, 'text encoder');
    const seq = session.input('input_ids').shape[1];
    if (typeof seq === 'number' && seq !== tokenizer.length) {
      throw new Error(`${session.file}: input 'input_ids' has sequence length ${seq}, but the tokenizer makes ${tokenizer.length} tokens`);
    }
  }

  /** Width of the embeddings if the model declares it (it may be symbolic). */
  get width(): number | undefined {
    const d = this.session.output('last_hidden_state').shape[2];
    return typeof d === 'number' ? d : undefined;
  }

  async encode(texts: readonly string[]): Promise<TextEncoding> {
    const tokens = texts.map((t) => this.tokenizer.encode(t));
    const ids = tokens.flatMap((t) => t.ids);
    const dtype = this.session.input('input_ids').dtype;
    const out = await this.session.run({ input_ids: idsTensor(ids, [texts.length, this.tokenizer.length], dtype) }, ['last_hidden_state']);
    const embeddings = fromOrt(out.last_hidden_state, this.session.file, 'last_hidden_state');
    return { embeddings, truncated: tokens.map((t) => t.truncated) };
  }
}
