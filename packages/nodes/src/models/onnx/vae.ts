/**
 * The VAE socket: vae_encoder (IMAGE → scaled latent) and vae_decoder (latent → IMAGE). Scaling lives
 * outside the graphs, as in diffusers: latent = (z − shift)·scaling_factor after encoding and the
 * inverse before decoding. The encoder may output `latent_sample` or `latent_parameters`
 * (mean ‖ logvar, of which we take the mean: the first half of the channels). Either may be float16
 * (fp16 exports): the session converts at the boundary.
 */
import { Tensor } from '@diffgraph/engine';
import { formatShape, type IoContract } from '../../runtime/io-contract.ts';
import type { OnnxSession } from '../../runtime/onnx-session.ts';
import { concatBatch, FLOAT_IO_DTYPES, fromOrt } from '../../runtime/ort-tensors.ts';

export interface VaeOptions {
  name: string;
  decoder: OnnxSession;
  encoder?: OnnxSession;
  scalingFactor: number;
  shiftFactor?: number;
  /** Latent channels from vae config (latent_channels), for when the decoder leaves them symbolic. */
  latentChannels?: number;
}

const image4 = (channels: number | null): { dtypes: readonly string[]; ranks: number[]; dims: (number | null)[] } => ({ dtypes: FLOAT_IO_DTYPES, ranks: [4], dims: [null, channels, null, null] });

export function vaeDecoderContract(latentChannels: number | null): IoContract {
  return { inputs: { latent_sample: image4(latentChannels) }, outputs: { sample: image4(3) } };
}

export function vaeEncoderContract(output: string): IoContract {
  return { inputs: { sample: image4(3) }, outputs: { [output]: image4(null) } };
}

/** Which latent output an encoder has: the deterministic parameters if both are there. */
export function encoderOutputName(session: OnnxSession): 'latent_parameters' | 'latent_sample' {
  if (session.outputs.has('latent_parameters')) return 'latent_parameters';
  if (session.outputs.has('latent_sample')) return 'latent_sample';
  throw new Error(`${session.file}: not a valid VAE encoder model: it has neither output 'latent_sample' nor 'latent_parameters' (it declares: ${[...session.outputs.keys()].join(', ')})`);
}

/** First `channels` channels of each item of a [B, C2, h, w] tensor. */
function leadingChannels(t: Tensor, channels: number): Tensor {
  const [b, c2, h, w] = t.shape;
  const plane = h * w;
  const out = new Float32Array(b * channels * plane);
  for (let i = 0; i < b; i++) out.set(t.data.subarray(i * c2 * plane, i * c2 * plane + channels * plane), i * channels * plane);
  return new Tensor([b, channels, h, w], out);
}

export class OnnxVae {
  readonly name: string;
  readonly scalingFactor: number;
  readonly shiftFactor: number;
  readonly latentChannels: number;
  readonly byteSize = 256;
  readonly decoder: OnnxSession;
  readonly encoder?: OnnxSession;
  private readonly encoderOutput?: 'latent_parameters' | 'latent_sample';

  constructor(o: VaeOptions) {
    this.name = o.name;
    this.scalingFactor = o.scalingFactor;
    this.shiftFactor = o.shiftFactor ?? 0;
    if (!(this.scalingFactor > 0)) throw new Error(`${o.name}: scaling_factor must be > 0, got ${this.scalingFactor}`);
    const declared = o.decoder.inputs.get('latent_sample')?.shape[1];
    this.decoder = o.decoder.check(vaeDecoderContract(typeof declared === 'number' ? declared : (o.latentChannels ?? null)), 'VAE decoder');
    this.latentChannels = typeof declared === 'number' ? declared : (o.latentChannels ?? 4);
    if (o.encoder) {
      this.encoderOutput = encoderOutputName(o.encoder);
      this.encoder = o.encoder.check(vaeEncoderContract(this.encoderOutput), 'VAE encoder');
    }
  }

