/**
 * Classifier guidance on the analytic mixture, whose noisy classifier p(class | x_t) and its gradient
 * are exact: with scale 1 the guided prediction IS the class-conditional one (Bayes), so sampling
 * gives the exact class-conditional. Also EluCD's calibration, Guide-and-Rescale's norm band and
 * PPAP-style switching by noise range.
 */
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, maxAbsDiff, validateWorkflow, type Workflow } from '@diffgraph/engine';
import { basicGuider, createRegistry } from '../src/index.ts';
import type { Guider } from '../src/contracts/sampling.ts';
import { cfgGuider } from '../src/guiders/cfg-guider.ts';
import { mixtureClassifier, classPartition } from '../src/guiders/mixture-classifier.ts';
import { calibratedWeights, labelLogProbs, parseTarget, type Classifier } from '../src/guiders/classifier.ts';
import { classifierGuider, classifierShift, type ClassifierGuidance } from '../src/guiders/classifier-guider.ts';
import { bandFactors, guideAndRescale } from '../src/guiders/guide-and-rescale.ts';
import { itemNorms } from '../src/guiders/batch.ts';
import { switchGuider } from '../src/guiders/switch.ts';
import { randomNormal } from '../src/noise/philox.ts';
import { componentMasses, componentMeans, draw, gmm, MIXTURE, model, schedule, se } from './guiders-toy.ts';
import { isolatedServices } from './services.ts';

const N = 2000;
/** Two classes: component 0, and components 1 + 2. */
const classifier = mixtureClassifier(gmm, schedule, [[0], [1, 2]]);
const guidance = (o: Partial<ClassifierGuidance> = {}): ClassifierGuidance => ({
  classifier, choices: parseTarget(classifier, 1, 'test'), scale: 1, tauJoint: 1, tauMarginal: 1, input: 'x_t', ...o,
});

/** Central differences of f along every coordinate of x. */
async function numericGrad(f: (x: Tensor) => Promise<Float64Array>, x: Tensor, h = 1e-5): Promise<Tensor> {
  const g = x.zerosLike();
  const per = x.size / x.batch;
  for (let j = 0; j < per; j++) {
    const up = x.clone(), down = x.clone();
    for (let b = 0; b < x.batch; b++) {
      up.data[b * per + j] += h;
      down.data[b * per + j] -= h;
    }
    const [fu, fd] = [await f(up), await f(down)];
    for (let b = 0; b < x.batch; b++) g.data[b * per + j] = (fu[b] - fd[b]) / (2 * h);
  }
  return g;
}

describe('the exact mixture classifier', () => {
  const x = randomNormal([12, 2], 4, 'float64');

  it('logits are log p(class | x_t): the class sums of the posterior responsibilities', async () => {
    const t = 0.3;
    const { logits } = await classifier.logitsAndGrad(x, t);
    const masses = mixtureClassifier(gmm, schedule);
    const { logits: per } = await masses.logitsAndGrad(x, t);
    for (let b = 0; b < x.batch; b++) {
      expect(Math.exp(logits.data[2 * b])).toBeCloseTo(Math.exp(per.data[3 * b]), 12);
      expect(Math.exp(logits.data[2 * b + 1])).toBeCloseTo(Math.exp(per.data[3 * b + 1]) + Math.exp(per.data[3 * b + 2]), 12);
    }
  });

  it('its gradient for any weights matches central differences of Σ w·log p', async () => {
    const t = 0.45;
    const w = Tensor.from([12, 2], Array.from({ length: 24 }, (_, i) => Math.sin(i + 1)), 'float64');
    const { grad } = await classifier.logitsAndGrad(x, t, w);
    const fd = await numericGrad(async (v) => {
      const { logits } = await classifier.logitsAndGrad(v, t);
      return Float64Array.from({ length: v.batch }, (_, b) => w.data[2 * b] * logits.data[2 * b] + w.data[2 * b + 1] * logits.data[2 * b + 1]);
    }, x);
    expect(maxAbsDiff(grad!, fd)).toBeLessThan(1e-6);
  });

  it('classes must partition the components', () => {
    expect(() => classPartition(3, [[0], [1]])).toThrow(/missing 2/);
    expect(() => classPartition(3, [[0, 1], [1, 2]])).toThrow(/two classes/);
    expect(() => classPartition(3, [[0, 1, 2], [3]])).toThrow(/no component 3/);
  });
});

