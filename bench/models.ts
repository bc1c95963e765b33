/**
 * `pnpm bench:models`: the ONNX pack in the engine. Writes docs/benchmarks-models.md and
 * bench/models-results.json.
 *
 * 1. Engine overhead: workflows/txt2img.json (batch 2, CFG 4, DPM-Solver++ 2M, 20 trailing steps)
 *    through the Executor vs a hand-written loop (hand-loop.ts) that calls the same ONNX sessions (same
 *    process, same ModelStore, same intra-op threads) with the same inputs and the same solver math.
 *    Interleaved repeats; ratios of medians and of each repeat's pair, in wall and in CPU time. The loop's
 *    output is compared with the workflow's. `--overhead-only` re-measures this section alone;
 *    `--overhead-only --baseline` stores the figures as the "before" of a before/after table.
 * 2. Per-call latency of every model of the pack at 1 and 2 intra-op threads.
 * 3. End to end: `diffgraph run workflows/txt2img.json` as a fresh process (load included) and in process.
 */
import { cpuModel } from './machine.ts';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Executor } from '../packages/engine/src/executor.ts';
import { Tensor } from '../packages/engine/src/tensor.ts';
import { createRegistry, type HostServices } from '../packages/nodes/src/index.ts';
import { loadPipeline } from '../packages/nodes/src/models/onnx/pipeline.ts';
import { randomNormal } from '../packages/nodes/src/noise/philox.ts';
import type { ModelStore } from '../packages/nodes/src/runtime/model-store.ts';
import { idsTensor, toOrt } from '../packages/nodes/src/runtime/ort-tensors.ts';
import { handLoop } from './hand-loop.ts';
import { median, modelStore, MODELS, quantile, ROOT } from './pack-common.ts';
import { layoutOverhead, renderLayoutOverhead, type LayoutRow } from './layout-overhead.ts';
import { precision, renderPrecision, type PrecisionResult } from './precision.ts';

const STEPS = 20;
const CFG = 4;
const BATCH = 2;
const SEED = 7;
const REPEATS = Number(process.env.MODELS_REPEATS ?? 41);
const WARMUP = 5;
const LATENCY_RUNS = Number(process.env.LATENCY_RUNS ?? 200);
const OVERHEAD_THREADS = (process.env.OVERHEAD_THREADS ?? '1,2').split(',').map(Number);
const log = (s: string) => console.log(s);

type OrtTensor = ReturnType<typeof toOrt>;

function workflow(previewEvery: number | undefined): Record<string, any> {
  const wf = JSON.parse(readFileSync(join(ROOT, 'workflows', 'txt2img.json'), 'utf8'));
  wf.nodes.latent.inputs.batch = BATCH;
  wf.nodes.guider.inputs.cfg = CFG;
  wf.nodes.schedule.inputs.steps = STEPS;
  wf.nodes.noise.inputs.seed = SEED;
  if (previewEvery !== undefined) wf.nodes.sample.inputs.preview_every = previewEvery;
  wf.outputs = ['decode'];
  return wf;
}

// ---------------------------------------------------------------------------------------------------

interface OverheadResult {
  threads: number;
  mode: string;
  engineMs: number;
  loopMs: number;
  ratio: number;
  engineMinMs: number;
  loopMinMs: number;
  /** Median ms per run spent outside onnxruntime's session.run (JS: engine or loop, tensors, events). */
  engineOutsideMs: number;
  loopOutsideMs: number;
  /** Median ms per run inside session.run (both sides alike). */
  onnxMs: number;
  /** The same, per side. */
  engineOnnxMs?: number;
  loopOnnxMs?: number;
  maxAbsDiff: number;
  /** Per repeat engine / loop (the two sides of one repeat run back to back): median, p10, p90. */
  pairedRatio?: number;
  pairedRatioP10?: number;
  pairedRatioP90?: number;
  /**
   * CPU time of the process per run (user + system, all threads; process.cpuUsage): unlike wall time it
   * does not count the waits for a CPU that other jobs on a loaded machine cause.
   */
  engineCpuMs?: number;
  loopCpuMs?: number;
  cpuRatio?: number;
  pairedCpuRatio?: number;
  pairedCpuRatioP10?: number;
  pairedCpuRatioP90?: number;
  /** p10–p90 of the time outside onnxruntime. */
  engineOutsideP10?: number;
  engineOutsideP90?: number;
  loopOutsideP10?: number;
  loopOutsideP90?: number;
}

