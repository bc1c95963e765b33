/**
 * Sample quality vs model evaluations on the analytic D = 2 mixture (the GaussianMixtureModel default,
 * SD scaled_linear schedule, float64), for the samplers whose output is a distribution rather than one
 * ODE solution:
 *
 * 1. Denoising MCMC (exact noise-level posterior, and the residual estimate) against plain sampling
 *    (DPM-Solver++(2M) and DDIM on logSNR grids) from the same start noise.
 * 2. Consistency sampling vs steps with the exact consistency model (the ODE solution map), and with
 *    the plain posterior-mean model under LCM's boundary scalings, next to DPM-Solver++ at the same NFE.
 *
 * Quality: the energy distance to 4000 exact mixture draws (0 in expectation for exact samples; the
 * row "exact draws" shows the statistic's own noise) and the largest error of the component shares.
 * Cost: model evaluations per output sample (a batched call on m rows counts m), start-up included.
 *
 *   tsx --conditions=@diffgraph/source bench/beyond-mcmc.ts
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import { GaussianMixture } from '../packages/nodes/src/models/gmm.ts';
import { gaussianMixtureModel } from '../packages/nodes/src/models/gmm-node.ts';
import { componentShares, energyDistance, sampleMixture } from '../packages/nodes/src/models/gmm-quality.ts';
import { basicGuider } from '../packages/nodes/src/guiders/basic-guider.ts';
import { seededNoise } from '../packages/nodes/src/noise/noise-nodes.ts';
import { mixtureConsistencyModel } from '../packages/nodes/src/sampling/consistency-model.ts';
import { denoisingMcmc } from '../packages/nodes/src/sampling/denoising-mcmc.ts';
import { chainLevels } from '../packages/nodes/src/sampling/noise-level.ts';
import { sample } from '../packages/nodes/src/sampling/sample-node.ts';
import { DiscreteVPSchedule } from '../packages/nodes/src/schedules/noise-schedules.ts';
import { buildGrid, type Spacing } from '../packages/nodes/src/schedules/schedule-node.ts';
import { makeSolver, type SolverKind, type SolverSettings } from '../packages/nodes/src/solvers/catalog.ts';
import type { DiffusionModel, Guider } from '../packages/nodes/src/contracts/sampling.ts';

const SAMPLES = 1024;
const SEED = 5;
const gmm = new GaussianMixture({ weights: [0.5, 0.3, 0.2], means: [[-1.5, 0.5], [1.2, 1.0], [0.3, -1.4]], stds: [0.25, 0.15, 0.35] });
const schedule = DiscreteVPSchedule.fromBetas('scaled_linear');
const model = gaussianMixtureModel(gmm, schedule, 'float64');
const reference = sampleMixture(gmm, 4000, 12345);
const SETTINGS: SolverSettings = { order: 2, method: 'multistep', lowerOrderFinal: true, variant: 'bh2', prediction: 'data', eta: 0, sNoise: 1, thresholdRatio: 0, thresholdMax: 1 };
const solverOf = (kind: SolverKind, s: Partial<SolverSettings> = {}) => ({ kind, solve: makeSolver(kind, { ...SETTINGS, ...s }) });

interface Row { method: string; evaluations: number; energy: number; shareError: number }

function quality(method: string, samples: Tensor, evaluations: number): Row {
  const shares = componentShares(gmm, samples);
  return { method, evaluations, energy: energyDistance(samples, reference), shareError: Math.max(...shares.map((s, k) => Math.abs(s - gmm.weights[k]))) };
}

/** A guider that counts every row it denoises. */
function counted(m: DiffusionModel): { guider: Guider; evaluations: () => number } {
  const inner = basicGuider(m);
  let rows = 0;
  return { guider: { ...inner, denoise: (x, t) => ((rows += x.batch), inner.denoise(x, t)) }, evaluations: () => rows };
}

async function plain(kind: SolverKind, steps: number, spacing: Spacing = 'logSNR', m: DiffusionModel = model, settings: Partial<SolverSettings> = {}): Promise<{ samples: Tensor; evaluations: number }> {
  const { guider, evaluations } = counted(m);
  const { samples } = await sample({
    guider, solver: solverOf(kind, settings), grid: buildGrid(schedule, { spacing, steps, denoise: 1, rho: 7 }),
    latent: Tensor.zeros([SAMPLES, 2], 'float64'), noise: seededNoise(SEED), addNoise: true, startScale: 'auto',
  });
  return { samples, evaluations: evaluations() / SAMPLES };
}

