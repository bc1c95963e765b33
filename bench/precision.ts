/**
 * fp16 vs float32 on the pack, for `pnpm bench:models` (section "Precision"). The fp16 forms of
 * shapes-32 are built offline by models/build/make_fp16_pack.py into models/build/work/ (Python and
 * the onnx package, not committed); without them the section says how to build them.
 *
 * Latency: txt2img (batch 2, CFG 4, DPM-Solver++ 2M, 20 trailing steps) through the Executor, the
 * variants interleaved within each repeat. Accuracy: the same prompts and seeds on every variant;
 * the decoded images' largest difference from float32, and prompt accuracy judged by the attribute
 * classifier (every object read), with Wilson intervals and the paired difference against float32.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Executor } from '../packages/engine/src/executor.ts';
import type { Tensor } from '../packages/engine/src/tensor.ts';
import { createRegistry, type HostServices } from '../packages/nodes/src/index.ts';
import { ModelStore } from '../packages/nodes/src/runtime/model-store.ts';
import { matchesObjects, readScenes } from './judge.ts';
import { median, MODELS, ROOT } from './pack-common.ts';
import { captionOf, randomScenes } from './scenes.ts';
import { pairedCounts, pairedDifference, wilson, type Interval } from './stats.ts';

export const WORK = join(MODELS, 'build', 'work');
// The pack as shipped already stores its weights in float16 behind Casts (float32 IO and compute):
// the "mixed" form of fp16 exports. The fp16 form computes in float16 too.
const VARIANTS = [
  { name: 'float32 (as shipped)', io: 'float32 IO and compute, float16-stored weights', root: MODELS, path: 'shapes-32' },
  { name: 'fp16', io: 'float16 IO and compute (the optimum --fp16 form)', root: WORK, path: 'shapes-32-fp16' },
] as const;
const COMPONENTS = ['text_encoder', 'unet', 'vae_decoder', 'vae_encoder'];
/** Random scenes drawn; the one-object ones are the prompts. */
const SCENES = Number(process.env.PRECISION_SCENES ?? 80);
const SEEDS_PER_PROMPT = 2;
const REPEATS = Number(process.env.PRECISION_REPEATS ?? 21);

export interface PrecisionRow {
  variant: string;
  io: string;
  onnxBytes: number;
  runMs: number;
  maxAbsDiff: number;
  right: number;
  n: number;
  accuracy: Interval;
  versusFloat32: Interval | null;
}

export type PrecisionResult = { rows: PrecisionRow[]; prompts: number; seedsPerPrompt: number; repeats: number } | { missing: string };

function workflow(path: string, prompt: string, seed: number, batch: number) {
  const wf = JSON.parse(readFileSync(join(ROOT, 'workflows', 'txt2img.json'), 'utf8'));
  Object.assign(wf.nodes.pipeline.inputs, { path });
  Object.assign(wf.nodes.positive.inputs, { text: prompt });
  Object.assign(wf.nodes.latent.inputs, { batch });
  Object.assign(wf.nodes.noise.inputs, { seed });
  Object.assign(wf.nodes.sample.inputs, { preview_every: 0 });
  wf.outputs = ['decode'];
  return wf;
}

/** Bytes of the pipeline's four ONNX components (graph and external weights). */
function onnxBytes(dir: string): number {
  let total = 0;
  for (const component of COMPONENTS) {
    for (const entry of readdirSync(join(dir, component), { withFileTypes: true })) {
      if (entry.isFile() && /\.(onnx|pb|data)$/.test(entry.name)) total += statSync(join(dir, component, entry.name)).size;
    }
  }
  return total;
}