async function overhead(threads: number): Promise<OverheadResult[]> {
  const store = modelStore(threads);
  const registry = createRegistry();
  const services: HostServices = { modelStore: store, outputDir: join(os.tmpdir(), 'diffgraph-bench-models'), inputRoots: [], modelRoots: [MODELS], workflow: null };
  const pipeline = await loadPipeline(store, 'shapes-32');
  const loop = await handLoop(store, pipeline, { steps: STEPS, cfg: CFG, batch: BATCH });
  // Time spent inside onnxruntime, for both sides: wrap run() of the shared session objects.
  let inOnnx = 0;
  for (const file of [pipeline.model.unet.file, pipeline.textEncoder.session.file, pipeline.vae.decoder.file]) {
    const session = (await store.borrow(file)).session as unknown as { run: (...a: unknown[]) => Promise<unknown> };
    const run = session.run.bind(session);
    session.run = async (...a: unknown[]) => {
      const t0 = performance.now();
      try {
        return await run(...a);
      } finally {
        inOnnx += performance.now() - t0;
      }
    };
  }
  const wf = JSON.parse(readFileSync(join(ROOT, 'workflows', 'txt2img.json'), 'utf8'));
  const prompt: string = wf.nodes.positive.inputs.text;

  // Same answer?
  const check = await new Executor(registry).run(workflow(undefined), { services });
  const checked = check.outputs.decode;
  if (checked.status !== 'succeeded') throw new Error(`txt2img failed: ${JSON.stringify(checked)}`);
  const engineImage = (checked.values.image as Tensor).data;
  const loopImage = await loop.run(prompt, '', SEED);
  let maxAbsDiff = 0;
  for (let i = 0; i < loopImage.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(loopImage[i] - engineImage[i]));

  const results: OverheadResult[] = [];
  const modes: { mode: string; engine: (r: number) => Promise<void>; loop: (r: number) => Promise<void> }[] = [];
  for (const preview of [undefined, 0]) {
    const wfCold = workflow(preview);
    modes.push({
      mode: `cold: a fresh Executor per run (every node runs; sessions stay loaded in the store)${preview === 0 ? ', preview_every 0' : ', latent previews every 4 steps (the workflow as written)'}`,
      engine: async () => { await new Executor(registry).run(wfCold, { services }); },
      loop: async () => { await loop.run(prompt, '', SEED); },
    });
  }
  const warmExecutor = new Executor(registry);
  const wfWarm = workflow(0);
  const embeddings = await loop.encode(['', prompt]);
  modes.push({
    mode: 'warm: one Executor, a new seed per run (pipeline and text encodings from the cache; loop reuses its embeddings), preview_every 0',
    engine: async (r) => { wfWarm.nodes.noise.inputs.seed = 1000 + r; await warmExecutor.run(wfWarm, { services }); },
    loop: async (r) => { await loop.run(prompt, '', 1000 + r, embeddings); },
  });

  for (const m of modes) {
    const engine: number[] = [], hand: number[] = [], pairedCpu: number[] = [], engineOut: number[] = [], handOut: number[] = [], onnx: number[] = [], paired: number[] = [], engineOnnx: number[] = [], loopOnnx: number[] = [], engineCpu: number[] = [], loopCpu: number[] = [];
    for (let r = 0; r < WARMUP + REPEATS; r++) {
      // Alternate the order so drift in machine load hits both alike.
      const first = r % 2 === 0 ? 'engine' : 'loop';
      for (const which of first === 'engine' ? ['engine', 'loop'] : ['loop', 'engine']) {
        inOnnx = 0;
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await (which === 'engine' ? m.engine(r) : m.loop(r));
        const ms = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        if (r < WARMUP) continue;
        (which === 'engine' ? engineCpu : loopCpu).push((cpu.user + cpu.system) / 1000);
        (which === 'engine' ? engine : hand).push(ms);
        (which === 'engine' ? engineOut : handOut).push(ms - inOnnx);
        onnx.push(inOnnx);
        (which === 'engine' ? engineOnnx : loopOnnx).push(inOnnx);
      }
      if (r >= WARMUP) {
        paired.push(engine[engine.length - 1] / hand[hand.length - 1]);
        pairedCpu.push(engineCpu[engineCpu.length - 1] / loopCpu[loopCpu.length - 1]);
      }
    }
    const res = {
      threads, mode: m.mode, engineMs: median(engine), loopMs: median(hand), ratio: median(engine) / median(hand), engineMinMs: Math.min(...engine), loopMinMs: Math.min(...hand),
      engineOutsideMs: median(engineOut), loopOutsideMs: median(handOut), onnxMs: median(onnx), engineOnnxMs: median(engineOnnx), loopOnnxMs: median(loopOnnx), maxAbsDiff,
      pairedRatio: median(paired), pairedRatioP10: quantile(paired, 0.1), pairedRatioP90: quantile(paired, 0.9),
      engineCpuMs: median(engineCpu), loopCpuMs: median(loopCpu), cpuRatio: median(engineCpu) / median(loopCpu), pairedCpuRatio: median(pairedCpu), pairedCpuRatioP10: quantile(pairedCpu, 0.1), pairedCpuRatioP90: quantile(pairedCpu, 0.9),
      engineOutsideP10: quantile(engineOut, 0.1), engineOutsideP90: quantile(engineOut, 0.9), loopOutsideP10: quantile(handOut, 0.1), loopOutsideP90: quantile(handOut, 0.9),
    };
    log(`  ${threads} thread(s), ${m.mode.split(':')[0]}${m.mode.includes('preview_every 0') ? ' (no previews)' : ''}: engine ${res.engineMs.toFixed(2)} ms, loop ${res.loopMs.toFixed(2)} ms, ratio ${res.ratio.toFixed(4)}, CPU ${res.engineCpuMs.toFixed(2)} / ${res.loopCpuMs.toFixed(2)} ms = ${res.cpuRatio.toFixed(4)}, paired ${res.pairedRatio.toFixed(4)} (p10 ${res.pairedRatioP10.toFixed(3)}, p90 ${res.pairedRatioP90.toFixed(3)}); outside onnxruntime: engine ${res.engineOutsideMs.toFixed(2)} ms, loop ${res.loopOutsideMs.toFixed(2)} ms (onnx: engine ${res.engineOnnxMs.toFixed(2)} ms, loop ${res.loopOnnxMs.toFixed(2)} ms)`);
    results.push(res);
  }
  await store.close();
  return results;
}

