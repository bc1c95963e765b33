/**
 * `pnpm bench:pack-nfe`: prompt accuracy of the eps pack (shapes-32) at 4, 6, 8 and 10 model calls for
 * the official solvers on their grids, DPM-Solver-v3 with statistics estimated on the pack, and grids
 * searched by SearchSchedule on the pack: the same prompts, seeds and CFG for every method, each image
 * classified by models/shapes-32/attribute_classifier (bench/pack-prompts.ts).
 *
 * NFE = model calls, counted: CFG runs its two branches in one batched call per step (CFGGuider), so a
 * solve of K calls is K network runs on twice the batch, as everywhere in the project.
 *
 * The statistics and the searches see every prompt of the set but none of the benchmark's noises: they
 * draw theirs from Philox seed 1 000 000 on, and row r of their batches uses prompt r mod P (one batched
 * call with a row of embeddings per state), so one set
 * of statistics and one grid per budget serve all prompts (as the official Stable Diffusion statistics
 * are estimated over many captions).
 *
 * Writes docs/pack/nfe-results.json and the table between the pack-nfe markers in docs/model-pack.md
 * (`--render` rewrites the table from that file alone).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Tensor } from '../packages/engine/src/tensor.ts';
import type { Conditioning, DiffusionModel, Guider, Solver, TimeGrid } from '../packages/nodes/src/contracts/sampling.ts';
import type { ModelStatistics } from '../packages/nodes/src/contracts/model-statistics.ts';
import { cfgGuider } from '../packages/nodes/src/guiders/cfg-guider.ts';
import { loadPipeline } from '../packages/nodes/src/models/onnx/pipeline.ts';
import { seededNoise } from '../packages/nodes/src/noise/seeded-noise.ts';
import { sample } from '../packages/nodes/src/sampling/sample-node.ts';
import { buildGrid } from '../packages/nodes/src/schedules/schedule-node.ts';
import { searchSchedule, type ScheduleSearchSettings } from '../packages/nodes/src/search/schedule-search.ts';
import { makeSolver, type SolverKind, type SolverSettings } from '../packages/nodes/src/solvers/catalog.ts';
import { estimateModelStatistics } from '../packages/nodes/src/solvers/ems-estimate.ts';
import { DEFAULT_SETTINGS } from './configs.ts';
import { cpuModel } from './machine.ts';
import { modelStore, ROOT } from './pack-common.ts';
import { pct, scoreSingle, scoreTwo, SINGLE, TWO, type SingleScore, type TwoScore } from './pack-prompts.ts';
import { captionOf } from './scenes.ts';
import { formatProportion } from './stats.ts';

const NFES = [4, 6, 8, 10];
/** The pack's sample-grid setting (docs/pack), where the official solvers need 10 steps for every one-object prompt. */
const CFG = 4;
const SEEDS_PER_PROMPT = 4;
const THREADS = Number(process.env.PACK_THREADS ?? 2);
const FIT_SEED = 1_000_000;
const STATISTICS = { samples: 60, steps: 40, probes: 1, difference: 'central', seed: FIT_SEED } as const;
const SEARCH: Omit<ScheduleSearchSettings, 'budget'> = {
  noises: 30, heldOut: 30, seed: FIT_SEED, population: 8, generations: 3, refineEvaluations: 24, restarts: 1, referenceSteps: 50, startScale: 'auto',
};
const DOC = join(ROOT, 'docs', 'model-pack.md');
const OUT = join(ROOT, 'docs', 'pack');
const RESULTS = join(OUT, 'nfe-results.json');
const log = (s: string) => console.log(s);

interface Method {
  method: string;
  group: 'official' | 'v3' | 'searched';
  kind: SolverKind;
  settings: Partial<SolverSettings>;
  /** The grid: an official spacing, or searched for this solver from one of them. */
  spacing: 'trailing' | 'logSNR';
  searched?: boolean;
  ems?: boolean;
}

