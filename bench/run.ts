/**
 * `pnpm bench`: the solver benchmark. Writes docs/benchmarks.md, docs/benchmarks/solver-error-vs-nfe.{png,svg},
 * bench/gmm16-bench.json (the model) and bench/results.json (every number). See docs/benchmarks.md.
 */
import { cpuModel } from './machine.ts';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GaussianMixture, makeGmmDenoiser } from '../packages/nodes/src/models/gmm.ts';
import { randomNormal } from '../packages/nodes/src/noise/philox.ts';
import { DiscreteVPSchedule } from '../packages/nodes/src/schedules/noise-schedules.ts';
import { ODE_TOL, runAccuracy } from './accuracy.ts';
import { beyondSection, methodsOf, runBeyond, TARGET_AT_10 } from './beyond.ts';
import { NFE_BUDGETS, STOCHASTIC_CONFIGS, SWEEP_CONFIGS } from './configs.ts';
import { benchModel } from './model.ts';
import { OVERHEAD_CASES, OVERHEAD_REPEATS, OVERHEAD_STEPS, runOverhead, timeGmmCall } from './overhead.ts';
import { errorPlotSvg, svgToPng, type Panel } from './plot.ts';
import { renderReport } from './report.ts';

export const BATCH = 128;
export const NOISE_SEED = 2024;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (s: string) => console.log(s);


