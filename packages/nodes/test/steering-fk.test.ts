/**
 * Feynman–Kac steering on the analytic mixture. The steered target p(x0)·exp(λ·r(x0)) is known in
 * closed form for two rewards:
 * - r = log p(class | x0) (the exact classifier) with λ = 1: p(x0)·p(class | x0) = p(x0, class), the
 *   class-conditional;
 * - r = −½·mean((x0 − c)²) = −‖x0 − c‖²/(2D): component k keeps mass ∝ π_k·N(c; μ_k, (σ_k² + D/λ)·I).
 * As the particles per sample grow, the component masses of the selected samples approach the
 * target (finite-k SMC bias is O(1/k)); best-of-N is the baseline.
 */
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import { basicGuider, buildGrid, createRegistry, sample, seededNoise } from '../src/index.ts';
import { steeredSample, type SteerResult } from '../src/steering/fk-sample.ts';
import type { Potential } from '../src/contracts/potential.ts';
import { effectiveSampleSize, normalizedWeights, stepPotential } from '../src/steering/potentials.ts';
import { multinomial, resampleUniforms } from '../src/steering/resample.ts';
import { brightnessReward, classifierReward, colorReward, onImages, targetDistanceReward } from '../src/steering/rewards.ts';
import type { Reward } from '../src/contracts/potential.ts';
import { mixtureClassifier } from '../src/guiders/mixture-classifier.ts';
import { parseTarget } from '../src/guiders/classifier.ts';
import { makeSolver } from '../src/solvers/catalog.ts';
import { ancestralSolver, componentMasses, ddpmSolver, gmm, MIXTURE, model, schedule } from './guiders-toy.ts';
import { isolatedServices } from './services.ts';

const grid = buildGrid(schedule, { spacing: 'logSNR', steps: 20, denoise: 1, rho: 7 });
const tEnd = grid.times.at(-1)!;
const classifier = mixtureClassifier(gmm, schedule, [[0], [1, 2]]);
const classReward = classifierReward(classifier, parseTarget(classifier, 1, 'test'));
const C = [0.5, 0];
const LAMBDA_DIST = 4;

function potential(reward: Reward, o: Partial<Potential> = {}): Potential {
  return { reward, method: 'fk', kind: 'diff', lambda: 1, particles: 4, resampleStart: 0, resampleEvery: 1, resampleEnd: -1, essThreshold: 1, selection: 'weighted', seed: 3, ...o };
}

function steer(p: Potential, groups: number, seed = 5, solver = ancestralSolver) {
  return steeredSample({ guider: basicGuider(model), solver, grid, latent: Tensor.zeros([groups, 2], 'float64'), noise: seededNoise(seed), addNoise: true, startScale: 'unit', potential: p });
}

/** Masses of the quadratic tilt in closed form (see the file comment). */
function tiltedMasses(c: readonly number[], lambda: number): number[] {
  const D = c.length;
  const m = MIXTURE.weights.map((w, k) => {
    const v = MIXTURE.stds[k] ** 2 + D / lambda;
    const d2 = MIXTURE.means[k].reduce((s, mu, i) => s + (mu - c[i]) ** 2, 0);
    return (w * Math.exp(-d2 / (2 * v))) / v ** (D / 2);
  });
  const z = m.reduce((a, b) => a + b, 0);
  return m.map((v) => v / z);
}

/**
 * The SMC estimate of the target's masses from all final particles, weighted by their normalized final
 * weights within each group: far less variance than one selected sample per group.
 */
async function weightedMasses(out: SteerResult, k: number): Promise<number[]> {
  const groups = out.particles.batch / k;
  const { logits } = await mixtureClassifier(gmm, schedule).logitsAndGrad(out.particles, tEnd);
  const m = [0, 0, 0];
  for (let g = 0; g < groups; g++) {
    const w = normalizedWeights(out.logWeights, g * k, k);
    for (let j = 0; j < k; j++) for (let c = 0; c < 3; c++) m[c] += (w[j] * Math.exp(logits.data[(g * k + j) * 3 + c])) / groups;
  }
  return m;
}

