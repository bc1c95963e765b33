/**
 * What every multi-condition guider shares: the x0 predictions of one batch of states under several
 * conditionings, fetched in ONE model call per step (DESIGN §5), and their linear combination.
 */
import { combine, type Tensor } from '@diffgraph/engine';
import type { Conditioning, DiffusionModel } from '../contracts/sampling.ts';

/**
 * x0 under each conditioning, through `predictX0Many` when the model batches (one network run), else
 * one call per conditioning (still correct, just slower). Result i belongs to conditionings[i].
 */
export async function predictAll(model: DiffusionModel, x: Tensor, t: number, conditionings: readonly (Conditioning | undefined)[]): Promise<Tensor[]> {
  if (!model.predictX0Many) {
    const out: Tensor[] = [];
    for (const c of conditionings) out.push(await model.predictX0(x, t, c));
    return out;
  }
  const out = await model.predictX0Many(x, t, conditionings);
  if (out.length !== conditionings.length) {
    throw new Error(`${model.name}: predictX0Many returned ${out.length} predictions for ${conditionings.length} conditionings`);
  }
  return out;
}

/**
 * x0_∅ + Σ_i w_i·(x0_i − x0_∅). The coefficients sum to one, so in eps or score terms it is the same
 * combination (the conversions are affine in x0 with the state's part unchanged): CFG is one term,
 * composable guidance several, AND with w > 0, NOT with w < 0.
 */
export function composeX0(uncond: Tensor, conds: readonly Tensor[], weights: readonly number[]): Tensor {
  if (conds.length !== weights.length) throw new Error(`composeX0: ${conds.length} predictions but ${weights.length} weights`);
  const rest = weights.reduce((a, b) => a + b, 0);
  return combine([1 - rest, ...weights], [uncond, ...conds]);
}

/** Per-item L2 norms of a − b (or of a alone), in double precision. */
export function itemNorms(a: Tensor, b?: Tensor): Float64Array {
  const batch = a.batch;
  const per = a.size / batch;
  const out = new Float64Array(batch);
  for (let i = 0; i < batch; i++) {
    let s = 0;
    for (let j = i * per; j < (i + 1) * per; j++) {
      const v = b ? a.data[j] - b.data[j] : a.data[j];
      s += v * v;
    }
    out[i] = Math.sqrt(s);
  }
  return out;
}
