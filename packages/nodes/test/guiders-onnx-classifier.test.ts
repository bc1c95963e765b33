/**
 * The CLASSIFIER adapter on the shipped noisy-latent classifier (models/shapes-32/classifier/grad.onnx:
 * sample [B,4,8,8], timestep [B], weights [B,19] → logits, grad), run through onnxruntime directly
 * (the model store's loader is not needed for the adapter). Checks that the adapter feeds the network
 * right and that EluCD-calibrated weights give the gradient of the calibrated log-probability.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { Tensor } from '@diffgraph/engine';
import { headsFromConfig, onnxClassifier, type TensorRunner } from '../src/guiders/onnx-classifier.ts';
import { calibratedWeights, labelLogProbs, parseTarget } from '../src/guiders/classifier.ts';
import { fromOrt, toOrt } from '../src/runtime/ort-tensors.ts';
import { makeNoiseSchedule } from '../src/schedules/noise-schedules.ts';
import { randomNormal } from '../src/noise/philox.ts';

const dir = fileURLToPath(new URL('../../../models/shapes-32/classifier/', import.meta.url));

// The pack is committed: a missing grad.onnx fails the suite rather than skipping.
describe('onnxClassifier on shapes-32 grad.onnx', async () => {
  const session = await ort.InferenceSession.create(`${dir}grad.onnx`);
  const timesteps: number[][] = [];
  const run: TensorRunner = async (feeds, fetch) => {
    timesteps.push(Array.from(feeds.timestep.data));
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(v)])), [...fetch]);
    return Object.fromEntries(fetch.map((k) => [k, fromOrt(out[k], 'grad.onnx', k)]));
  };
  const config = JSON.parse(readFileSync(`${dir}config.json`, 'utf8'));
  const { numLogits, heads } = headsFromConfig(config, 'config.json');
  const schedule = makeNoiseSchedule({ kind: 'discrete', betaSchedule: 'scaled_linear' });
  const classifier = onnxClassifier({ name: 'shapes-32 classifier', run, schedule, numLogits, heads });
  const x = randomNormal([3, 4, 8, 8], 17, 'float64');
  const t = 0.5;

  it('feeds the network its timestep (1000·t − 1, clamped at 0) and returns logits and a gradient like the state', async () => {
    const { logits, grad } = await classifier.logitsAndGrad(x, t, Tensor.zeros([3, numLogits]));
    expect(logits.shape).toEqual([3, 19]);
    expect(grad!.shape).toEqual([3, 4, 8, 8]);
    expect(grad!.dtype).toBe('float64');
    expect(timesteps.at(-1)).toEqual([499, 499, 499]);
    await classifier.logitsAndGrad(x, 0);
    expect(timesteps.at(-1)).toEqual([0, 0, 0]);
    await expect(classifier.logitsAndGrad(x, t, Tensor.zeros([3, 5]))).rejects.toThrow(/weights must be \[3, 19\]/);
  });

  it('calibrated weights give the directional derivative of τ_joint·log p_y − log Σ p^τ_marg', async () => {
    const choices = parseTarget(classifier, { shape: 'circle', colour: 'red' }, 'test');
    const [tj, tm] = [1, 0.5];
    const objective = async (v: Tensor) => {
      const { logits } = await classifier.logitsAndGrad(v, t);
      const logp = labelLogProbs(logits, choices);
      return Float64Array.from(logp, (lp, b) => {
        let marg = 0;
        for (const { head } of choices) {
          // log Σ_k p_k^τ per head, with p the head's softmax.
          const row = Array.from({ length: head.size }, (_, j) => logits.data[b * numLogits + head.offset + j]);
          const m = Math.max(...row);
          const lse = m + Math.log(row.reduce((s, l) => s + Math.exp(l - m), 0));
          marg += Math.log(row.reduce((s, l) => s + Math.exp(tm * (l - lse)), 0));
        }
        return tj * lp - marg;
      });
    };
    const { logits } = await classifier.logitsAndGrad(x, t);
    const { grad } = await classifier.logitsAndGrad(x, t, calibratedWeights(classifier, choices, 3, tj, tm, logits));
    const dir = randomNormal([3, 4, 8, 8], 99, 'float64');
    const h = 1e-2;
    const shifted = (s: number) => new Tensor(x.shape, x.data.map((v, i) => v + s * dir.data[i]));
    const [up, down] = [await objective(shifted(h)), await objective(shifted(-h))];
    for (let b = 0; b < 3; b++) {
      let analytic = 0;
      for (let j = b * 256; j < (b + 1) * 256; j++) analytic += grad!.data[j] * dir.data[j];
      const numeric = (up[b] - down[b]) / (2 * h);
      console.log(`grad.onnx directional derivative, item ${b}: adapter ${analytic.toFixed(5)}, central difference ${numeric.toFixed(5)}`);
      expect(Math.abs(numeric)).toBeGreaterThan(1e-3);
      expect(Math.abs(analytic - numeric)).toBeLessThan(0.005 * Math.abs(numeric) + 1e-4);
    }
  });
});