const tv = (a: number[], b: number[]) => a.reduce((s, v, k) => s + Math.abs(v - b[k]), 0) / 2;

describe('potentials, ESS and seeded resampling', () => {
  it('diff telescopes to λ·r_last; max carries the running maximum; sum the running sum', () => {
    const rs = [[-3], [-1], [-2], [0.5]].map((r) => Float64Array.from(r));
    for (const kind of ['diff', 'max', 'sum'] as const) {
      let carried: Float64Array = new Float64Array([kind === 'max' ? -Infinity : 0]);
      let total = 0;
      for (const r of rs) {
        const s = stepPotential(kind, 2, r, carried);
        total += s.logG[0];
        carried = s.carried;
      }
      if (kind === 'diff') expect(total).toBeCloseTo(2 * 0.5, 12);
      if (kind === 'max') expect(carried[0]).toBe(0.5);
      if (kind === 'sum') expect(carried[0]).toBeCloseTo(-5.5, 12);
    }
  });

  it('ESS is k for equal weights and 1 for a single survivor; NaN weighs nothing, all −∞ falls back to uniform', () => {
    expect(effectiveSampleSize(normalizedWeights(new Float64Array(8), 0, 8))).toBeCloseTo(8, 12);
    expect(effectiveSampleSize(normalizedWeights(Float64Array.from([0, -Infinity, -Infinity]), 0, 3))).toBe(1);
    expect(Array.from(normalizedWeights(Float64Array.from([NaN, 0]), 0, 2))).toEqual([0, 1]);
    expect(Array.from(normalizedWeights(Float64Array.from([-Infinity, -Infinity]), 0, 2))).toEqual([0.5, 0.5]);
  });

  it('multinomial counts have expectation n·w (chi-square over 20 000 draws) and are reproducible per seed/group/event', () => {
    const w = Float64Array.from([0.1, 0.0, 0.45, 0.2, 0.25]);
    const n = 20000;
    const draws = multinomial(w, resampleUniforms(7, 0, 0, n));
    const counts = new Array(5).fill(0);
    for (const d of draws) counts[d]++;
    expect(counts[1]).toBe(0);
    const chi2 = counts.reduce((s, c, i) => (w[i] > 0 ? s + (c - n * w[i]) ** 2 / (n * w[i]) : s), 0);
    expect(chi2).toBeLessThan(18.5); // 3 degrees of freedom, p ≈ 3e-4
    expect(Array.from(resampleUniforms(7, 0, 0, 6))).toEqual(Array.from(resampleUniforms(7, 0, 0, 6)));
    expect(Array.from(resampleUniforms(7, 1, 0, 6))).not.toEqual(Array.from(resampleUniforms(7, 0, 0, 6)));
    expect(Array.from(resampleUniforms(7, 0, 1, 6))).not.toEqual(Array.from(resampleUniforms(7, 0, 0, 6)));
  });
});