// ---------------------------------------------------------------------------------------------------

interface LatencyRow { model: string; batch: number; threads: number; medianMs: number; p10Ms: number; p90Ms: number }

async function latencies(threads: number): Promise<LatencyRow[]> {
  const store = modelStore(threads);
  const rows: LatencyRow[] = [];
  const f32 = (shape: number[], seed: number) => toOrt(randomNormal(shape, seed, 'float32'));
  const time = async (model: string, file: string, batch: number, feeds: Record<string, OrtTensor>, fetch: string[]) => {
    const session = (await store.borrow(await store.open(join(MODELS, file)).then((s) => s.file))).session;
    const samples: number[] = [];
    for (let r = 0; r < 20 + LATENCY_RUNS; r++) {
      const t0 = performance.now();
      await session.run(feeds as never, fetch);
      if (r >= 20) samples.push(performance.now() - t0);
    }
    const row = { model, batch, threads, medianMs: median(samples), p10Ms: quantile(samples, 0.1), p90Ms: quantile(samples, 0.9) };
    log(`  ${model.padEnd(28)} b${batch} ${threads}t: ${row.medianMs.toFixed(3)} ms (p10 ${row.p10Ms.toFixed(3)}, p90 ${row.p90Ms.toFixed(3)})`);
    rows.push(row);
  };
  const ts = (b: number, v: number) => toOrt(new Tensor([b], new Float32Array(b).fill(v)));
  for (const [pack, label] of [['shapes-32', 'unet (eps)'], ['shapes-32-flow', 'unet (flow)']] as const) {
    for (const b of pack === 'shapes-32' ? [1, 2, 4, 8] : [2]) {
      await time(label, `${pack}/unet/model.onnx`, b, { sample: f32([b, 4, 8, 8], 1), timestep: ts(b, 500), encoder_hidden_states: f32([b, 16, 64], 2) }, ['out_sample']);
    }
  }
  for (const b of [1, 2]) {
    const ids = Array.from({ length: b }, () => [1, 4, 6, 9, 16, 23, 24, 25, 2, 0, 0, 0, 0, 0, 0, 0]).flat();
    await time('text_encoder', 'shapes-32/text_encoder/model.onnx', b, { input_ids: idsTensor(ids, [b, 16], 'int32') }, ['last_hidden_state']);
  }
  for (const b of [1, 2]) await time('vae_encoder', 'shapes-32/vae_encoder/model.onnx', b, { sample: f32([b, 3, 32, 32], 3) }, ['latent_sample']);
  for (const b of [1, 2]) await time('vae_decoder', 'shapes-32/vae_decoder/model.onnx', b, { latent_sample: f32([b, 4, 8, 8], 4) }, ['sample']);
  await time('classifier (noisy latent)', 'shapes-32/classifier/model.onnx', 1, { sample: f32([1, 4, 8, 8], 5), timestep: ts(1, 500) }, ['logits']);
  await time('classifier grad.onnx', 'shapes-32/classifier/grad.onnx', 1, { sample: f32([1, 4, 8, 8], 5), timestep: ts(1, 500), weights: f32([1, 19], 6) }, ['logits', 'grad']);
  for (const b of [1, 8]) await time('attribute_classifier', 'shapes-32/attribute_classifier/model.onnx', b, { sample: f32([b, 3, 32, 32], 7) }, ['logits']);
  await store.close();
  return rows;
}

