/**
 * The benchmark's analytic model: a D = 16, K = 5 isotropic Gaussian mixture drawn deterministically from
 * the project's Philox generator, with the recipe of the public refs (packages/nodes/test/data/refs/README.md §1):
 *   weights ~ uniform(0.5, 1.5), normalised, rounded to 6 dp, last weight = 1 − sum(others);
 *   means ~ normal(0, 1.5) per coordinate, rounded to 6 dp; stds ~ uniform(0.1, 0.4), rounded to 6 dp.
 * It is NOT the held-back reference model (that one was drawn by numpy); it only has the same shape.
 */
import { philox4x32, randomNormal } from '../packages/nodes/src/noise/philox.ts';
import type { GaussianMixtureParams } from '../packages/nodes/src/models/gmm.ts';

export const MODEL_SEED = 16_005;
export const D = 16;
export const K = 5;

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

/** n uniforms in [0, 1) from Philox with key = seed, counter (i, 0, stream, 0). */
function uniforms(n: number, seed: number, stream: number): number[] {
  const words = new Uint32Array(4);
  return Array.from({ length: n }, (_, i) => {
    philox4x32(i, 0, stream, 0, seed, 0, words);
    return (words[0] * 2 ** 21 + (words[1] >>> 11)) / 2 ** 53;
  });
}

export interface BenchModel extends GaussianMixtureParams {
  D: number;
  K: number;
  seed: number;
  generation: string;
}

export function benchModel(): BenchModel {
  const raw = uniforms(K, MODEL_SEED, 1).map((u) => 0.5 + u);
  const total = raw.reduce((a, b) => a + b, 0);
  const weights = raw.slice(0, K - 1).map((w) => round6(w / total));
  weights.push(round6(1 - weights.reduce((a, b) => a + b, 0)));
  const normals = randomNormal([K, D], MODEL_SEED, 'float64', 2).data;
  const means = Array.from({ length: K }, (_, k) => Array.from({ length: D }, (_, d) => round6(1.5 * normals[k * D + d])));
  const stds = uniforms(K, MODEL_SEED, 3).map((u) => round6(0.1 + 0.3 * u));
  return {
    D, K, seed: MODEL_SEED, weights, means, stds,
    generation:
      'Philox4x32 (packages/nodes/src/noise/philox.ts), key = seed: weights = 0.5 + uniform (stream 1), normalised, ' +
      'rounded 6 dp, last = 1 − sum(others); means = 1.5·randomNormal([K, D], seed, float64, stream 2), rounded 6 dp; ' +
      'stds = 0.1 + 0.3·uniform (stream 3), rounded 6 dp. The stored values are the definition.',
  };
}