describe('the steering driver', () => {
  it('one particle and no resampling is exactly the plain DDIM(eta = 1) run', async () => {
    const plain = await sample({ guider: basicGuider(model), solver: ddpmSolver, grid, latent: Tensor.zeros([64, 2], 'float64'), noise: seededNoise(5), addNoise: true, startScale: 'unit' });
    const steered = await steer(potential(classReward, { particles: 1, method: 'best_of_n' }), 64, 5, ddpmSolver);
    expect(Array.from(steered.samples.data)).toEqual(Array.from(plain.samples.data));
  });

  it('refuses the consistency solver, which cannot be run one interval at a time', async () => {
    const consistency = { kind: 'consistency', solve: makeSolver('consistency', { order: 1, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1, boundary: 'none' }) };
    await expect(steer(potential(classReward), 4, 5, consistency as never)).rejects.toThrow(/SteeredSample: input "solver" \("consistency"\) runs whole grids only/);
  });

  it('is reproducible: the same seeds give the same samples, another resampling seed others', async () => {
    const p = potential(classReward, { particles: 8 });
    const a = await steer(p, 16);
    const b = await steer(p, 16);
    const c = await steer({ ...p, seed: 4 }, 16);
    expect(Array.from(a.samples.data)).toEqual(Array.from(b.samples.data));
    expect(Array.from(a.samples.data)).not.toEqual(Array.from(c.samples.data));
    expect(a.particles.shape).toEqual([128, 2]);
    expect(a.trace).toHaveLength(20);
  });

  it('adaptive resampling only resamples groups whose ESS fell below the threshold', async () => {
    const out = await steer(potential(classReward, { particles: 8, essThreshold: 0.5 }), 32);
    for (const e of out.trace) expect(e.resampled).toBe(e.ess.filter((v) => v < 4).length);
    expect(out.trace.some((e) => e.resampled > 0 && e.resampled < 32)).toBe(true);
  });

  /** Runs FK for k = 1, 4, 16, 64 and prints the masses of the selected samples and of the weighted particles. */
  async function table(reward: Reward, lambda: number, exact: number[], title: string) {
    const rows: string[] = [];
    const selected: number[][] = [];
    const weighted: number[][] = [];
    for (const k of [1, 4, 16, 64]) {
      const out = await steer(potential(reward, { particles: k, lambda }), 400);
      selected.push(await componentMasses(gmm, out.samples, tEnd));
      weighted.push(await weightedMasses(out, k));
      const fmt = (m: number[]) => `${m.map((v) => v.toFixed(3)).join('  ')}  TV ${tv(m, exact).toFixed(3)}`;
      rows.push(`  k=${String(k).padStart(2)}  selected: ${fmt(selected.at(-1)!)}   weighted particles: ${fmt(weighted.at(-1)!)}`);
    }
    console.log(`${title}, 400 samples; exact ${exact.map((v) => v.toFixed(3)).join('  ')}\n${rows.join('\n')}`);
    return { selected: selected.map((m) => tv(m, exact)), weighted: weighted.map((m) => tv(m, exact)), masses: selected };
  }

  it('class reward, λ = 1: masses approach the exact class-conditional as particles grow', async () => {
    const { selected, weighted } = await table(classReward, 1, [0, 0.6, 0.4], 'FK (diff), r = log p(class 1+2 | x0), λ = 1');
    expect(selected[0]).toBeGreaterThan(0.4); // k = 1 is the unsteered mixture (TV 0.5)
    // One selected sample per group: 4·SE ≈ 0.1 per mass at n = 400; the bias at k = 64 is ≈ 0.01.
    expect(selected[3]).toBeLessThan(0.06);
    expect(weighted[3]).toBeLessThan(0.03);
    expect(weighted[3]).toBeLessThan(weighted[1]);
  });

  it('target-distance reward: masses approach the closed-form tilted mixture; best-of-N does not', async () => {
    const exact = tiltedMasses(C, LAMBDA_DIST);
    const { selected, weighted, masses } = await table(targetDistanceReward(C), LAMBDA_DIST, exact, 'FK (diff), r = −|x0 − (0.5, 0)|²/4, λ = 4');
    const best = await steer(potential(targetDistanceReward(C), { particles: 16, method: 'best_of_n' }), 400);
    const mb = await componentMasses(gmm, best.samples, tEnd);
    console.log(`  best-of-16: ${mb.map((v) => v.toFixed(3)).join('  ')}  TV ${tv(mb, exact).toFixed(3)}`);
    expect(selected[0]).toBeGreaterThan(0.3);
    // The sampler's own law, tilted, is ≈ 0.015 (TV) from the exact tilt (see guiders-toy.ts).
    expect(selected[3]).toBeLessThan(0.08);
    expect(weighted[3]).toBeLessThan(0.05);
    expect(weighted[3]).toBeLessThan(weighted[1]);
    // The argmax is not the tilt: it drops component 0, which keeps ≈ 9 % of the tilted mass (FK keeps it).
    expect(mb[0]).toBeLessThan(0.02);
    expect(Math.abs(masses[3][0] - exact[0])).toBeLessThan(0.05);
  });

  it('max, sum and rt potentials with the final correction also target the tilt (coarser at small k)', async () => {
    const exact = [0, 0.6, 0.4];
    const rows: string[] = [];
    for (const kind of ['max', 'sum', 'rt'] as const) {
      const out = await steer(potential(classReward, { particles: 32, kind, resampleEvery: 5 }), 300);
      const m = await componentMasses(gmm, out.samples, tEnd);
      rows.push(`  ${kind.padEnd(3)} k=32, every 5 steps: ${m.map((v) => v.toFixed(3)).join('  ')}   TV ${tv(m, exact).toFixed(3)}`);
      expect(m[0]).toBeLessThan(0.05);
    }
    console.log(`FK, r = log p(class 1+2 | x0), λ = 1, 300 samples; exact ${exact.join('  ')}\n${rows.join('\n')}`);
  });
});