const METHODS: Method[] = [
  { method: 'DPM-Solver++ 2M, trailing', group: 'official', kind: 'dpmsolver++', settings: { order: 2 }, spacing: 'trailing' },
  { method: 'DPM-Solver++ 2M, logSNR', group: 'official', kind: 'dpmsolver++', settings: { order: 2 }, spacing: 'logSNR' },
  { method: 'UniPC bh2 o2, trailing', group: 'official', kind: 'unipc', settings: { order: 2, variant: 'bh2' }, spacing: 'trailing' },
  { method: 'UniPC bh2 o2, logSNR', group: 'official', kind: 'unipc', settings: { order: 2, variant: 'bh2' }, spacing: 'logSNR' },
  { method: 'v3 o3 + corrector (EMS), logSNR', group: 'v3', kind: 'dpm_solver_v3', settings: { order: 3, useCorrector: true }, spacing: 'logSNR', ems: true },
  { method: 'v3 o3 + corrector (EMS), trailing', group: 'v3', kind: 'dpm_solver_v3', settings: { order: 3, useCorrector: true }, spacing: 'trailing', ems: true },
  { method: 'UniPC bh2 o2, searched from logSNR', group: 'searched', kind: 'unipc', settings: { order: 2, variant: 'bh2' }, spacing: 'logSNR', searched: true },
  { method: 'UniPC bh2 o2, searched from trailing', group: 'searched', kind: 'unipc', settings: { order: 2, variant: 'bh2' }, spacing: 'trailing', searched: true },
  { method: 'DPM-Solver++ 2M, searched from trailing', group: 'searched', kind: 'dpmsolver++', settings: { order: 2 }, spacing: 'trailing', searched: true },
  { method: 'v3 o3 + corrector (EMS), searched from logSNR', group: 'searched', kind: 'dpm_solver_v3', settings: { order: 3, useCorrector: true }, spacing: 'logSNR', searched: true, ems: true },
];

/**
 * One CFG guider for every prompt: row r of a batch is denoised under prompt r mod P, in one batched call
 * (the UNet takes a conditioning with one row of embeddings per state).
 */
function promptMixture(model: DiffusionModel, positives: readonly Tensor[], negative: Conditioning): Guider {
  const byBatch = new Map<number, Guider>();
  const guiderFor = (batch: number): Guider => {
    let g = byBatch.get(batch);
    if (!g) {
      const [, sequence, width] = positives[0].shape;
      const rows = Tensor.zeros([batch, sequence, width], positives[0].dtype);
      for (let r = 0; r < batch; r++) rows.data.set(positives[r % positives.length].data, r * sequence * width);
      g = cfgGuider(model, { embeddings: rows }, negative, CFG);
      byBatch.set(batch, g);
    }
    return g;
  };
  return { schedule: model.schedule, denoise: (x, t) => guiderFor(x.batch).denoise(x, t) };
}

interface Cell { method: string; group: Method['group']; nfe: number; single: SingleScore; two: TwoScore; grid: number[]; search?: { calls: number; sampleEvaluations: number; seconds: number; heldOut: { start: number; searched: number } } }

async function main(): Promise<void> {
  const started = performance.now();
  const store = modelStore(THREADS);
  const pipeline = await loadPipeline(store, 'shapes-32');
  const model = pipeline.model;
  const schedule = model.schedule;
  const encode = async (text: string): Promise<Conditioning> => ({ embeddings: (await pipeline.encoder.encode([text])).embeddings, text });
  const negative = await encode('');
  const prompts = [...SINGLE, ...TWO].map(captionOf);
  const positives = new Map<string, Conditioning>();
  for (const prompt of prompts) positives.set(prompt, await encode(prompt));
  const guiders = new Map([...positives].map(([prompt, c]) => [prompt, cfgGuider(model, c, negative, CFG)]));
  const mixture = promptMixture(model, prompts.map((p) => positives.get(p)!.embeddings as Tensor), negative);
  const latentOf = (batch: number) => Tensor.zeros([batch, ...model.sampleShape], model.dtype);
  log(`pack NFE bench: ${SINGLE.length} one-object + ${TWO.length} two-object prompts × ${SEEDS_PER_PROMPT} seeds, CFG ${CFG}, NFE ${NFES.join('/')}, ${THREADS} intra-op threads`);

  const estimated = await estimateModelStatistics(mixture.denoise, schedule, { sampleShape: model.sampleShape, dtype: model.dtype, ...STATISTICS });
  const statistics: ModelStatistics = estimated.statistics;
  log(`  statistics: N = ${STATISTICS.samples}, M = ${STATISTICS.steps}, ${STATISTICS.probes} probe: ${estimated.cost.modelCalls} calls, ${estimated.cost.sampleEvaluations} sample evaluations, ${estimated.cost.seconds.toFixed(1)} s`);

  const cells: Cell[] = [];
  for (const m of METHODS) {
    const solver: Solver = { kind: m.kind, solve: makeSolver(m.kind, { ...DEFAULT_SETTINGS, ...m.settings, statistics: m.ems ? statistics : undefined }) };
    for (const nfe of NFES) {
      let grid: TimeGrid, search: Cell['search'];
      if (m.searched) {
        const start = buildGrid(schedule, { spacing: m.spacing, steps: nfe, denoise: 1, rho: 7 });
        const found = await searchSchedule({ ...SEARCH, budget: nfe, guider: mixture, solver, start, latent: latentOf(1) });
        grid = found.grid;
        const { cost, error } = found.report;
        search = { calls: cost.modelCalls.total, sampleEvaluations: cost.sampleEvaluations, seconds: cost.seconds, heldOut: error.heldOut };
      } else {
        grid = buildGrid(schedule, { spacing: m.spacing, steps: nfe, denoise: 1, rho: 7 });
      }
      let calls = 0, solves = 0;
      const generate = async (prompt: string, seed: number) => {
        const guider = guiders.get(prompt)!;
        const counting: Guider = { schedule, denoise: (x, t) => (calls++, guider.denoise(x, t)) };
        const { samples } = await sample({ guider: counting, solver, grid, latent: latentOf(SEEDS_PER_PROMPT), noise: seededNoise(seed), addNoise: true, startScale: 'auto' });
        solves++;
        return pipeline.vae.decode(samples, 64);
      };
      const single = await scoreSingle(store, generate);
      const two = await scoreTwo(store, generate);
      const used = calls / solves;
      if (used !== nfe) throw new Error(`${m.method}: ${used} model calls per solve, expected ${nfe}`);
      cells.push({ method: m.method, group: m.group, nfe, single, two, grid: grid.times.map((t) => +t.toPrecision(6)), search });
      log(`  ${m.method.padEnd(36)} NFE ${String(nfe).padStart(2)}: one object ${pct(single.all, single.n).toFixed(1)} %, two objects ${pct(two.both, two.n).toFixed(1)} %${search ? ` (search ${search.calls} calls, ${search.seconds.toFixed(0)} s)` : ''}`);
    }
  }
  await store.close();

  const seconds = (performance.now() - started) / 1000;
  const env = { date: new Date().toISOString().slice(0, 10), seconds, threads: THREADS, cpu: cpuModel(), cores: os.cpus().length };
  const results: Results = { env, cfg: CFG, nfes: NFES, seedsPerPrompt: SEEDS_PER_PROMPT, statistics: { ...STATISTICS, cost: estimated.cost }, search: SEARCH, cells };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(RESULTS, JSON.stringify(results, null, 1) + '\n');
  writeDoc(results);
}

