import { describe, expect, it } from 'vitest';
import { maxAbsDiff, Tensor } from '@diffgraph/engine';
import { GaussianMixture } from '../src/models/gmm.ts';
import { FlowSchedule, makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { PARAMETERIZATIONS, predictionFromX0, wrapPrediction } from '../src/contracts/parameterization.ts';
import { randomNormal } from '../src/noise/philox.ts';

const gmm = new GaussianMixture({ weights: [0.6, 0.4], means: [[1, -1, 0.5], [-2, 0.5, 1]], stds: [0.3, 0.5] });
const x = randomNormal([16, 3], 5, 'float64');

describe('denoiser wrappers', () => {
  it('an eps model wrapped as x0 equals the exact x0 (VP schedule)', async () => {
    const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
    const denoise = wrapPrediction('eps', schedule, async (v, t) => gmm.epsAt(v, schedule, t));
    for (const t of [0.9, 0.3, 0.01]) {
      expect(maxAbsDiff(await denoise(x, t), gmm.x0At(x, schedule, t))).toBeLessThan(1e-12);
    }
  });

  it.each(PARAMETERIZATIONS)('%s: prediction → x0 inverts x0 → prediction on VP and flow schedules', async (kind) => {
    for (const schedule of [makeNoiseSchedule({ kind: 'linear_vp' }), new FlowSchedule()]) {
      for (const t of [0.95, 0.5, 0.05]) {
        const exact = gmm.x0At(x, schedule, t);
        const prediction = predictionFromX0(kind, exact, x, schedule.alpha(t), schedule.sigma(t));
        const x0 = await wrapPrediction(kind, schedule, async () => prediction)(x, t);
        expect(maxAbsDiff(x0, exact)).toBeLessThan(1e-11);
      }
    }
  });

  it('the flow velocity is eps − x0, the derivative of x_t = (1 − t)·x0 + t·eps', () => {
    const schedule = new FlowSchedule();
    const x0 = Tensor.from([1, 3], [1, 2, 3], 'float64');
    const eps = Tensor.from([1, 3], [0.5, -1, 0], 'float64');
    const t = 0.4;
    const xt = Tensor.from([1, 3], [0, 1, 2].map((i) => (1 - t) * x0.data[i] + t * eps.data[i]), 'float64');
    const v = predictionFromX0('flow', x0, xt, schedule.alpha(t), schedule.sigma(t));
    expect(Array.from(v.data).map((n) => Number(n.toFixed(12)))).toEqual([-0.5, -3, -3]);
  });
});