describe('image rewards', () => {
  const image = Tensor.from([2, 3, 1, 2], [1, 1, 0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);

  it('brightness is mean luminance; colour is minus the mean squared RGB distance', async () => {
    const b = await brightnessReward.evaluate(image);
    expect(b[0]).toBeCloseTo(0.2126, 6);
    expect(b[1]).toBeCloseTo(0.5, 6);
    const c = await colorReward([1, 0, 0]).evaluate(image);
    expect(c[0]).toBeCloseTo(0, 6);
    expect(c[1]).toBeCloseTo(-0.75, 6);
    expect(() => colorReward([2, 0, 0])).toThrow(/\[r, g, b\] in \[0, 1\]/);
  });

  it('decode with a VAE when given; otherwise pixels in [−1, 1]; a latent without a VAE is refused', async () => {
    const decoded: Tensor[] = [];
    const vae = { decode: async (z: Tensor) => (decoded.push(z), image) };
    expect(Array.from(await onImages(brightnessReward, vae).evaluate(Tensor.zeros([2, 4, 1, 1])))).toHaveLength(2);
    expect(decoded).toHaveLength(1);
    const pixels = Tensor.from([1, 3, 1, 1], [1, 1, 1]);
    expect((await onImages(brightnessReward).evaluate(pixels))[0]).toBeCloseTo(1, 6);
    await expect(onImages(brightnessReward).evaluate(Tensor.zeros([1, 4, 8, 8]))).rejects.toThrow(/connect the model's VAE/);
  });
});

describe('RewardPotential + SteeredSample nodes', () => {
  it('run through the executor: one sample per latent item, k particles each, their rewards', async () => {
    const link = (from: string, output: string) => ({ from, output });
    const workflow: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        model: { type: 'GaussianMixtureModel', inputs: { mixture: MIXTURE, schedule: 'linear_vp' } },
        classifier: { type: 'MixtureClassifier', inputs: { model: link('model', 'model'), classes: [[0], [1, 2]] } },
        potential: { type: 'RewardPotential', inputs: { classifier: link('classifier', 'classifier'), target: '1+2', lambda: 1, potential: 'diff', particles: 8 } },
        schedule: { type: 'Schedule', inputs: { model: link('model', 'model'), steps: 10 } },
        solver: { type: 'Solver', inputs: { kind: 'ddim', eta: 1 } },
        guider: { type: 'BasicGuider', inputs: { model: link('model', 'model') } },
        noise: { type: 'RandomNoise', inputs: { seed: 1 } },
        latent: { type: 'EmptyLatent', inputs: { batch: 6, model: link('model', 'model') } },
        steer: {
          type: 'SteeredSample',
          inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('schedule', 'sigmas'), latent: link('latent', 'latent'), potential: link('potential', 'potential') },
        },
      },
      outputs: ['steer'],
    };
    const result = await new Executor(createRegistry()).run(workflow, { services: isolatedServices() });
    const r = result.outputs.steer;
    if (r.status !== 'succeeded') throw new Error(JSON.stringify(r));
    expect((r.values.samples as Tensor).shape).toEqual([6, 2]);
    expect((r.values.particles as Tensor).shape).toEqual([48, 2]);
    expect((r.values.rewards as Tensor).shape).toEqual([48]);
  });
});
