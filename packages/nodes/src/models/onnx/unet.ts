/**
 * A UNet-style ONNX network as a DiffusionModel (contracts.ts): (sample, timestep, context) → output,
 * converted to x0 by the parameterization. Everything that real exports vary in is read from the
 * session: the element type of the float inputs and output (float32, or float16 as fp16 exports have
 * it: converted at the boundary, so the samplers stay in float32/float64), the timestep's dtype
 * (int64, float32 or float16) and rank (scalar, [1] or [B]), a fixed batch size, the sample shape.
 * predictX0Many stacks all conditionings along the batch into ONE session run. An SDXL UNet also takes
 * the pooled text embedding (`text_embeds`) and the size conditioning (`time_ids`): both travel in the
 * conditioning and are stacked the same way.
 */
import { Tensor } from '@diffgraph/engine';
import * as ort from 'onnxruntime-node';
import { formatShape, type IoContract } from '../../runtime/io-contract.ts';
import type { OnnxSession } from '../../runtime/onnx-session.ts';
import { broadcastBatch, concatBatch, floatTensor, FLOAT_IO_DTYPES, fromOrt, repeatBatch, splitBatch } from '../../runtime/ort-tensors.ts';
import type { Conditioning, DiffusionModel, NoiseSchedule } from '../../contracts/sampling.ts';
import { x0FromPrediction, type Parameterization } from '../../contracts/parameterization.ts';
import { DEFAULT_SIZES, timeIds, type SizeConditioning } from './sdxl.ts';

/** The model's IO names (diffusers' by default; a sidecar may rename them or drop the context). */
export interface UnetIoNames {
  sample: string;
  timestep: string;
  /** null: an unconditional network with no text input. */
  context: string | null;
  output: string;
  /** SDXL's added conditioning: the pooled text embedding and the six size/crop time ids. */
  pooled?: string;
  timeIds?: string;
}

export const DIFFUSERS_UNET_NAMES: UnetIoNames = { sample: 'sample', timestep: 'timestep', context: 'encoder_hidden_states', output: 'out_sample' };
export const SDXL_UNET_NAMES: UnetIoNames = { ...DIFFUSERS_UNET_NAMES, pooled: 'text_embeds', timeIds: 'time_ids' };

export interface UnetModelOptions {
  name: string;
  session: OnnxSession;
  schedule: NoiseSchedule;
  parameterization: Parameterization;
  names?: UnetIoNames;
  /** Item shape from config files, used for axes the session leaves symbolic. */
  configSampleShape?: readonly (number | undefined)[];
  /** Item rank when nothing declares it (pipelines: 3, i.e. [C, H, W]). */
  sampleRank?: number;
  /** The conditioning used when a call has none (a pipeline's empty prompt, or SDXL's zeros). */
  unconditional?: () => Promise<Conditioning>;
  /** Pixels per latent cell (the VAE's factor): the output size in SDXL's default time ids. */
  outputScale?: number;
  /** Extra facts for users (e.g. the scheduler config's spacing). */
  info?: Record<string, unknown>;
}

export interface OnnxDiffusionModel extends DiffusionModel {
  readonly parameterization: Parameterization;
  readonly unet: OnnxSession;
  readonly info: Record<string, unknown>;
  readonly byteSize: number;
  predictX0Many(x: Tensor, t: number, conditionings: readonly (Conditioning | undefined)[]): Promise<Tensor[]>;
}

export function unetContract(names: UnetIoNames, itemRank: number | null): IoContract {
  const ranks = itemRank === null ? [1, 2, 3, 4, 5] : [itemRank + 1];
  const inputs: IoContract['inputs'] = {
    [names.sample]: { dtypes: FLOAT_IO_DTYPES, ranks },
    [names.timestep]: { dtypes: ['int64', ...FLOAT_IO_DTYPES], ranks: [0, 1] },
  };
  if (names.context) inputs[names.context] = { dtypes: FLOAT_IO_DTYPES, ranks: [3] };
  if (names.pooled) inputs[names.pooled] = { dtypes: FLOAT_IO_DTYPES, ranks: [2] };
  if (names.timeIds) inputs[names.timeIds] = { dtypes: FLOAT_IO_DTYPES, ranks: [2] };
  return { inputs, outputs: { [names.output]: { dtypes: FLOAT_IO_DTYPES, ranks } } };
}