  /** Runs `fn` over chunks of the batch: some exported VAEs fix batch 1, others misbehave above it. */
  private async chunked(session: OnnxSession, input: string, x: Tensor, chunk: number, fn: (part: Tensor) => Promise<Tensor>): Promise<Tensor> {
    const fixed = session.input(input).shape[0];
    const size = typeof fixed === 'number' ? fixed : Math.max(1, Math.floor(chunk));
    const total = x.shape[0];
    if (total <= size && (typeof fixed !== 'number' || total === fixed)) return fn(x);
    if (typeof fixed === 'number' && fixed !== 1 && total % fixed !== 0) throw new Error(`${session.file}: input '${input}' has a fixed batch of ${fixed}; cannot run ${total}`);
    const parts: Tensor[] = [];
    for (let start = 0; start < total; start += size) {
      const n = Math.min(size, total - start);
      const item = x.size / total;
      parts.push(await fn(new Tensor([n, ...x.shape.slice(1)], x.data.slice(start * item, (start + n) * item))));
    }
    return concatBatch(parts, this.name);
  }

  /** IMAGE [B, 3, H, W] in [0, 1] → scaled latent [B, C, h, w]. */
  async encode(image: Tensor, chunk = 4): Promise<Tensor> {
    const encoder = this.encoder;
    if (!encoder) throw new Error(`${this.name}: this pipeline has no vae_encoder, so it cannot encode images`);
    if (image.shape.length !== 4 || image.shape[1] !== 3) throw new Error(`${this.name}: expected an IMAGE [B, 3, H, W], got [${image.shape.join(', ')}]`);
    const input = new Float32Array(image.size);
    for (let i = 0; i < input.length; i++) input[i] = 2 * image.data[i] - 1;
    const output = this.encoderOutput!;
    const z = await this.chunked(encoder, 'sample', new Tensor(image.shape, input), chunk, async (part) => {
      const out = await encoder.run({ sample: encoder.feed('sample', part) }, [output]);
      const t = fromOrt(out[output], encoder.file, output);
      // Exporters label the parameters' channel axis like the latent's (optimum: num_channels_latent),
      // so the count is checked against the VAE's latent channels, not taken from the label.
      const expected = output === 'latent_parameters' ? 2 * this.latentChannels : this.latentChannels;
      if (t.shape[1] !== expected) {
        throw new Error(`${encoder.file}: output '${output}' has ${t.shape[1]} channels, expected ${expected}${output === 'latent_parameters' ? ` (mean and log-variance of ${this.latentChannels} latent channels)` : ''}: check latent_channels in the VAE's config.json`);
      }
      return output === 'latent_parameters' ? leadingChannels(t, this.latentChannels) : t;
    });
    const d = z.data;
    for (let i = 0; i < d.length; i++) d[i] = (d[i] - this.shiftFactor) * this.scalingFactor;
    return z;
  }

  /** Scaled latent [B, C, h, w] → IMAGE [B, 3, H, W] in [0, 1], clamped. */
  async decode(latent: Tensor, chunk = 4): Promise<Tensor> {
    if (latent.shape.length !== 4 || latent.shape[1] !== this.latentChannels) {
      throw new Error(`${this.name}: expected a latent [B, ${this.latentChannels}, h, w] for ${this.decoder.file} (input 'latent_sample' ${formatShape(this.decoder.input('latent_sample').shape)}), got [${latent.shape.join(', ')}]`);
    }
    const z = new Float32Array(latent.size);
    for (let i = 0; i < z.length; i++) z[i] = latent.data[i] / this.scalingFactor + this.shiftFactor;
    const image = await this.chunked(this.decoder, 'latent_sample', new Tensor(latent.shape, z), chunk, async (part) => {
      const out = await this.decoder.run({ latent_sample: this.decoder.feed('latent_sample', part) }, ['sample']);
      return fromOrt(out.sample, this.decoder.file, 'sample');
    });
    const d = image.data;
    for (let i = 0; i < d.length; i++) d[i] = Math.min(1, Math.max(0, (d[i] + 1) / 2));
    return image;
  }
}

declare module '@diffgraph/engine' {
  interface SocketTypes {
    VAE: OnnxVae;
  }
}