interface Results {
  env: { date: string; seconds: number; threads: number; cpu: string; cores: number };
  cfg: number;
  nfes: number[];
  seedsPerPrompt: number;
  statistics: typeof STATISTICS & { cost: { modelCalls: number; sampleEvaluations: number; seconds: number } };
  search: typeof SEARCH;
  cells: Cell[];
}

function writeDoc(results: Results): void {
  const section = renderSection(results.cells, results.env, results.statistics.cost);
  if (!existsSync(DOC)) return log(section);
  const doc = readFileSync(DOC, 'utf8');
  const begin = '<!-- pack-nfe:begin -->', end = '<!-- pack-nfe:end -->';
  const a = doc.indexOf(begin), b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`docs/model-pack.md has no ${begin} … ${end} markers`);
  writeFileSync(DOC, `${doc.slice(0, a + begin.length)}\n${section}\n${doc.slice(b)}`);
  log(`updated docs/model-pack.md (measured in ${results.env.seconds.toFixed(0)} s)`);
}

const P = (k: number, n: number) => formatProportion(k, n, 1).replace(' %', '');

function renderSection(cells: Cell[], env: { date: string; seconds: number; threads: number; cpu: string; cores: number }, statisticsCost: { modelCalls: number; sampleEvaluations: number; seconds: number }): string {
  const methods = [...new Set(cells.map((c) => c.method))];
  const cell = (m: string, nfe: number) => cells.find((c) => c.method === m && c.nfe === nfe)!;
  const table = (title: string, k: (c: Cell) => [number, number]) => [
    title, '',
    `| method | ${NFES.map((n) => `NFE ${n}`).join(' | ')} |`,
    `|---|${NFES.map(() => '---:').join('|')}|`,
    ...methods.map((m) => `| ${m} | ${NFES.map((n) => P(...k(cell(m, n)))).join(' | ')} |`),
    '',
  ];
  const searched = cells.filter((c) => c.search);
  // The best official method: highest one-object accuracy summed over the NFEs (ties: two-object).
  const score = (m: string) => NFES.reduce((s, n) => s + cell(m, n).single.all / cell(m, n).single.n + 1e-3 * (cell(m, n).two.both / cell(m, n).two.n), 0);
  const official = methods.filter((m) => cell(m, NFES[0]).group === 'official');
  const best = [...official].sort((a, b) => score(b) - score(a))[0];
  const verdicts = methods.filter((m) => !official.includes(m)).map((m) => {
    const diffs = NFES.map((n) => ({ n, d: cell(m, n).single.all - cell(best, n).single.all, d2: cell(m, n).two.both - cell(best, n).two.both }));
    const fmt = (xs: typeof diffs, key: 'd' | 'd2') => xs.map((x) => `${x.n} (${x[key] > 0 ? '+' : ''}${x[key]} image${Math.abs(x[key]) === 1 ? '' : 's'})`).join(', ');
    const better = diffs.filter((x) => x.d > 0), worse = diffs.filter((x) => x.d < 0);
    return `- ${m}: one object ${better.length ? `more images right than ${best} at NFE ${fmt(better, 'd')}` : `never more images right than ${best}`}` +
      `${worse.length ? `; fewer at NFE ${fmt(worse, 'd')}` : ''}; two objects, difference ${fmt(diffs, 'd2')}.`;
  });
  // Per NFE: the new methods that get more one-object images right than every official setting at that NFE.
  const bestAt = (n: number) => Math.max(...official.map((m) => cell(m, n).single.all));
  const perNfe = NFES.map((n) => {
    const winners = methods.filter((m) => !official.includes(m) && cell(m, n).single.all > bestAt(n));
    return `NFE ${n}: ${winners.length ? winners.map((m) => `${m} (${cell(m, n).single.all} vs ${bestAt(n)})`).join(', ') : 'none'}`;
  });
  return [
    `Measured by \`pnpm bench:pack-nfe\` (${env.date}, ${env.seconds.toFixed(0)} s in all, ${env.threads} intra-op threads on ${env.cpu}, ${env.cores} cores). ` +
      `Eps pack, CFG ${CFG}; the ${SINGLE.length} one-object and ${TWO.length} two-object prompts of \`pnpm bench:pack\` with the same seeds, ${SEEDS_PER_PROMPT} images each, ` +
      'classified by `attribute_classifier`; % of images with the 95 % Wilson interval. NFE = model calls, counted (CFG\'s two branches are one batched call).',
    '',
    `- **v3 (EMS)**: \`dpm_solver_v3\` order 3 with the corrector, statistics of the CFG-${CFG} guided model estimated over all ${SINGLE.length + TWO.length} prompts`,
    `  (row r of the batch under prompt r mod ${SINGLE.length + TWO.length}): N = ${STATISTICS.samples} trajectories, M = ${STATISTICS.steps} intervals, ${STATISTICS.probes} probe, central differences;`,
    `  cost ${statisticsCost.modelCalls} calls, ${statisticsCost.sampleEvaluations.toLocaleString('en-US')} sample evaluations, ${statisticsCost.seconds.toFixed(0)} s, once for all NFEs.`,
    `- **searched**: \`SearchSchedule\` per budget from the grid named, the same prompt mixture: B = ${SEARCH.noises} training and ${SEARCH.heldOut} held-out noises, population ${SEARCH.population},`,
    `  ${SEARCH.generations} generations, ${SEARCH.refineEvaluations} refinement solves, ${SEARCH.referenceSteps}-step DPM-Solver++ 3M reference; costs in the last table.`,
    `- Statistics and searches use noises from Philox seed ${FIT_SEED.toLocaleString('en-US')} on, never the benchmark's.`,
    '',
    ...table('**One object, all five attributes right:**', (c) => [c.single.all, c.single.n]),
    ...table('**Two objects, both right:**', (c) => [c.two.both, c.two.n]),
    `Search cost (model calls, each on a batch of ${SEARCH.noises} noises, and seconds):`,
    '',
    `| search | ${NFES.map((n) => `NFE ${n}`).join(' | ')} |`,
    `|---|${NFES.map(() => '---:').join('|')}|`,
    ...[...new Set(searched.map((c) => c.method))].map((m) => `| ${m} | ${NFES.map((n) => { const c = cell(m, n).search!; return `${c.calls} calls, ${c.seconds.toFixed(0)} s`; }).join(' | ')} |`),
    '',
    `Best official setting here (highest one-object accuracy over the four NFEs): **${best}**. Against it, counted in images (of ${cell(best, NFES[0]).single.n} and ${cell(best, NFES[0]).two.n}):`,
    '',
    ...verdicts,
    '',
    `New methods with more one-object images right than **every** official setting at the same NFE: ${perNfe.join('; ')}.`,

    '',
    'The intervals overlap wherever the differences are a few images: those are not evidence of a difference.',
  ].join('\n');
}

// --render: rewrite the doc's table from docs/pack/nfe-results.json without measuring again.
if (process.argv.includes('--render')) writeDoc(JSON.parse(readFileSync(RESULTS, 'utf8')) as Results);
else await main();
