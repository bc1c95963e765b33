/**
 * A UNet-style ONNX network as a DiffusionModel (contracts.ts): (sample, timestep, context) → output,
 * converted to x0 by the parameterization. Everything that real exports vary in is read from the
 * session: the element type of the float inputs and output (float32, or float16 as fp16 exports have
 * it: converted at the boundary, so the samplers stay in float32/float64), the timestep's dtype
 * (int64, float32 or float16) and rank (scalar, [1] or [B]), a fixed batch size, the sample shape.
 * predictX0Many stacks all conditionings along the batch into ONE session run.
 */
import { Tensor } from '@diffgraph/engine';
import * as ort from 'onnxruntime-node';
import { formatShape, type IoContract } from '../../runtime/io-contract.ts';
import type { OnnxSession } from '../../runtime/onnx-session.ts';
import { broadcastBatch, concatBatch, floatTensor, FLOAT_IO_DTYPES, fromOrt, splitBatch } from '../../runtime/ort-tensors.ts';
import type { Conditioning, DiffusionModel, NoiseSchedule } from '../../sampling/contracts.ts';
import { x0FromPrediction, type Parameterization } from '../../sampling/parameterization.ts';

/** The model's IO names (diffusers' by default; a sidecar may rename them or drop the context). */
export interface UnetIoNames {
  sample: string;
  timestep: string;
  /** null: an unconditional network with no text input. */
  context: string | null;
  output: string;
}

export const DIFFUSERS_UNET_NAMES: UnetIoNames = { sample: 'sample', timestep: 'timestep', context: 'encoder_hidden_states', output: 'out_sample' };

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
  /** The embedding used when a call has no conditioning (a pipeline encodes the empty prompt). */
  unconditional?: () => Promise<Tensor>;
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

function contextOf(conditioning: Conditioning | undefined): Tensor | undefined {
  if (conditioning === undefined) return undefined;
  const e = conditioning.embeddings;
  if (!(e instanceof Tensor) || e.shape.length !== 3) {
    throw new Error('the conditioning has no "embeddings" tensor [batch, sequence, width]: make it with TextEncode from this model\'s text encoder');
  }
  return e;
}

export function createUnetModel(o: UnetModelOptions): OnnxDiffusionModel {
  const names = o.names ?? DIFFUSERS_UNET_NAMES;
  const { session, schedule } = o;
  session.check(unetContract(names, o.sampleRank ?? null), 'UNet');
  const sampleShape = sampleShapeOf(session, o, names);
  const timestepDecl = session.input(names.timestep);
  const batchDecl = session.input(names.sample).shape[0];
  const contextDecl = names.context ? session.input(names.context).shape : undefined;

  async function contextFor(c: Conditioning | undefined, batch: number): Promise<Tensor> {
    let e = contextOf(c);
    if (!e) {
      if (!o.unconditional) throw new Error(`${o.name}: the model needs a conditioning (its '${names.context}' input); link one from TextEncode`);
      e = await o.unconditional();
    }
    contextDecl!.forEach((d, axis) => {
      if (axis > 0 && typeof d === 'number' && d !== e!.shape[axis]) {
        throw new Error(`${session.file}: input '${names.context}' expects ${formatShape(contextDecl!)}, the conditioning is [${e!.shape.join(', ')}]: was it encoded by this model's text encoder?`);
      }
    });
    return broadcastBatch(e, batch, `${o.name}: conditioning`);
  }

  function timestepTensor(t: number, batch: number): ort.Tensor {
    const value = schedule.modelTime(t);
    const dims = timestepDecl.shape.length === 0 ? [] : [timestepDecl.shape[0] === 1 ? 1 : batch];
    const count = dims.length === 0 ? 1 : dims[0];
    if (timestepDecl.dtype === 'int64') return new ort.Tensor('int64', new BigInt64Array(count).fill(BigInt(Math.round(value))), dims);
    return floatTensor(new Float32Array(count).fill(value), dims, timestepDecl.dtype);
  }

  /** One network evaluation of a stacked batch (split only if the export fixes a smaller batch). */
  async function evaluate(x: Tensor, context: Tensor | undefined, t: number): Promise<Tensor> {
    const total = x.shape[0];
    const chunk = typeof batchDecl === 'number' ? batchDecl : total;
    if (total % chunk !== 0) throw new Error(`${session.file}: input '${names.sample}' has a fixed batch of ${chunk}; cannot run a batch of ${total}`);
    const outs: Tensor[] = [];
    const xs = chunk === total ? [x] : splitBatch(x, total / chunk);
    const cs = context && chunk !== total ? splitBatch(context, total / chunk) : [context];
    for (let i = 0; i < xs.length; i++) {
      const feeds: Record<string, ort.Tensor> = { [names.sample]: session.feed(names.sample, xs[i]), [names.timestep]: timestepTensor(t, chunk) };
      if (names.context) feeds[names.context] = session.feed(names.context, cs[i]!);
      const out = await session.run(feeds, [names.output]);
      outs.push(fromOrt(out[names.output], session.file, names.output));
    }
    return outs.length === 1 ? outs[0] : concatBatch(outs, o.name);
  }

  function checkState(x: Tensor): void {
    const item = x.shape.slice(1);
    if (item.length !== sampleShape.length || item.some((d, i) => typeof session.input(names.sample).shape[i + 1] === 'number' && d !== sampleShape[i])) {
      throw new Error(`${o.name}: state [${x.shape.join(', ')}] does not fit input '${names.sample}' ${formatShape(session.input(names.sample).shape)} of ${session.file}`);
    }
  }

  // A sampler asks with the same conditionings at every step: build their stacked context once.
  let lastContext: { conditionings: readonly (Conditioning | undefined)[]; batch: number; tensor: Tensor } | undefined;
  async function stackedContext(conditionings: readonly (Conditioning | undefined)[], batch: number): Promise<Tensor> {
    const same = lastContext && lastContext.batch === batch && lastContext.conditionings.length === conditionings.length
      && lastContext.conditionings.every((c, i) => c === conditionings[i]);
    if (!same) {
      const tensor = concatBatch(await Promise.all(conditionings.map((c) => contextFor(c, batch))), `${o.name}: conditionings`);
      lastContext = { conditionings: [...conditionings], batch, tensor };
    }
    return lastContext!.tensor;
  }

  async function predictX0Many(x: Tensor, t: number, conditionings: readonly (Conditioning | undefined)[]): Promise<Tensor[]> {
    checkState(x);
    const k = conditionings.length;
    if (k === 0) return [];
    const batch = x.shape[0];
    const states = k === 1 ? x : concatBatch(Array.from({ length: k }, () => x), o.name);
    const context = names.context ? await stackedContext(conditionings, batch) : undefined;
    const out = await evaluate(states, context, t);
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