// ---------------------------------------------------------------------------------------------------

async function endToEnd(): Promise<{ processSeconds: number[]; inProcess: { threads: number; ms: number }[] }> {
  const processSeconds: number[] = [];
  const out = join(os.tmpdir(), 'diffgraph-bench-e2e');
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    execFileSync(process.execPath, [join(ROOT, 'packages/server/bin/diffgraph.js'), 'run', join(ROOT, 'workflows/txt2img.json'), '--out', out,
      '--set', `latent.batch=${BATCH}`, '--set', `guider.cfg=${CFG}`, '--set', `schedule.steps=${STEPS}`, '--json'], { cwd: ROOT, stdio: 'ignore' });
    processSeconds.push((performance.now() - t0) / 1000);
  }
  log(`  CLI process (node start, session loads, 20 steps, decode, 2 PNGs): median ${median(processSeconds).toFixed(3)} s`);
  return { processSeconds, inProcess: [] };
}

// ---------------------------------------------------------------------------------------------------


async function main(): Promise<void> {
  const resultsFile = join(ROOT, 'bench', 'models-results.json');
  if (process.argv.includes('--render-only')) {
    writeFileSync(join(ROOT, 'docs', 'benchmarks-models.md'), render(JSON.parse(readFileSync(resultsFile, 'utf8'))));
    log('re-rendered docs/benchmarks-models.md from bench/models-results.json');
    return;
  }
  if (process.argv.includes('--precision-only') || process.argv.includes('--layouts-only') || process.argv.includes('--overhead-only')) {
    // Re-measures one section; the others keep their committed figures.
    const previous = JSON.parse(readFileSync(resultsFile, 'utf8'));
    const results = process.argv.includes('--precision-only')
      ? { ...previous, precision: await measurePrecision() }
      : process.argv.includes('--layouts-only')
        ? { ...previous, layouts: await measureLayouts() }
        : process.argv.includes('--baseline')
          ? { ...previous, overheadBaseline: { commit: gitCommit(), ...(await measureOverhead()) } }
          : { ...previous, ...(await measureOverhead()) };
    writeFileSync(resultsFile, JSON.stringify(results, null, 1) + '\n');
    writeFileSync(join(ROOT, 'docs', 'benchmarks-models.md'), render(results));
    log('wrote docs/benchmarks-models.md and bench/models-results.json');
    return;
  }
  const started = performance.now();
  const load = os.loadavg()[0];
  const over = (await measureOverhead()).overhead;
  log(`Latency per call, median of ${LATENCY_RUNS} runs after 20 warm-up`);
  const lat: LatencyRow[] = [];
  for (const t of [1, 2]) lat.push(...(await latencies(t)));
  log('End to end');
  const e2e = await endToEnd();
  const prec = await measurePrecision();
  const layouts = await measureLayouts();
  const seconds = (performance.now() - started) / 1000;
  const loadAfter = os.loadavg()[0];
  const results = { generated: new Date().toISOString(), cpu: cpuModel(), cores: os.availableParallelism(), loadavgBefore: load, loadavgAfter: loadAfter, seconds, overhead: over, latency: lat, e2e, precision: prec, layouts };
  writeFileSync(join(ROOT, 'bench', 'models-results.json'), JSON.stringify(results, null, 1) + '\n');
  writeFileSync(join(ROOT, 'docs', 'benchmarks-models.md'), render(results));
  log(`wrote docs/benchmarks-models.md and bench/models-results.json (${seconds.toFixed(1)} s)`);
}

