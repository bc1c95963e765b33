/**
 * LoadClassifier on the shipped pack (models/shapes-32/classifier): the loader opens grad.onnx and
 * model.onnx through the model store, maps time like the UNet (modelTime) for the eps pack and by
 * log-SNR for the flow pack, its gradient matches central differences of its own log-probabilities,
 * and classifier guidance toward a colour raises that colour's frequency as measured by the
 * independent clean-image attribute classifier.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Executor, Tensor, type Workflow } from '@diffgraph/engine';
import { createRegistry } from '../src/index.ts';
import { ModelStore } from '../src/runtime/model-store.ts';
import { loadPipeline } from '../src/models/onnx/pipeline.ts';
import { loadClassifier } from '../src/guiders/load-classifier.ts';
import { calibratedWeights, labelLogProbs, parseTarget } from '../src/guiders/classifier.ts';
import { classifierGuider } from '../src/guiders/classifier-guider.ts';
import { cfgGuider } from '../src/guiders/cfg-guider.ts';
import { sample } from '../src/sampling/sample-node.ts';
import { buildGrid } from '../src/schedules/schedule-node.ts';
import { makeSolver } from '../src/solvers/catalog.ts';
import { seededNoise } from '../src/noise/noise-nodes.ts';
import { randomNormal } from '../src/noise/philox.ts';
import { fromOrt, toOrt } from '../src/runtime/ort-tensors.ts';
import { isolatedServices } from './services.ts';

const models = fileURLToPath(new URL('../../../models/', import.meta.url));

// The packs are committed: missing files fail the suite rather than skipping.
describe('LoadClassifier on the shapes-32 pack', async () => {
  const store = new ModelStore({ roots: [models], intraOpThreads: 1 });
  const eps = await loadPipeline(store, 'shapes-32');
  const flow = await loadPipeline(store, 'shapes-32-flow');

  it('opens grad.onnx and model.onnx through the store; the pack folder resolves to its classifier', async () => {
    const loaded = await loadClassifier(store, 'shapes-32', eps.model);
    expect(loaded.folder.endsWith('shapes-32/classifier')).toBe(true);
    expect(loaded.timeMapping).toBe('model');
    expect(loaded.logits).toBeDefined();
    expect(loaded.classifier.heads.map((h) => h.name)).toEqual(['shape', 'colour', 'position', 'size', 'count']);
    expect(store.loaded().filter((f) => f.includes('classifier'))).toHaveLength(2);
    expect((await loadClassifier(store, 'shapes-32-flow/../shapes-32/classifier', flow.model)).timeMapping).toBe('snr');
    await expect(loadClassifier(store, 'shapes-32/unet')).rejects.toThrow(/no grad\.onnx/);
  });

  it('feeds the UNet\'s network timestep (modelTime) and agrees with running grad.onnx directly', async () => {
    const { classifier, grad } = await loadClassifier(store, 'shapes-32/classifier', eps.model);
    const x = randomNormal([2, 4, 8, 8], 3);
    const t = 0.37;
    const w = calibratedWeights(classifier, parseTarget(classifier, { colour: 'green' }, 'test'), 2, 1, 1);
    const mine = await classifier.logitsAndGrad(x, t, w);
    const step = eps.model.schedule.modelTime(t);
    const direct = await grad.run({ sample: toOrt(x), timestep: toOrt(Tensor.from([2], [step, step])), weights: toOrt(w) }, ['logits', 'grad']);
    const [l, g] = [fromOrt(direct.logits, 'grad.onnx', 'logits'), fromOrt(direct.grad, 'grad.onnx', 'grad')];
    for (let i = 0; i < l.size; i++) expect(mine.logits.data[i]).toBeCloseTo(l.data[i], 5);
    for (let i = 0; i < g.size; i++) expect(mine.grad!.data[i]).toBeCloseTo(g.data[i], 5);
  });

  for (const pack of ['eps', 'flow'] as const) {
    it(`gradient = central differences of log p(y | x_t) (${pack} model, logits from model.onnx)`, async () => {
      const model = pack === 'eps' ? eps.model : flow.model;
      const { classifier } = await loadClassifier(store, 'shapes-32/classifier', model);
      const choices = parseTarget(classifier, { shape: 'triangle', colour: 'blue' }, 'test');
      for (const t of [0.2, 0.6]) {
        const x = new Tensor([2, 4, 8, 8], randomNormal([2, 4, 8, 8], 11, 'float64').data.map((v) => v * (pack === 'eps' ? 1 : Math.hypot(1 - t, t))));
        const { grad } = await classifier.logitsAndGrad(x, t, calibratedWeights(classifier, choices, 2, 1, 1));
        const dir = randomNormal([2, 4, 8, 8], 12, 'float64');
        const h = 1e-2;
        const at = async (s: number) => labelLogProbs((await classifier.logitsAndGrad(new Tensor(x.shape, x.data.map((v, i) => v + s * dir.data[i])), t)).logits, choices);
        const [up, down] = [await at(h), await at(-h)];
        for (let b = 0; b < 2; b++) {
          let analytic = 0;
          for (let j = b * 256; j < (b + 1) * 256; j++) analytic += grad!.data[j] * dir.data[j];
          const numeric = (up[b] - down[b]) / (2 * h);
          expect(Math.abs(numeric)).toBeGreaterThan(1e-3);
          expect(Math.abs(analytic - numeric)).toBeLessThan(0.01 * Math.abs(numeric) + 2e-4);
        }
      }
    });
  }

  it('on the flow model it classifies x_s exactly as the eps classifier classifies the VP state of equal SNR', async () => {
    const onEps = (await loadClassifier(store, 'shapes-32/classifier', eps.model)).classifier;
    const onFlow = (await loadClassifier(store, 'shapes-32/classifier', flow.model)).classifier;
    const x0 = randomNormal([2, 4, 8, 8], 5, 'float64'), e = randomNormal([2, 4, 8, 8], 6, 'float64');
    const s = 0.45;
    const tc = eps.model.schedule.tOfLambda(Math.log((1 - s) / s));
    const [a, sig] = [eps.model.schedule.alpha(tc), eps.model.schedule.sigma(tc)];
    const xs = new Tensor(x0.shape, x0.data.map((v, i) => (1 - s) * v + s * e.data[i]));
    const xt = new Tensor(x0.shape, x0.data.map((v, i) => a * v + sig * e.data[i]));
    const [lf, le] = [(await onFlow.logitsAndGrad(xs, s)).logits, (await onEps.logitsAndGrad(xt, tc)).logits];
    for (let i = 0; i < lf.size; i++) expect(lf.data[i]).toBeCloseTo(le.data[i], 4);
  });

  it('classifier guidance toward a colour raises its frequency (attribute classifier on the decoded images)', async () => {
    const { classifier } = await loadClassifier(store, 'shapes-32/classifier', eps.model);
    const attr = await store.open(`${models}shapes-32/attribute_classifier/model.onnx`);
    const grid = buildGrid(eps.model.schedule, { spacing: 'trailing', steps: 10, denoise: 1, rho: 7 });
    const solver = { kind: 'dpmsolver++', solve: makeSolver('dpmsolver++', { order: 2, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 }) };
    const base = cfgGuider(eps.model, undefined, undefined, 1);
    const N = 32;
    const frequency = async (colour: string, scale: number) => {
      const guider = classifierGuider(base, { classifier, choices: parseTarget(classifier, { colour }, 'test'), scale, tauJoint: 1, tauMarginal: 1, input: 'x_t' });
      const { samples } = await sample({ guider, solver, grid, latent: Tensor.zeros([N, 4, 8, 8]), noise: seededNoise(1), addNoise: true, startScale: 'unit' });
      const image = await eps.vae.decode(samples, N);
      const logits = fromOrt((await attr.run({ sample: toOrt(new Tensor(image.shape, image.data.map((v) => 2 * v - 1))) }, ['logits'])).logits, 'attr', 'logits');
      const target = 3 + ['red', 'green', 'blue', 'yellow', 'purple', 'orange'].indexOf(colour);
      let hits = 0;
      for (let b = 0; b < N; b++) {
        const row = Array.from({ length: 6 }, (_, j) => logits.data[b * 19 + 3 + j]);
        if (3 + row.indexOf(Math.max(...row)) === target) hits++;
      }
      return hits / N;
    };
    for (const colour of ['blue', 'orange']) {
      const [before, after] = [await frequency(colour, 0), await frequency(colour, 4)];
      console.log(`classifier guidance toward ${colour}: ${(100 * before).toFixed(0)} % → ${(100 * after).toFixed(0)} % (scale 4, ${N} samples)`);
      expect(before).toBeLessThan(0.4);
      expect(after).toBeGreaterThan(0.8);
    }
  });

  it('runs as a node: LoadPipeline → LoadClassifier(model) → ClassifierGuider', async () => {
    const workflow: Workflow = {
      format: 'diffgraph/workflow@1',
      nodes: {
        pipeline: { type: 'LoadPipeline', inputs: { path: 'shapes-32' } },
        classifier: { type: 'LoadClassifier', inputs: { path: 'shapes-32/classifier', model: { from: 'pipeline', output: 'model' } } },
        base: { type: 'BasicGuider', inputs: { model: { from: 'pipeline', output: 'model' } } },
        guider: { type: 'ClassifierGuider', inputs: { guider: { from: 'base', output: 'guider' }, classifier: { from: 'classifier', output: 'classifier' }, target: { colour: 'red' }, scale: 2 } },
      },
      outputs: ['guider'],
    } as Workflow;
    const result = await new Executor(createRegistry()).run(workflow, { services: { ...isolatedServices(), modelStore: store } });
    expect(result.status).toBe('succeeded');
  });
});
