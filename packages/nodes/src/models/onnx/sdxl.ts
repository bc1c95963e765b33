/**
 * The SDXL layout's conditioning (diffusers' StableDiffusionXLPipeline.encode_prompt and
 * _get_add_time_ids): the two encoders' penultimate hidden states concatenated on the feature axis,
 * the second encoder's pooled projection (the UNet's `text_embeds`), and the size conditioning
 * `time_ids` = original size (h, w) ‖ crop top-left (top, left) ‖ target size (h, w).
 */
import { Tensor } from '@diffgraph/engine';
import type { OnnxTextEncoder, TextEncoding } from './text-encoder.ts';

/** Sizes in pixels as (height, width); undefined = the output size, diffusers' default. */
export interface SizeConditioning {
  original?: readonly [number, number];
  cropTopLeft: readonly [number, number];
  target?: readonly [number, number];
}

export const DEFAULT_SIZES: SizeConditioning = { cropTopLeft: [0, 0] };

/** The six time ids for an output of `output` = (height, width) pixels. */
export function timeIds(sizes: SizeConditioning, output: readonly [number, number]): number[] {
  return [...(sizes.original ?? output), ...sizes.cropTopLeft, ...(sizes.target ?? output)];
}

/** [B, S, Wa] ‖ [B, S, Wb] → [B, S, Wa + Wb]. */
export function concatFeatures(a: Tensor, b: Tensor, what: string): Tensor {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape[0] !== b.shape[0] || a.shape[1] !== b.shape[1]) {
    throw new Error(`${what}: cannot join hidden states [${a.shape.join(', ')}] and [${b.shape.join(', ')}] on the feature axis (the two tokenizers must make sequences of one length)`);
  }
  const [batch, seq, wa] = a.shape;
  const wb = b.shape[2];
  const out = new Float32Array(batch * seq * (wa + wb));
  for (let row = 0; row < batch * seq; row++) {
    out.set(a.data.subarray(row * wa, (row + 1) * wa), row * (wa + wb));
    out.set(b.data.subarray(row * wb, (row + 1) * wb), row * (wa + wb) + wa);
  }
  return new Tensor([batch, seq, wa + wb], out);
}

/** SDXL's pair of text encoders behind the one TEXT_ENCODER socket. */
export class SdxlTextEncoder {
  readonly byteSize = 256;

  constructor(readonly name: string, readonly first: OnnxTextEncoder, readonly second: OnnxTextEncoder) {
    if (!second.pooledOutput) throw new Error(`${name}: the second text encoder must give a pooled projection`);
  }

  /** The first tokenizer (both make sequences of the same length: checked when encoding). */
  get tokenizer() {
    return this.first.tokenizer;
  }

  /** The concatenated width, when both encoders declare theirs. */
  get width(): number | undefined {
    const a = this.first.width, b = this.second.width;
    return a !== undefined && b !== undefined ? a + b : undefined;
  }

  get pooledWidth(): number | undefined {
    const d = this.second.session.output(this.second.pooledOutput!).shape[1];
    return typeof d === 'number' ? d : undefined;
  }

  async encode(texts: readonly string[]): Promise<TextEncoding> {
    const [a, b] = await Promise.all([this.first.encode(texts), this.second.encode(texts)]);
    return {
      embeddings: concatFeatures(a.embeddings, b.embeddings, this.name),
      pooled: b.pooled,
      truncated: a.truncated.map((t, i) => t || b.truncated[i]),
    };
  }
}