/** The item shape: declared fixed axes first, config values for symbolic ones. */
function sampleShapeOf(session: OnnxSession, o: UnetModelOptions, names: UnetIoNames): number[] {
  const declared = session.input(names.sample).shape.slice(1);
  const config = o.configSampleShape ?? [];
  const shape = declared.map((d, i) => (typeof d === 'number' ? d : config[i]));
  if (shape.some((d) => d === undefined || !(d > 0))) {
    throw new Error(`${session.file}: cannot tell the sample shape: input '${names.sample}' is declared ${formatShape(session.input(names.sample).shape)} and the config gives ${formatShape(config.map((c) => c ?? null))} (set in_channels / sample_size in unet/config.json, or sample_shape in a LoadOnnxModel sidecar)`);
  }
  return shape as number[];
}

function contextOf(conditioning: Conditioning): Tensor {
  const e = conditioning.embeddings;
  if (!(e instanceof Tensor) || e.shape.length !== 3) {
    throw new Error('the conditioning has no "embeddings" tensor [batch, sequence, width]: make it with TextEncode from this model\'s text encoder');
  }
  return e;
}

function pooledOf(conditioning: Conditioning): Tensor {
  const p = conditioning.pooled;
  if (!(p instanceof Tensor) || p.shape.length !== 2) {
    throw new Error('the conditioning has no "pooled" text embedding [batch, width], which this SDXL UNet needs: make it with TextEncode from this pipeline\'s text encoder');
  }
  return p;
}

/** The network inputs a conditioning supplies, by input name. */
type ConditioningFeeds = Record<string, Tensor>;

/** The conditionings of a call stacked along the batch, and (once fed whole) as onnxruntime tensors. */
interface StackedFeeds {
  tensors: ConditioningFeeds;
  ort?: Record<string, ort.Tensor>;
}