export async function precision(log: (s: string) => void): Promise<PrecisionResult> {
  const missing = VARIANTS.filter((v) => !existsSync(join(v.root, v.path, 'model_index.json')));
  if (missing.length > 0) {
    return { missing: `${missing.map((v) => v.path).join(', ')} not built: run \`/usr/bin/python3 models/build/make_fp16_pack.py\` (Debian's python3-onnx) first` };
  }
  const store = new ModelStore({ roots: [MODELS, WORK], intraOpThreads: 1, interOpThreads: 1, executionProvider: 'cpu' });
  const services: HostServices = { modelStore: store, outputDir: join(os.tmpdir(), 'diffgraph-bench-precision'), inputRoots: [], modelRoots: [MODELS, WORK], workflow: null };
  const run = async (path: string, prompt: string, seed: number, batch: number): Promise<Tensor> => {
    const result = await new Executor(createRegistry()).run(workflow(path, prompt, seed, batch), { services });
    const out = result.outputs.decode;
    if (out.status !== 'succeeded') throw new Error(`${path}: ${JSON.stringify(out)}`);
    return out.values.image as Tensor;
  };

  const times = VARIANTS.map(() => [] as number[]);
  for (let r = 0; r < REPEATS + 2; r++) {
    for (const [i, v] of VARIANTS.entries()) {
      const t0 = performance.now();
      await run(v.path, 'a big red circle on the left', 7, 2);
      if (r >= 2) times[i]!.push(performance.now() - t0);
    }
  }

  const scenes = randomScenes(SCENES, 2024).filter((s) => s.objects.length === 1);
  const outcomes = VARIANTS.map(() => [] as boolean[]);
  const maxDiff = VARIANTS.map(() => 0);
  for (const [k, scene] of scenes.entries()) {
    const images = [];
    for (const v of VARIANTS) images.push(await run(v.path, captionOf(scene), 9000 + k, SEEDS_PER_PROMPT));
    for (const [i, image] of images.entries()) {
      for (const reading of await readScenes(store, image)) outcomes[i]!.push(matchesObjects(reading, scene.objects));
      const reference = images[0]!.data;
      image.data.forEach((x, j) => (maxDiff[i] = Math.max(maxDiff[i]!, Math.abs(x - reference[j]!))));
    }
  }
  await store.close();

  const rows = VARIANTS.map((v, i): PrecisionRow => {
    const right = outcomes[i]!.filter(Boolean).length;
    const row = {
      variant: v.name, io: v.io, onnxBytes: onnxBytes(join(v.root, v.path)), runMs: median(times[i]!), maxAbsDiff: maxDiff[i]!,
      right, n: outcomes[i]!.length, accuracy: wilson(right, outcomes[i]!.length),
      versusFloat32: i === 0 ? null : pairedDifference(pairedCounts(outcomes[i]!, outcomes[0]!)),
    };
    log(`  ${v.name.padEnd(8)} ${row.runMs.toFixed(1)} ms/run, max |Δ| ${row.maxAbsDiff.toExponential(2)}, ${right}/${row.n} on prompt`);
    return row;
  });
  return { rows, prompts: scenes.length, seedsPerPrompt: SEEDS_PER_PROMPT, repeats: REPEATS };
}

export function renderPrecision(p: PrecisionResult | undefined): string[] {
  const head = ['## Precision: fp16 exports of the pack', ''];
  if (!p) return [...head, 'Not measured in this run.', ''];
  if ('missing' in p) return [...head, `Not measured: ${p.missing}.`, ''];
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
  const interval = (i: Interval) => `${pct(i.estimate)} (${pct(i.lower)}–${pct(i.upper)})`;
  const signed = (i: Interval) => `${(100 * i.estimate).toFixed(1)} (${(100 * i.lower).toFixed(1)}, ${(100 * i.upper).toFixed(1)})`;
  return [
    ...head,
    'The pack as shipped already stores its weights in float16 behind Cast nodes, computing in float32 with float32 IO (the "mixed" form of fp16 exports). ' +
      '`models/build/make_fp16_pack.py` (not committed output; build it with Debian\'s python3-onnx) converts it to the form `optimum-cli export onnx --fp16` writes: float16 compute and IO. ' +
      'The runtime converts at the session boundary; samplers stay in float32/float64 ([precision.md](precision.md)). ' +
      `Run time: txt2img (batch 2, CFG 4, DPM-Solver++ 2M, 20 trailing steps, decode) through the Executor, 1 intra-op thread, median of ${p.repeats} runs interleaved across the variants. ` +
      `Accuracy: ${p.prompts} random one-object prompts × ${p.seedsPerPrompt} seeds, the same on every variant, judged by the attribute classifier (every attribute and the object count right); 95 % Wilson intervals, and the paired difference against float32 (Newcombe).`,
    '',
    '| variant | precision | ONNX bytes | run (ms) | decoded images: max \\|Δ\\| vs float32 (on [0, 1]) | prompt accuracy (n) | minus float32, points (95 % CI) |',
    '|---|---|---:|---:|---:|---|---|',
    ...p.rows.map((r) => `| ${r.variant} | ${r.io} | ${(r.onnxBytes / 2 ** 20).toFixed(1)} MiB | ${r.runMs.toFixed(1)} | ${r.versusFloat32 === null ? '–' : r.maxAbsDiff.toExponential(1)} | ${interval(r.accuracy)} (${r.n}) | ${r.versusFloat32 ? signed(r.versusFloat32) : '–'} |`),
    '',
    'The files are the same size because the shipped pack already stores float16 weights. On the CPU execution provider onnxruntime has float16 kernels for few operators and runs the others in float32 behind Casts it inserts, ' +
      'so float16 compute costs time here rather than saving it; it is for GPUs (docs/gpu.md). Each run uses a fresh Executor (the pipeline\'s configs and tokenizer re-read, sessions kept), on a machine shared with other jobs: compare the rows, not the absolute times with the engine-overhead section.',
    '',
  ];
}