interface McmcCase { estimator: 'exact' | 'residual'; steps: number; skp: number; burnIn: number; rounds: number }

async function mcmc(c: McmcCase): Promise<Row> {
  const result = await denoisingMcmc({
    guider: basicGuider(model), solver: solverOf('dpmsolver++'), grid: buildGrid(schedule, { spacing: 'logSNR', steps: c.steps, denoise: 1, rho: 7 }),
    latent: Tensor.zeros([SAMPLES / c.rounds, 2], 'float64'), noise: seededNoise(SEED), levels: chainLevels(schedule, 0.03, 5, 100),
    estimator: c.estimator, mixture: gmm, eta: 0.5, skp: c.skp, burnIn: c.burnIn, rounds: c.rounds, initSigma: 0.5,
  });
  const label = `DMCMC ${c.estimator}, ${c.steps}-step ODE, skp ${c.skp}, burn-in ${c.burnIn}, ${c.rounds} round${c.rounds > 1 ? 's' : ''}`;
  return quality(label, result.samples, result.evaluationsPerSample);
}

function table(title: string, rows: Row[]): void {
  console.log(`\n${title}\n`);
  console.log('| method | model evaluations / sample | energy distance | max share error |');
  console.log('|---|---:|---:|---:|');
  for (const r of rows) console.log(`| ${r.method} | ${r.evaluations.toFixed(1)} | ${r.energy.toFixed(4)} | ${r.shareError.toFixed(3)} |`);
}

async function main(): Promise<void> {
  const started = performance.now();
  const floor = quality('exact draws (the statistic\'s noise)', sampleMixture(gmm, SAMPLES, 999), 0);

  const mcmcRows: Row[] = [floor];
  for (const steps of [2, 3, 4, 6, 10, 20, 40]) {
    const r = await plain('dpmsolver++', steps);
    mcmcRows.push(quality(`plain DPM-Solver++(2M), ${steps} steps`, r.samples, r.evaluations));
  }
  for (const steps of [5, 10, 20, 40]) {
    const r = await plain('ddim', steps);
    mcmcRows.push(quality(`plain DDIM, ${steps} steps`, r.samples, r.evaluations));
  }
  for (const c of [
    { estimator: 'exact', steps: 10, skp: 10, burnIn: 20, rounds: 1 },
    { estimator: 'exact', steps: 10, skp: 10, burnIn: 20, rounds: 4 },
    { estimator: 'exact', steps: 4, skp: 2, burnIn: 10, rounds: 8 },
    { estimator: 'exact', steps: 4, skp: 5, burnIn: 10, rounds: 4 },
    { estimator: 'residual', steps: 10, skp: 10, burnIn: 20, rounds: 1 },
  ] as McmcCase[]) mcmcRows.push(await mcmc(c));
  table(`Denoising MCMC vs plain sampling (D = 2 mixture, ${SAMPLES} samples, energy distance to 4000 exact draws)`, mcmcRows);

  const exactConsistency = mixtureConsistencyModel(model);
  const consistencyRows: Row[] = [floor];
  for (const steps of [1, 2, 4, 8]) {
    const exact = await plain('consistency', steps, 'trailing', exactConsistency, { boundary: 'none' });
    consistencyRows.push(quality(`consistency, exact consistency model, ${steps} step${steps > 1 ? 's' : ''}`, exact.samples, exact.evaluations));
    const lcm = await plain('consistency', steps, 'trailing', model, { boundary: 'lcm' });
    consistencyRows.push(quality(`consistency, posterior-mean model + LCM boundary, ${steps} step${steps > 1 ? 's' : ''}`, lcm.samples, lcm.evaluations));
    const ode = await plain('dpmsolver++', steps, 'trailing');
    consistencyRows.push(quality(`DPM-Solver++(2M), trailing, ${steps} step${steps > 1 ? 's' : ''}`, ode.samples, ode.evaluations));
  }
  table('Consistency sampling vs NFE (trailing grid from t = 1; the exact consistency model costs an adaptive ODE solve per call, counted here as one evaluation)', consistencyRows);
  console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
}

await main();