export function createUnetModel(o: UnetModelOptions): OnnxDiffusionModel {
  const names = o.names ?? DIFFUSERS_UNET_NAMES;
  const { session, schedule } = o;
  session.check(unetContract(names, o.sampleRank ?? null), 'UNet');
  const sampleShape = sampleShapeOf(session, o, names);
  const timestepDecl = session.input(names.timestep);
  const batchDecl = session.input(names.sample).shape[0];

  function checkDeclared(name: string, value: Tensor): void {
    const declared = session.input(name).shape;
    declared.forEach((d, axis) => {
      if (axis > 0 && typeof d === 'number' && d !== value.shape[axis]) {
        throw new Error(`${session.file}: input '${name}' expects ${formatShape(declared)}, the conditioning is [${value.shape.join(', ')}]: was it encoded by this model's text encoder?`);
      }
    });
  }

  /**
   * One conditioning's inputs, broadcast to the state's batch. `sizes`: the size conditioning of a
   * call's missing conditioning, which diffusers takes from the positive prompt's.
   */
  async function feedsFor(given: Conditioning | undefined, batch: number, output: [number, number], sizes: SizeConditioning | undefined): Promise<ConditioningFeeds> {
    let c = given;
    if (!c) {
      if (!o.unconditional) throw new Error(`${o.name}: the model needs a conditioning (its '${names.context}' input); link one from TextEncode`);
      c = await o.unconditional();
    }
    const feeds: ConditioningFeeds = { [names.context!]: contextOf(c) };
    if (names.pooled) feeds[names.pooled] = pooledOf(c);
    if (names.timeIds) {
      const ids = timeIds((given?.sizes as SizeConditioning | undefined) ?? sizes ?? DEFAULT_SIZES, output);
      feeds[names.timeIds] = new Tensor([1, ids.length], Float32Array.from(ids));
    }
    for (const [name, value] of Object.entries(feeds)) {
      checkDeclared(name, value);
      feeds[name] = broadcastBatch(value, batch, `${o.name}: conditioning '${name}'`);
    }
    return feeds;
  }

  function timestepTensor(t: number, batch: number): ort.Tensor {
    const value = schedule.modelTime(t);
    const dims = timestepDecl.shape.length === 0 ? [] : [timestepDecl.shape[0] === 1 ? 1 : batch];
    const count = dims.length === 0 ? 1 : dims[0];
    if (timestepDecl.dtype === 'int64') return new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(value))), dims);
    return floatTensor(new Float32Array(count).fill(value), dims, timestepDecl.dtype);
  }

  /** One network evaluation of a stacked batch (split only if the export fixes a smaller batch). */
  async function evaluate(x: Tensor, stacked: StackedFeeds, t: number): Promise<Tensor> {
    const total = x.shape[0];
    const chunk = typeof batchDecl === 'number' ? batchDecl : total;
    if (total % chunk !== 0) throw new Error(`${session.file}: input '${names.sample}' has a fixed batch of ${chunk}; cannot run a batch of ${total}`);
    if (chunk === total) {
      // The stacked conditioning is this model's own copy, unchanged between steps: convert it once.
      const conditioning = (stacked.ort ??= Object.fromEntries(Object.entries(stacked.tensors).map(([name, value]) => [name, session.feed(name, value)])));
      const out = await session.run({ ...conditioning, [names.sample]: session.feed(names.sample, x), [names.timestep]: timestepTensor(t, chunk) }, [names.output]);
      return fromOrt(out[names.output], session.file, names.output);
    }
    const conditioning = stacked.tensors;
    const outs: Tensor[] = [];
    const xs = splitBatch(x, total / chunk);
    const parts = Object.entries(conditioning).map(([name, value]) => [name, splitBatch(value, total / chunk)] as const);
    for (let i = 0; i < xs.length; i++) {
      const feeds: Record<string, ort.Tensor> = { [names.sample]: session.feed(names.sample, xs[i]), [names.timestep]: timestepTensor(t, chunk) };
      for (const [name, values] of parts) feeds[name] = session.feed(name, values[i]);
      const out = await session.run(feeds, [names.output]);
      outs.push(fromOrt(out[names.output], session.file, names.output));
    }
    return concatBatch(outs, o.name);
  }

  function checkState(x: Tensor): void {
    const item = x.shape.slice(1);
    if (item.length !== sampleShape.length || item.some((d, i) => typeof session.input(names.sample).shape[i + 1] === 'number' && d !== sampleShape[i])) {
      throw new Error(`${o.name}: state [${x.shape.join(', ')}] does not fit input '${names.sample}' ${formatShape(session.input(names.sample).shape)} of ${session.file}`);
    }
  }

  // A sampler asks with the same conditionings at every step: stack their inputs once.
  const NO_CONTEXT: StackedFeeds = { tensors: {}, ort: {} };
  let lastFeeds: { conditionings: readonly (Conditioning | undefined)[]; batch: number; height: number; width: number; feeds: StackedFeeds } | undefined;

  /** The stacked inputs of the previous call when this one asks with the same conditionings and state size. */
  function reusableFeeds(conditionings: readonly (Conditioning | undefined)[], x: Tensor): StackedFeeds | undefined {
    if (!names.context) return NO_CONTEXT;
    const last = lastFeeds;
    const rank = x.shape.length;
    if (!last || last.batch !== x.shape[0] || last.height !== x.shape[rank - 2] || last.width !== x.shape[rank - 1] || last.conditionings.length !== conditionings.length) return undefined;
    for (let i = 0; i < conditionings.length; i++) if (last.conditionings[i] !== conditionings[i]) return undefined;
    return last.feeds;
  }

  async function stackFeeds(conditionings: readonly (Conditioning | undefined)[], x: Tensor): Promise<StackedFeeds> {
    const batch = x.shape[0];
    const height = x.shape[x.shape.length - 2], width = x.shape[x.shape.length - 1];
    const scale = o.outputScale ?? 8;
    const borrowed = conditionings.find((c) => c?.sizes !== undefined)?.sizes as SizeConditioning | undefined;
    const each = await Promise.all(conditionings.map((c) => feedsFor(c, batch, [height * scale, width * scale], borrowed)));
    const tensors = Object.fromEntries(Object.keys(each[0]).map((name) => [name, concatBatch(each.map((f) => f[name]), `${o.name}: conditionings' '${name}'`)]));
    const feeds: StackedFeeds = { tensors };
    lastFeeds = { conditionings: [...conditionings], batch, height, width, feeds };
    return feeds;
  }

  async function predictX0Many(x: Tensor, t: number, conditionings: readonly (Conditioning | undefined)[]): Promise<Tensor[]> {
    checkState(x);
    const k = conditionings.length;
    if (k === 0) return [];
    const states = k === 1 ? x : repeatBatch(x, k);
    const feeds = reusableFeeds(conditionings, x) ?? (await stackFeeds(conditionings, x));
    const out = await evaluate(states, feeds, t);
    const alpha = schedule.alpha(t), sigma = schedule.sigma(t);
    // In x's dtype, so a float64 state keeps float64 arithmetic in the solver.
    const parts = splitBatch(out, k).map((part) => (x.dtype === 'float64' ? new Tensor(part.shape, Float64Array.from(part.data)) : part));
    return parts.map((part) => x0FromPrediction(o.parameterization, part, x, alpha, sigma));
  }

  return {
    name: o.name,
    schedule,
    sampleShape,
    dtype: 'float32',
    parameterization: o.parameterization,
    unet: session,
    info: o.info ?? {},
    byteSize: 1024,
    predictX0: async (x, t, conditioning) => (await predictX0Many(x, t, [conditioning]))[0],
    predictX0Many,
  };
}