function gitCommit(): string {
  return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
}

async function measureOverhead() {
  const loadavgBefore = os.loadavg()[0];
  log(`Engine overhead: txt2img, batch ${BATCH}, CFG ${CFG}, DPM-Solver++ 2M, ${STEPS} trailing steps; median of ${REPEATS} interleaved repeats`);
  const rows: OverheadResult[] = [];
  for (const t of OVERHEAD_THREADS) rows.push(...(await overhead(t)));
  return { overhead: rows, overheadMeasured: { generated: new Date().toISOString(), loadavgBefore, loadavgAfter: os.loadavg()[0], repeats: REPEATS } };
}

async function measurePrecision() {
  log('Precision: fp16 exports of the pack');
  return { generated: new Date().toISOString(), loadavg: os.loadavg()[0], ...(await precision(log)) };
}

async function measureLayouts() {
  log('SDXL layout: per-step cost on the tiny fixtures');
  return { generated: new Date().toISOString(), loadavg: os.loadavg()[0], ...(await layoutOverhead(log)) };
}

/** The two cold rows of each thread count differ only in Sample's preview_every. */
function previewNote(rows: OverheadResult[]): string {
  const parts = [...new Set(rows.map((o) => o.threads))].map((t) => {
    const withPreview = rows.find((o) => o.threads === t && o.mode.startsWith('cold') && !o.mode.includes('preview_every 0'));
    const without = rows.find((o) => o.threads === t && o.mode.startsWith('cold') && o.mode.includes('preview_every 0'));
    return withPreview && without ? `${(withPreview.engineOutsideMs - without.engineOutsideMs).toFixed(2)} ms at ${t} thread${t > 1 ? 's' : ''}` : '';
  }).filter(Boolean);
  return 'Latent previews (`Sample` preview_every 4) are encoded only when someone subscribes to `node.preview` (`NodeContext.previewing`); nobody does here, ' +
    `so the two cold rows differ by noise alone (${parts.join(', ')} outside onnxruntime).`;
}