describe('ClassifierGuider', () => {
  it('scale 1 with the exact noisy classifier gives exactly the class-conditional x0-prediction', async () => {
    const g = classifierGuider(basicGuider(model), guidance());
    const x = randomNormal([64, 2], 8, 'float64');
    for (const t of [0.95, 0.6, 0.2, 0.02]) {
      const guided = await g.denoise(x, t);
      const conditional = await model.predictX0(x, t, { components: [1, 2] });
      expect(maxAbsDiff(guided, conditional)).toBeLessThan(1e-9);
    }
  });

  it('…and so samples the class-conditional (masses and means, N = 2000)', async () => {
    const { x, tEnd } = await draw(classifierGuider(basicGuider(model), guidance()), N);
    const m = await componentMasses(gmm, x, tEnd);
    console.log(`classifier guidance s=1 masses ${m.map((v) => v.toFixed(4))} (exact 0, 0.6, 0.4)`);
    [0, 0.6, 0.4].forEach((p, k) => expect(Math.abs(m[k] - p)).toBeLessThan(4 * se(p, N) + 0.01));
    const means = await componentMeans(gmm, x, tEnd);
    for (const k of [1, 2]) for (let d = 0; d < 2; d++) expect(Math.abs(means[k][d] - MIXTURE.means[k][d])).toBeLessThan(0.05);
  });

  it('EluCD mode (clean classifier on the x0-prediction): off-class mass falls as the scale grows', async () => {
    const off: number[] = [];
    for (const scale of [0, 0.02, 0.1]) {
      const { x, tEnd } = await draw(classifierGuider(basicGuider(model), guidance({ input: 'x0', scale })), 1000);
      off.push((await componentMasses(gmm, x, tEnd))[0]);
    }
    console.log(`EluCD-style guidance, off-class mass at scale 0 / 0.02 / 0.1: ${off.map((v) => v.toFixed(4))}`);
    expect(Math.abs(off[0] - 0.5)).toBeLessThan(4 * se(0.5, 1000) + 0.01);
    expect(off[1]).toBeLessThan(off[0] - 0.1);
    expect(off[2]).toBeLessThan(off[1]);
  });

  it('calibrated weights give the gradient of τ_joint·log p_y − log Σ p^τ_marg (two passes when τ_marg ∉ {0, 1})', async () => {
    const x = randomNormal([10, 2], 12, 'float64');
    const t = 0.35;
    const choices = parseTarget(classifier, 1, 'test');
    for (const [tj, tm] of [[1, 0.5], [2, 0], [1, 1], [0.7, 3]]) {
      const { logits } = await classifier.logitsAndGrad(x, t);
      const { grad } = await classifier.logitsAndGrad(x, t, calibratedWeights(classifier, choices, x.batch, tj, tm, logits));
      const fd = await numericGrad(async (v) => {
        const { logits: l } = await classifier.logitsAndGrad(v, t);
        const logp = labelLogProbs(l, choices);
        return Float64Array.from({ length: v.batch }, (_, b) => tj * logp[b] - Math.log(Math.exp(tm * l.data[2 * b]) + Math.exp(tm * l.data[2 * b + 1])));
      }, x);
      expect(maxAbsDiff(grad!, fd), `τ = (${tj}, ${tm})`).toBeLessThan(1e-6);
    }
    expect(() => calibratedWeights(classifier, choices, 1, 1, 0.5)).toThrow(/needs the logits/);
  });

  it('counts classifier passes: one per step, two when τ_marg needs the logits first', async () => {
    let passes = 0;
    const spy: Classifier = { ...classifier, logitsAndGrad: (x, t, w) => (passes++, classifier.logitsAndGrad(x, t, w)) };
    const x = randomNormal([4, 2], 1, 'float64');
    await classifierShift({ ...guidance(), classifier: spy }, schedule, x, x, 0.5);
    expect(passes).toBe(1);
    await classifierShift({ ...guidance(), classifier: spy, tauMarginal: 0.5 }, schedule, x, x, 0.5);
    expect(passes).toBe(3);
  });

  it('targets: index, label name, {head: label}; clear errors otherwise', () => {
    expect(parseTarget(classifier, '1+2', 't')[0].logit).toBe(1);
    expect(parseTarget(classifier, { class: 0 }, 't')[0].logit).toBe(0);
    expect(() => parseTarget(classifier, 5, 't')).toThrow(/labels 0..1/);
    expect(() => parseTarget(classifier, { colour: 'red' }, 't')).toThrow(/no head "colour"/);
    expect(() => parseTarget(classifier, 'blue', 't')).toThrow(/no label "blue"/);
  });
});

describe('GuideAndRescale', () => {
  const x = randomNormal([64, 2], 30, 'float64');
  const t = 0.5;

  it('keeps ‖guidance‖/‖CFG term‖ inside [low, high], per sample', async () => {
    const [lo, hi] = [0.5, 0.8];
    const out = await guideAndRescale(model, { components: [0] }, undefined, 2, guidance({ scale: 5 }), [lo, hi]).denoise(x, t);
    const [u, c] = await model.predictX0Many!(x, t, [undefined, { components: [0] }]);
    const cfgOut = await cfgGuider(model, { components: [0] }, undefined, 2).denoise(x, t);
    const cfgTerm = itemNorms(cfgOut, u);
    const guidanceTerm = itemNorms(out, cfgOut);
    let clipped = 0;
    cfgTerm.forEach((cn, b) => {
      if (cn < 1e-12) return;
      const r = guidanceTerm[b] / cn;
      expect(r).toBeGreaterThanOrEqual(lo - 1e-9);
      expect(r).toBeLessThanOrEqual(hi + 1e-9);
      if (r > lo + 1e-6 && r < hi - 1e-6) return;
      clipped++;
    });
    expect(clipped).toBeGreaterThan(0);
    expect(c.batch).toBe(64);
  });

  it('with guidance scale 0 it is plain CFG; a band [r, r] fixes the ratio at r', async () => {
    const cfgOut = await cfgGuider(model, { components: [0] }, undefined, 3).denoise(x, t);
    expect(maxAbsDiff(await guideAndRescale(model, { components: [0] }, undefined, 3, guidance({ scale: 0 }), [0.33, 3]).denoise(x, t), cfgOut)).toBeLessThan(1e-12);
    const C = Tensor.from([2, 2], [3, 4, 1, 0], 'float64');
    const G = Tensor.from([2, 2], [0, 1, 0, 0], 'float64');
    expect(Array.from(bandFactors(C, G, 1.5, 1.5))).toEqual([7.5, 1]); // ‖C‖ = 5 → ‖kG‖ = 7.5; G = 0 → k = 1
    expect(() => bandFactors(C, G, 2, 1)).toThrow(/band_low/);
  });
});