async function main(): Promise<void> {
  const started = performance.now();
  const loadBefore = os.loadavg()[0];
  const model = benchModel();
  const gmm = new GaussianMixture(model);
  const schedule = DiscreteVPSchedule.fromBetas('scaled_linear');
  const noise = randomNormal([BATCH, model.D], NOISE_SEED, 'float64');
  writeFileSync(join(root, 'bench/gmm16-bench.json'), JSON.stringify({ kind: 'isotropic_gaussian_mixture', ...model }, null, 1) + '\n');

  log(`Error sweep: D = ${model.D}, K = ${model.K}, batch ${BATCH}, SD scaled_linear schedule, float64`);
  const accuracy = await runAccuracy(gmm, schedule, noise, log);
  log(`  DDIM 100 steps: logSNR ${accuracy.ddim100.logSNR.error.toExponential(3)}, time_uniform ${accuracy.ddim100.timeUniform.error.toExponential(3)}`);
  log(`  karras floor (sigma_min then denoise vs exact sigma = 0): ${accuracy.karrasFloor.toExponential(3)}`);

  log('Beyond the official solvers: v3 with estimated statistics, searched grids (held-out noises, exact ODE)');
  const beyond = await runBeyond(log);

  log(`Overhead: zero-cost denoiser, ${OVERHEAD_STEPS} steps, median of ${OVERHEAD_REPEATS}`);
  const overhead = await runOverhead([...SWEEP_CONFIGS, ...STOCHASTIC_CONFIGS], schedule, log);
  const gmmDenoiser = makeGmmDenoiser(gmm, schedule);
  const gmmCallUs = await timeGmmCall(() => gmmDenoiser(noise, 0.5));

  // Figure.
  const ddimRef = accuracy.ddim100.logSNR.error;
  const seriesOf = (family: 'exponential' | 'kdiffusion') =>
    accuracy.sweeps.filter((s) => s.config.family === family && !s.failure).map((s) => ({ label: s.config.label, points: s.points }));
  const ddimLine = { y: ddimRef, label: `DDIM, 100 steps, logSNR\n(error ${ddimRef.toExponential(2)})`, dash: '8 4', color: '#555' };
  const panels: Panel[] = [
    { title: 'Exponential integrators, logSNR grid (t = 1 → 1/1000)', series: seriesOf('exponential'), hlines: [ddimLine], marks: [{ x: 100, y: ddimRef, label: 'DDIM at NFE 100' }] },
    {
      title: 'k-diffusion samplers, karras grid (σ_max → σ_min → 0)',
      series: seriesOf('kdiffusion'),
      hlines: [ddimLine, { y: accuracy.karrasFloor, label: `limit of samplers ending in an\nEuler step (σ_min, then denoise):\n${accuracy.karrasFloor.toExponential(2)} from the exact σ = 0 value`, dash: '2 3', color: '#b22222' }],
      marks: [],
    },
  ];
  const svg = errorPlotSvg(panels, `Mean L2 error vs NFE: D = ${model.D}, K = ${model.K} Gaussian mixture, SD scaled_linear schedule, float64, batch ${BATCH}`);
  mkdirSync(join(root, 'docs/benchmarks'), { recursive: true });
  writeFileSync(join(root, 'docs/benchmarks/solver-error-vs-nfe.svg'), svg);
  writeFileSync(join(root, 'docs/benchmarks/solver-error-vs-nfe.png'), svgToPng(svg));

  const beyondSvg = errorPlotSvg(
    [{
      title: 'Official solvers, v3 (EMS) and searched grids, t = 1 → 1/1000',
      series: methodsOf(beyond).map((m) => ({ label: m, points: beyond.rows.filter((r) => r.method === m).map((r) => ({ nfe: r.nfe, error: r.error })) })),
      hlines: [
        { y: beyond.ddim80.error, label: `DDIM, 80 logSNR steps\n(error ${beyond.ddim80.error.toExponential(2)})`, dash: '8 4', color: '#555' },
        { y: TARGET_AT_10, label: `target at NFE 10: ${TARGET_AT_10}`, dash: '2 3', color: '#b22222' },
      ],
      marks: [],
    }],
    `Held-out error vs NFE: D = ${model.D} mixture, batch ${BATCH}`,
  );
  writeFileSync(join(root, 'docs/benchmarks/beyond-error-vs-nfe.svg'), beyondSvg);
  writeFileSync(join(root, 'docs/benchmarks/beyond-error-vs-nfe.png'), svgToPng(beyondSvg));

  const seconds = (performance.now() - started) / 1000;
  const env = {
    date: new Date().toISOString().slice(0, 10),
    cpu: cpuModel(),
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    seconds,
    /** 1-minute load average at the start and at the end of the run (2 would mean both cores busy). */
    load: [loadBefore, os.loadavg()[0]],
  };
  const results = {
    env,
    setup: { model: 'bench/gmm16-bench.json', schedule: 'scaled_linear (1000 steps)', batch: BATCH, noiseSeed: NOISE_SEED, odeTolerance: ODE_TOL, nfeBudgets: NFE_BUDGETS },
    accuracy: {
      ddim100: accuracy.ddim100,
      karrasFloor: accuracy.karrasFloor,
      sweeps: accuracy.sweeps.map((s) => ({ label: s.config.label, kind: s.config.kind, settings: s.config.settings, family: s.config.family, points: s.points, failure: s.failure })),
    },
    overhead: {
      steps: OVERHEAD_STEPS,
      repeats: OVERHEAD_REPEATS,
      cases: OVERHEAD_CASES,
      gmmCallUs,
      rows: overhead.map((r) => ({ label: r.config.label, kind: r.config.kind, usPerStep: r.usPerStep, usPerStepMin: r.usPerStepMin, usPerCall: r.usPerCall, nfe: r.nfe, failure: r.failure })),
    },
    beyond,
  };
  writeFileSync(join(root, 'bench/results.json'), JSON.stringify(results, null, 1) + '\n');
  writeFileSync(join(root, 'docs/benchmarks.md'), renderReport({ env, model, accuracy, overhead, gmmCallUs, batch: BATCH, noiseSeed: NOISE_SEED, beyond: beyondSection(beyond) }));
  log(`Wrote docs/benchmarks.md, docs/benchmarks/solver-error-vs-nfe.png (${seconds.toFixed(1)} s)`);
}

await main();