type OverheadRun = { overhead: OverheadResult[]; overheadMeasured?: { generated: string; loadavgBefore: number; loadavgAfter: number; repeats: number } };

/** Before/after table of the engine-overhead work: the baseline run (`--overhead-only --baseline`) against the current one. */
function renderBeforeAfter(before: (OverheadRun & { commit: string }) | undefined, after: OverheadRun): string[] {
  if (!before) return [];
  const f = (x: number | undefined, d = 3) => (x === undefined ? '–' : x.toFixed(d));
  const spread = (o: OverheadResult, m: 'pairedRatio' | 'pairedCpuRatio') =>
    o[m] === undefined ? '–' : `${f(o[m])} (${f(o[`${m}P10`])}–${f(o[`${m}P90`])})`;
  const mode = (o: OverheadResult) => `${o.mode.split(':')[0]}${o.mode.startsWith('cold') ? (o.mode.includes('preview_every 0') ? ', preview_every 0' : ', preview_every 4') : ''}`;
  const when = (m: OverheadRun['overheadMeasured']) => (m ? `${m.generated.slice(0, 16).replace('T', ' ')} UTC, ${m.repeats} repeats, load average ${f(m.loadavgBefore, 1)} → ${f(m.loadavgAfter, 1)}` : '–');
  const rows = after.overhead.map((a) => {
    const b = before.overhead.find((o) => o.threads === a.threads && o.mode === a.mode);
    const pair = (x: (o: OverheadResult) => string) => `${b ? x(b) : '–'} → ${x(a)}`;
    return `| ${a.threads} | ${mode(a)} | ${pair((o) => f(o.ratio))} | ${pair((o) => spread(o, 'pairedRatio'))} | ${pair((o) => f(o.cpuRatio))} | ${pair((o) => spread(o, 'pairedCpuRatio'))} | ${pair((o) => `${f(o.engineOutsideMs, 2)} / ${f(o.loopOutsideMs, 2)}`)} |`;
  });
  return [
    '### Before and after the overhead work',
    '',
    `Before: commit ${before.commit} (${when(before.overheadMeasured)}). After: this tree (${when(after.overheadMeasured)}). ` +
      'Both with `pnpm bench:models --overhead-only` (the before side with `--baseline`), before then after for each thread count, on the same machine.',
    '',
    '| intra-op threads | mode | ratio of medians (wall) | paired wall ratio: median (p10–p90) | ratio of median CPU times | paired CPU ratio: median (p10–p90) | outside onnxruntime, Executor / loop (ms) |',
    '|---:|---|---|---|---|---|---|',
    ...rows,
    '',
    'The paired ratios divide the two sides of each repeat (they run back to back); CPU time is the process\'s user + system time per run (`process.cpuUsage`), ' +
      'which, unlike wall time, does not count the time other jobs hold the CPUs. On a machine as loaded as this one (the load average is several times the core count) the wall ratios ' +
      'swing by tens of percent from run to run and even CPU time (steal and shared caches) by ±10% (see the p10–p90 spreads): where a spread is wider than the difference it measures, the run does not decide it. ' +
      'The steadiest figure is the time outside onnxruntime at 1 intra-op thread (with 2, onnxruntime\'s second thread competes with the JavaScript for the two cores).',
    '',
    'Where the time went (CPU profiles of 200 cold and 200 warm runs, `node --cpu-prof` and the inspector\'s profiler): per step, the UNet wrapper stacked the CFG conditioning ' +
      'again through an `await` and re-wrapped it as onnxruntime tensors, stacked the states through the generic concatenation, and every progress event built an event object and copied the ' +
      'subscriber list with nobody subscribed; per node, the executor raced the node against an abort signal no caller could fire (an event listener added and removed), ' +
      'and cloned every primitive literal with `structuredClone`; per run, validation listed the registry\'s node types for suggestions it never made; ' +
      'on a cold run, `LoadPipeline` re-read and re-parsed every config file and the tokenizer and rebuilt the schedule tables, and confined each file with a JavaScript ' +
      '`realpathSync` (one `lstat` per path component). Now the model store shares a loaded pipeline while the folder\'s files are unchanged, and paths resolve with one `realpath` call. ' +
      'What remains: validation and signature hashing, the generic tensor plumbing of the solver and guider (a new buffer per linear combination, one async layer per wrapper), ' +
      'and the cold run\'s other nodes (the text encodings, the time grid).',
    '',
  ];
}