describe('SwitchGuider (PPAP-style experts by noise range)', () => {
  const tagged = (tag: number, seen: number[]): Guider => ({ schedule, denoise: async (x) => (seen.push(tag), x) });

  it('uses guider 1 at high noise and the last near the data; default ranges split [0, tMax] evenly', async () => {
    const seen: number[] = [];
    const g = switchGuider([tagged(1, seen), tagged(2, seen), tagged(3, seen)]);
    const x = Tensor.zeros([1, 2], 'float64');
    for (const t of [1, 0.7, 0.6, 0.5, 0.2, 0.001]) await g.denoise(x, t);
    expect(seen).toEqual([1, 1, 2, 2, 3, 3]);
    const custom: number[] = [];
    const h = switchGuider([tagged(1, custom), tagged(2, custom)], [0.1]);
    for (const t of [0.5, 0.1, 0.05]) await h.denoise(x, t);
    expect(custom).toEqual([1, 2, 2]);
  });

  it('refuses mismatched boundaries and schedules', () => {
    const seen: number[] = [];
    expect(() => switchGuider([tagged(1, seen), tagged(2, seen)], [0.5, 0.2])).toThrow(/need 1 boundaries/);
    expect(() => switchGuider([tagged(1, seen), tagged(2, seen), tagged(3, seen)], [0.2, 0.5])).toThrow(/decreasing/);
    const other: Guider = { schedule: { ...schedule, sigma: (t: number) => t }, denoise: async (x) => x };
    expect(() => switchGuider([tagged(1, seen), other])).toThrow(/different noise schedule/);
  });
});

describe('the guider nodes in a workflow', () => {
  it('ClassifierGuider, RescaleGuidance, GuideAndRescale and SwitchGuider validate, run and chain', async () => {
    const link = (from: string, output: string) => ({ from, output });
    const m = link('model', 'model');
    const workflow: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        model: { type: 'GaussianMixtureModel', inputs: { mixture: MIXTURE, schedule: 'linear_vp' } },
        cls: { type: 'MixtureComponents', inputs: { components: [1, 2] } },
        classifier: { type: 'MixtureClassifier', inputs: { model: m, classes: [[0], [1, 2]] } },
        basic: { type: 'BasicGuider', inputs: { model: m } },
        guided: { type: 'ClassifierGuider', inputs: { guider: link('basic', 'guider'), classifier: link('classifier', 'classifier'), target: '1+2', temperature_marginal: 0.5 } },
        rescale: { type: 'RescaleGuidance', inputs: { model: m, positive: link('cls', 'conditioning'), cfg: 3, phi: 0.7, space: 'eps' } },
        gar: { type: 'GuideAndRescale', inputs: { model: m, positive: link('cls', 'conditioning'), cfg: 2, classifier: link('classifier', 'classifier'), target: 1 } },
        switch: { type: 'SwitchGuider', inputs: { guider_1: link('guided', 'guider'), guider_2: link('rescale', 'guider'), guider_3: link('gar', 'guider'), boundaries: [0.6, 0.3] } },
        schedule: { type: 'Schedule', inputs: { model: m, steps: 6 } },
        solver: { type: 'Solver', inputs: { kind: 'dpmsolver++' } },
        noise: { type: 'RandomNoise', inputs: { seed: 3 } },
        latent: { type: 'EmptyLatent', inputs: { batch: 200, model: m } },
        sample: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('switch', 'guider'), solver: link('solver', 'solver'), sigmas: link('schedule', 'sigmas'), latent: link('latent', 'latent') } },
      },
      outputs: ['sample'],
    };
    const registry = createRegistry();
    const validation = validateWorkflow(workflow, registry);
    expect(validation.ok ? [] : validation.errors).toEqual([]);
    const result = await new Executor(registry).run(workflow, { services: isolatedServices() });
    const r = result.outputs.sample;
    if (r.status !== 'succeeded') throw new Error(JSON.stringify(r));
    const x = r.values.samples as Tensor;
    expect(x.shape).toEqual([200, 2]);
    // Every stage pushes toward class 1+2: no sample is left on component 0.
    const masses = await componentMasses(gmm, x, schedule.tMin);
    expect(masses[0]).toBeLessThan(0.02);
  });
});
