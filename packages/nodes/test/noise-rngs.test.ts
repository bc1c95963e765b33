/** RandomNoise's rng choices against the tools they reproduce: torch CPU randn (ComfyUI) and torch CUDA's Philox layout (A1111 NV, stable-diffusion.cpp). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor } from '@diffgraph/engine';
import { TorchCpuGenerator } from '../src/noise/torch-cpu.ts';
import { nvRandn } from '../src/noise/philox-nv.ts';
import { seededNoise } from '../src/noise/seeded-noise.ts';
import { keyWords, randomNormal } from '../src/noise/philox.ts';

interface TorchCase { seed: number; shape: number[]; draws: number[][] }
const torchFixture: { torch: string; cases: TorchCase[] } = JSON.parse(
  readFileSync(new URL('./fixtures/torch-randn/randn.json', import.meta.url), 'utf8'),
);
const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Below 16 elements torch computes in doubles with the C library's log/sin/cos, which V8 matches exactly.
 * From 16 on it uses its vectorised float log/sin/cos (SLEEF, 1 ulp) where the CPU has AVX2: a value can
 * differ by one float32 ulp (≤ 4.8e-7 for |x| < 4).
 */
function expectTorchDraw(actual: Float32Array, expected: number[]): void {
  expect(actual.length).toBe(expected.length);
  if (expected.length < 16) {
    expect(Array.from(actual)).toEqual(expected);
    return;
  }
  expected.forEach((value, i) => expect(Math.abs(actual[i] - value)).toBeLessThanOrEqual(1e-6));
}

describe(`rng cpu: torch.manual_seed(s); torch.randn(shape) (fixture from torch ${torchFixture.torch})`, () => {
  for (const { seed, shape, draws } of torchFixture.cases) {
    it(`seed ${seed}, shape [${shape}]: two successive draws`, () => {
      const generator = new TorchCpuGenerator(seed);
      for (const draw of draws) expectTorchDraw(generator.randn(numel(shape)), draw);
    });
  }

  it('skip leaves the generator where a draw would, on both algorithms', () => {
    for (const { seed, shape, draws } of torchFixture.cases.filter((c) => c.seed === 42)) {
      const generator = new TorchCpuGenerator(seed);
      generator.skip(numel(shape));
      expectTorchDraw(generator.randn(numel(shape)), draws[1]);
    }
  });

  it('RandomNoise cpu draws the whole batch in one call; step noise comes from a fresh generator with the same seed', () => {
    const fixture = torchFixture.cases.find((c) => c.seed === 42 && c.shape.join() === '2,4,8,8')!;
    const noise = seededNoise(42, 'cpu');
    const like = Tensor.zeros([2, 4, 8, 8], 'float32');
    const start = noise.sample(like, 0);
    expect(start.shape).toEqual([2, 4, 8, 8]);
    expectTorchDraw(start.data as Float32Array, fixture.draws[0]);
    // Step k (stream k + 1) is draw k of ComfyUI's default noise sampler, seeded anew: stream 1 repeats the start noise.
    expectTorchDraw(noise.sample(like, 1).data as Float32Array, fixture.draws[0]);
    expectTorchDraw(noise.sample(like, 2).data as Float32Array, fixture.draws[1]);
    // Out of order (a second sampler on the same noise) replays from the seed.
    expectTorchDraw(seededNoise(42, 'cpu').sample(like, 2).data as Float32Array, fixture.draws[1]);
    expectTorchDraw(noise.sample(like, 2).data as Float32Array, fixture.draws[1]);
    const wide = noise.sample(Tensor.zeros([2, 4, 8, 8], 'float64'), 0);
    expect(wide.dtype).toBe('float64');
    expect(Array.from(wide.data)).toEqual(Array.from(start.data));
  });

  it('uses the low 32 bits of the seed, as torch.manual_seed does', () => {
    const low = new TorchCpuGenerator(7).randn(20);
    expect(Array.from(new TorchCpuGenerator(4294967296 + 7).randn(20))).toEqual(Array.from(low));
    expect(Array.from(new TorchCpuGenerator(4294967296n + 7n).randn(20))).toEqual(Array.from(low));
  });
});

describe('rng nv: torch CUDA Philox layout (A1111 rng_philox.py)', () => {
  // Values printed by A1111's rng_philox.Generator(seed).randn([5]) (numpy), first and second call. The
  // first calls are also what torch.manual_seed(seed); torch.randn(5, device="cuda") prints for seeds 0 and 42.
  const expected: [bigint, number[][]][] = [
    [0n, [
      [-0.9246624112129211, -0.42534396052360535, -2.643845796585083, 0.14518387615680695, -0.12086650729179382],
      [0.18082588911056519, -0.5522627234458923, 0.9238134026527405, -0.7349703311920166, 1.3799946308135986],
    ]],
    [42n, [
      [0.1940188705921173, 2.1613738536834717, -0.17205095291137695, 0.8490599989891052, -1.9243992567062378],
      [0.13913749158382416, -0.10821615904569626, -0.7174221873283386, 0.7566486597061157, 0.3714882433414459],
    ]],
    [4294967301n, [
      [-2.842747449874878, 1.3404923677444458, 0.272230863571167, 1.4550628662109375, -0.7352960705757141],
      [1.5295939445495605, -0.2153237760066986, 0.05125512555241585, 1.5882172584533691, -0.9465365409851074],
    ]],
  ];
  for (const [seed, calls] of expected) {
    it(`seed ${seed}: offsets 0 and 1`, () => {
      const [key0, key1] = keyWords(seed);
      calls.forEach((values, offset) => expect(Array.from(nvRandn(5, key0, key1, offset))).toEqual(values));
    });
  }

  it('element 0 of seed 0, offset 0 is the Box–Muller sine of the zero-key KAT block (0x6627e8d5, 0xe169c58d)', () => {
    const u = (0x6627e8d5 + 0.5) * Math.fround(2.3283064e-10);
    const v = (0xe169c58d + 0.5) * Math.fround(2.3283064e-10 * 6.2831855);
    expect(nvRandn(1, 0, 0, 0)[0]).toBe(Math.fround(Math.sqrt(-2 * Math.log(u)) * Math.sin(v)));
  });

  it('RandomNoise nv gives batch item i the generator of seed + i and step k the offset k + 1', () => {
    const noise = seededNoise(42, 'nv');
    const like = Tensor.zeros([2, 5], 'float32');
    const start = noise.sample(like, 0);
    expect(Array.from(start.data.subarray(0, 5))).toEqual(expected[1][1][0]);
    expect(Array.from(start.data.subarray(5))).toEqual(Array.from(nvRandn(5, 43, 0, 0)));
    expect(Array.from(noise.sample(like, 1).data.subarray(0, 5))).toEqual(expected[1][1][1]);
  });
});

describe('rng philox stays the default', () => {
  it('seededNoise(seed) is the per-item Philox noise of randomNormal, stream for stream', () => {
    const like = Tensor.zeros([2, 3], 'float64');
    for (const stream of [0, 3]) {
      expect(Array.from(seededNoise(5).sample(like, stream).data)).toEqual(Array.from(randomNormal([2, 3], 5, 'float64', stream).data));
    }
  });
});