function render(r: OverheadRun & { overheadBaseline?: OverheadRun & { commit: string }; generated: string; cpu: string; cores: number; loadavgBefore: number; loadavgAfter: number; seconds: number; overhead: OverheadResult[]; latency: LatencyRow[]; e2e: { processSeconds: number[] }; precision?: PrecisionResult & { generated?: string; loadavg?: number }; layouts?: { generated: string; loadavg: number; steps: number; repeats: number; rows: LayoutRow[] } }): string {
  const f = (x: number, d = 2) => x.toFixed(d);
  const primary = r.overhead.filter((o) => o.mode.startsWith('cold') && !o.mode.includes('preview_every 0'));
  const lines: string[] = [
    '# Benchmarks: the ONNX model pack in the engine',
    '',
    `Generated by \`pnpm bench:models\` (bench/models.ts) on ${r.generated.slice(0, 10)}: ${r.cpu}, ${r.cores} cores, onnxruntime-node CPU execution provider, ` +
      `\`graphOptimizationLevel: 'all'\`, sequential execution, 1 inter-op thread. Load average ${f(r.loadavgBefore)} before, ${f(r.loadavgAfter)} after (other jobs may share this machine; every comparison below interleaves its two sides). ` +
      `Every number is in bench/models-results.json. Pack quality (prompt accuracy, VAE error, sample grids) is in [model-pack.md](model-pack.md).`,
    '',
    '## Engine overhead',
    '',
    `\`workflows/txt2img.json\` with batch ${BATCH}, CFG ${CFG}, DPM-Solver++ 2M on ${STEPS} trailing steps, run through the \`Executor\` (outputs: \`decode\`, so no PNG is written), ` +
      `against a hand-written loop in the same process that calls the same \`onnxruntime\` sessions (borrowed from the same \`ModelStore\`, so the same intra-op threads) with the same inputs: ` +
      'the tokenizer and text encoder once per prompt, one batch-4 UNet call per step (the CFG pair), DPM-Solver++ 2M written out by hand on the same time grid, the VAE decoder, the clamp. ' +
      (primary[0]?.maxAbsDiff === 0 ? 'The loop rounds to float32 where the engine stores a tensor, and its images equal the workflow\'s bit for bit (bench/hand-loop.test.ts checks this). '
        : `The loop's images equal the workflow's to ${primary[0] ? primary[0].maxAbsDiff.toExponential(1) : '–'} (max abs difference on [0, 1]). `) +
      `Median of ${r.overheadMeasured?.repeats ?? REPEATS} repeats after ${WARMUP} warm-up; engine and loop alternate within each repeat` +
      (r.overheadMeasured ? ` (measured ${r.overheadMeasured.generated.slice(0, 16).replace('T', ' ')} UTC, load average ${f(r.overheadMeasured.loadavgBefore)} before, ${f(r.overheadMeasured.loadavgAfter)} after; \`pnpm bench:models --overhead-only\` re-measures this section alone).` : '.'),
    '',
    '| intra-op threads | mode | Executor (ms) | hand-written loop (ms) | **ratio of medians** | fastest run: Executor / loop (ms) | outside onnxruntime: Executor / loop (ms) | inside onnxruntime (ms) | ratio from the split: (onnx + Executor outside) / (onnx + loop outside) |',
    '|---:|---|---:|---:|---:|---|---|---:|---:|',
    ...r.overhead.map((o) => `| ${o.threads} | ${o.mode} | ${f(o.engineMs)} | ${f(o.loopMs)} | **${f(o.ratio, 3)}** | ${f(o.engineMinMs)} / ${f(o.loopMinMs)} | ${f(o.engineOutsideMs)} / ${f(o.loopOutsideMs)} | ${f(o.onnxMs)} | ${f((o.onnxMs + o.engineOutsideMs) / (o.onnxMs + o.loopOutsideMs), 3)} |`),
    '',
    '"Outside onnxruntime" is the wall time of a run minus the time spent inside `session.run` of the UNet, text encoder and VAE decoder sessions (wrapped for both sides alike): the JavaScript each side adds. ' +
      'The last column combines the medians of the split, which is less sensitive to other load on the machine than the ratio of whole-run medians (onnxruntime time is what other load inflates).',
    '',
    previewNote(r.overhead),
    '',
    'What the engine adds per run: workflow validation (ajv), planning and signature hashing, one event-loop yield per node and a throttled one between model calls ' +
      '(so a server stays responsive and a cancel lands within a step), per-node output caching, and on a cold run the pipeline and tokenizer re-read.',
    '',
    ...renderBeforeAfter(r.overheadBaseline, r),
    '## Latency per model call',
    '',
    `Median over ${LATENCY_RUNS} \`session.run\` calls after 20 warm-up calls (p10–p90 in brackets), random inputs, batch as given.`,
    '',
    '| model | batch | 1 intra-op thread (ms) | 2 intra-op threads (ms) |',
    '|---|---:|---:|---:|',
  ];
  const keys = [...new Set(r.latency.map((l) => `${l.model}|${l.batch}`))];
  for (const k of keys) {
    const [model, batch] = k.split('|');
    const cell = (t: number) => {
      const l = r.latency.find((x) => x.model === model && String(x.batch) === batch && x.threads === t);
      return l ? `${f(l.medianMs, 3)} (${f(l.p10Ms, 2)}–${f(l.p90Ms, 2)})` : '–';
    };
    lines.push(`| ${model} | ${batch} | ${cell(1)} | ${cell(2)} |`);
  }
  const e2e = median(r.e2e.processSeconds);
  lines.push(
    '',
    '## End to end',
    '',
    `20 steps, CFG ${CFG}, batch ${BATCH} (two images, one batch-4 UNet call per step):`,
    '',
    '| how | seconds |',
    '|---|---:|',
    ...r.overhead.filter((o) => o.mode.startsWith('cold') && !o.mode.includes('preview_every 0')).map((o) => `| in process, Executor, cold output cache, sessions loaded, ${o.threads} intra-op thread${o.threads > 1 ? 's' : ''} | ${f(o.engineMs / 1000, 3)} |`),
    `| \`pnpm diffgraph run workflows/txt2img.json --set latent.batch=2\`: a new process (Node start, module load, 4 session loads, sampling, decode, 2 PNGs written), default threads; median of ${r.e2e.processSeconds.length} | ${f(e2e, 3)} |`,
    '',
    ...renderPrecision(r.precision),
  );
  if (r.precision?.generated) lines.push(`(Precision measured ${r.precision.generated.slice(0, 10)}, load average ${f(r.precision.loadavg ?? 0)}; \`pnpm bench:models --precision-only\` re-measures this section alone.)`, '');
  lines.push(...renderLayoutOverhead(r.layouts));
  if (r.layouts) lines.push(`(Measured ${r.layouts.generated.slice(0, 10)}, load average ${f(r.layouts.loadavg)}; \`pnpm bench:models --layouts-only\` re-measures this section alone.)`, '');
  return lines.join('\n');
}

await main();
