/**
 * `pnpm bench:pack`: quality evidence for the default model pack, measured from Node (no Python).
 *
 * - Prompt accuracy: txt2img through the Executor for a fixed prompt set, each image classified by
 *   models/shapes-32/attribute_classifier (a clean-image classifier, 100 % on held-out data), vs steps
 *   and CFG scale, for the eps pack (DPM-Solver++ 2M, trailing) and the flow pack (Euler, time_uniform).
 *   Two-object prompts are all left/right, so the right-hand object is checked too, on the mirrored image.
 * - VAE reconstruction on held-out scenes drawn by bench/scenes.ts, and on generated images re-encoded.
 * - Sample grids in docs/pack/*.png.
 *
 * Writes docs/pack/results.json, the PNGs, and the tables between the markers in docs/model-pack.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Executor } from '../packages/engine/src/executor.ts';
import { Tensor } from '../packages/engine/src/tensor.ts';
import { createRegistry, type HostServices } from '../packages/nodes/src/index.ts';
import { decodePng, encodePng } from '../packages/nodes/src/image/png.ts';
import { loadPipeline } from '../packages/nodes/src/models/onnx/pipeline.ts';
import { classifyImages, modelStore, MODELS, montage, ROOT, type Attributes } from './pack-common.ts';
import { pct, scoreSingle, scoreTwo, SINGLE, TWO, type SingleScore, type TwoScore } from './pack-prompts.ts';
import { captionOf, drawScenes, labelsOf, randomScenes, COLOURS, POSITIONS, SHAPES, SIZES, type Scene } from './scenes.ts';
import { formatProportion } from './stats.ts';

const STEPS = [5, 10, 20, 40];
const CFGS = [1, 2, 4, 7];
const SEEDS_PER_PROMPT = 4;
const VAE_SCENES = 512;
const THREADS = Number(process.env.PACK_THREADS ?? 2);
const OUT = join(ROOT, 'docs', 'pack');
const DOC = join(ROOT, 'docs', 'model-pack.md');
const log = (s: string) => console.log(s);

interface Pack { name: string; path: string; solver: Record<string, unknown>; spacing: string }
const EPS: Pack = { name: 'eps (shapes-32), DPM-Solver++ 2M, trailing', path: 'shapes-32', solver: { kind: 'dpmsolver++', order: 2 }, spacing: 'trailing' };
const FLOW: Pack = { name: 'flow (shapes-32-flow), Euler, time_uniform', path: 'shapes-32-flow', solver: { kind: 'euler' }, spacing: 'time_uniform' };

function txt2img(pack: Pack, prompt: string, steps: number, cfg: number, seed: number, batch: number) {
  const link = (from: string, output: string) => ({ from, output });
  return {
    format: 'diffgraph/workflow@1',
    nodes: {
      pipeline: { type: 'LoadPipeline', inputs: { path: pack.path } },
      positive: { type: 'TextEncode', inputs: { encoder: link('pipeline', 'text_encoder'), text: prompt } },
      negative: { type: 'TextEncode', inputs: { encoder: link('pipeline', 'text_encoder'), text: '' } },
      guider: { type: 'CFGGuider', inputs: { model: link('pipeline', 'model'), positive: link('positive', 'conditioning'), negative: link('negative', 'conditioning'), cfg } },
      schedule: { type: 'Schedule', inputs: { model: link('pipeline', 'model'), spacing: pack.spacing, steps } },
      solver: { type: 'Solver', inputs: pack.solver },
      noise: { type: 'RandomNoise', inputs: { seed } },
      latent: { type: 'EmptyLatent', inputs: { batch, model: link('pipeline', 'model') } },
      sample: { type: 'Sample', inputs: { noise: link('noise', 'noise'), guider: link('guider', 'guider'), solver: link('solver', 'solver'), sigmas: link('schedule', 'sigmas'), latent: link('latent', 'latent'), preview_every: 0 } },
      decode: { type: 'VAEDecode', inputs: { vae: link('pipeline', 'vae'), latent: link('sample', 'samples'), chunk: 64 } },
    },
    outputs: ['decode'],
  };
}

const store = modelStore(THREADS);
const executor = new Executor(createRegistry(), { cacheBytes: 64 * 2 ** 20 });
const services: HostServices = { modelStore: store, outputDir: join(os.tmpdir(), 'diffgraph-pack-quality'), inputRoots: [], modelRoots: [MODELS], workflow: null };

async function generate(pack: Pack, prompt: string, steps: number, cfg: number, seed: number, batch = SEEDS_PER_PROMPT): Promise<Tensor> {
  const result = await executor.run(txt2img(pack, prompt, steps, cfg, seed, batch), { services });
  const out = result.outputs.decode;
  if (out.status !== 'succeeded') throw new Error(`${pack.path} "${prompt}" ${steps} steps cfg ${cfg}: ${JSON.stringify(out)}`);
  return out.values.image as Tensor;
}

// ---------------------------------------------------------------------------------------------------
// VAE

interface VaeScore { l1: number; mse: number; psnr: number; n: number; classifierOnInput: number; classifierOnRecon: number; rightOnInput: number; rightOnRecon: number }

function errors(a: Tensor, b: Tensor): { l1: number; mse: number } {
  // On the [-1, 1] range the VAE works in (×2 the [0, 1] IMAGE values), as models/README.md reports.
  let l1 = 0, mse = 0;
  for (let i = 0; i < a.size; i++) {
    const d = 2 * (a.data[i] - b.data[i]);
    l1 += Math.abs(d);
    mse += d * d;
  }
  return { l1: l1 / a.size, mse: mse / a.size };
}

const allMatch = (a: Attributes, scene: Scene) => {
  const l = labelsOf(scene);
  return a.shape === SHAPES[l.shape] && a.colour === COLOURS[l.colour] && a.position === POSITIONS[l.position] && a.size === SIZES[l.size] && a.count === (l.count ? 'two' : 'one');
};

async function vaeOnScenes(): Promise<VaeScore> {
  const pipeline = await loadPipeline(store, 'shapes-32');
  const scenes = randomScenes(VAE_SCENES, 20240);
  const images = drawScenes(scenes);
  const recon = await pipeline.vae.decode(await pipeline.vae.encode(images, 64), 64);
  const { l1, mse } = errors(images, recon);
  const onInput = (await classifyImages(store, images)).filter((a, i) => allMatch(a, scenes[i])).length;
  const onRecon = (await classifyImages(store, recon)).filter((a, i) => allMatch(a, scenes[i])).length;
  return { l1, mse, psnr: 10 * Math.log10(4 / mse), n: scenes.length, classifierOnInput: pct(onInput, scenes.length), classifierOnRecon: pct(onRecon, scenes.length), rightOnInput: onInput, rightOnRecon: onRecon };
}

async function vaeOnGenerated(images: Tensor[]): Promise<{ l1: number; mse: number; psnr: number; n: number }> {
  const pipeline = await loadPipeline(store, 'shapes-32');
  let l1 = 0, mse = 0, n = 0;
  for (const image of images) {
    const recon = await pipeline.vae.decode(await pipeline.vae.encode(image, 64), 64);
    const e = errors(image, recon);
    l1 += e.l1 * image.shape[0];
    mse += e.mse * image.shape[0];
    n += image.shape[0];
  }
  return { l1: l1 / n, mse: mse / n, psnr: 10 * Math.log10(4 / (mse / n)), n };
}

// ---------------------------------------------------------------------------------------------------

const f1 = (x: number) => x.toFixed(1);
/** A percentage of n images with its 95 % Wilson interval. */
const P = (k: number, n: number) => formatProportion(k, n, 1).replace(' %', '');

function singleTable(rows: { steps: number; cfg: number; s: SingleScore }[]): string {
  const lines = ['| steps | CFG | shape | colour | position | size | count | **all correct** |', '|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const { steps, cfg, s } of rows) {
    lines.push(`| ${steps} | ${cfg} | ${P(s.shape, s.n)} | ${P(s.colour, s.n)} | ${P(s.position, s.n)} | ${P(s.size, s.n)} | ${P(s.count, s.n)} | **${P(s.all, s.n)}** |`);
  }
  return lines.join('\n');
}

function twoTable(rows: { steps: number; cfg: number; s: TwoScore }[]): string {
  const lines = ['| steps | CFG | left object: shape | colour | position | count = two | left object right | right object right | **both right** |', '|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const { steps, cfg, s } of rows) {
    lines.push(`| ${steps} | ${cfg} | ${P(s.shape, s.n)} | ${P(s.colour, s.n)} | ${P(s.position, s.n)} | ${P(s.count, s.n)} | ${P(s.first, s.n)} | ${P(s.second, s.n)} | **${P(s.both, s.n)}** |`);
  }
  return lines.join('\n');
}

/** The all-correct rate as a steps × CFG matrix. */
function matrix(rows: { steps: number; cfg: number; k: number; n: number }[]): string {
  const lines = [`| steps \\ CFG | ${CFGS.join(' | ')} |`, `|---:|${CFGS.map(() => '---:').join('|')}|`];
  for (const steps of STEPS) {
    lines.push(`| ${steps} | ${CFGS.map((cfg) => { const r = rows.find((x) => x.steps === steps && x.cfg === cfg); return r ? P(r.k, r.n) : '–'; }).join(' | ')} |`);
  }
  return lines.join('\n');
}

function maskImage(file: string): Tensor {
  return decodePng(readFileSync(file)).image;
}

function savePng(name: string, image: Tensor): void {
  writeFileSync(join(OUT, name), encodePng(image, 0, { deflateLevel: 9 }));
  log(`  wrote docs/pack/${name}`);
}

async function main(): Promise<void> {
  const started = performance.now();
  mkdirSync(OUT, { recursive: true });
  log(`pack quality: ${SINGLE.length} one-object + ${TWO.length} two-object prompts × ${SEEDS_PER_PROMPT} seeds, steps ${STEPS.join('/')}, CFG ${CFGS.join('/')}, ${THREADS} intra-op threads`);

  const eps: { steps: number; cfg: number; single: SingleScore; two: TwoScore }[] = [];
  const generated: Tensor[] = [];
  for (const steps of STEPS) {
    for (const cfg of CFGS) {
      const keep = steps === 20 && cfg === 4 ? generated : undefined;
      const gen = (prompt: string, seed: number) => generate(EPS, prompt, steps, cfg, seed);
      const single = await scoreSingle(store, gen, keep);
      const two = await scoreTwo(store, gen, keep);
      eps.push({ steps, cfg, single, two });
      log(`  eps  steps ${String(steps).padStart(2)} cfg ${cfg}: one object all-correct ${f1(pct(single.all, single.n))} %, two objects both right ${f1(pct(two.both, two.n))} %`);
    }
  }
  const flow: { steps: number; cfg: number; single: SingleScore; two: TwoScore }[] = [];
  for (const steps of STEPS) {
    for (const cfg of [4]) {
      const gen = (prompt: string, seed: number) => generate(FLOW, prompt, steps, cfg, seed);
      const single = await scoreSingle(store, gen);
      const two = await scoreTwo(store, gen);
      flow.push({ steps, cfg, single, two });
      log(`  flow steps ${String(steps).padStart(2)} cfg ${cfg}: one object all-correct ${f1(pct(single.all, single.n))} %, two objects both right ${f1(pct(two.both, two.n))} %`);
    }
  }

  log('VAE reconstruction');
  const vaeScenes = await vaeOnScenes();
  const vaeGenerated = await vaeOnGenerated(generated);
  log(`  held-out drawn scenes: L1 ${vaeScenes.l1.toFixed(4)}, MSE ${vaeScenes.mse.toFixed(5)}, PSNR ${vaeScenes.psnr.toFixed(1)} dB; classifier all-correct on inputs ${f1(vaeScenes.classifierOnInput)} %, on reconstructions ${f1(vaeScenes.classifierOnRecon)} %`);
  log(`  generated images re-encoded: L1 ${vaeGenerated.l1.toFixed(4)}, MSE ${vaeGenerated.mse.toFixed(5)}, PSNR ${vaeGenerated.psnr.toFixed(1)} dB`);

  log('grids');
  const gridPrompts = [SINGLE[0], SINGLE[7], SINGLE[14], SINGLE[17], TWO[0], TWO[5]];
  const gridRows: Tensor[] = [];
  for (const [i, scene] of gridPrompts.entries()) gridRows.push(await generate(EPS, captionOf(scene), 20, 4, 100 + i, 8));
  savePng('grid-eps.png', montage(gridRows, 8, 3));
  const flowRows: Tensor[] = [];
  for (const [i, scene] of gridPrompts.entries()) flowRows.push(await generate(FLOW, captionOf(scene), 20, 4, 100 + i, 8));
  savePng('grid-flow.png', montage(flowRows, 8, 3));
  const sweepPrompt = captionOf(SINGLE[0]);
  const sweepRows: Tensor[] = [];
  for (const cfg of CFGS) for (const steps of STEPS) sweepRows.push(await generate(EPS, sweepPrompt, steps, cfg, 300, 2));
  savePng('grid-steps-cfg.png', montage(sweepRows, 2 * STEPS.length, 3));
  // The example workflows' inputs and outputs: img2img (input, output), inpaint (input, mask, output), flow txt2img.
  const wfDir = join(ROOT, 'workflows');
  const runFile = async (file: string, node: string) => {
    const wf = JSON.parse(readFileSync(join(wfDir, file), 'utf8'));
    const result = await executor.run(wf, { outputs: [node], services: { ...services, inputRoots: [wfDir], workflow: wf } });
    const out = result.outputs[node];
    if (out.status !== 'succeeded') throw new Error(`${file}: ${JSON.stringify(out)}`);
    return out.values.image as Tensor;
  };
  savePng('workflows.png', montage([
    await runFile('img2img.json', 'image'), await runFile('img2img.json', 'decode'),
    await runFile('inpaint.json', 'image'), maskImage(join(wfDir, 'data', 'right-half-mask.png')), await runFile('inpaint.json', 'decode'),
    await runFile('flow-txt2img.json', 'decode'),
  ], 9, 4));
  savePng('vae-recon.png', montage([drawScenes(randomScenes(8, 77)), await (async () => { const p = await loadPipeline(store, 'shapes-32'); return p.vae.decode(await p.vae.encode(drawScenes(randomScenes(8, 77)))); })()], 8, 3));

  const seconds = (performance.now() - started) / 1000;
  const results = {
    generated: new Date().toISOString(), seconds, threads: THREADS, cpu: os.cpus()[0]?.model ?? 'unknown',
    prompts: { single: SINGLE.map(captionOf), two: TWO.map(captionOf), seedsPerPrompt: SEEDS_PER_PROMPT },
    grids: { rows: gridPrompts.map(captionOf), sweepPrompt },
    eps, flow, vaeScenes, vaeGenerated,
  };
  writeFileSync(join(OUT, 'results.json'), JSON.stringify(results, null, 1) + '\n');

  const single = (rows: typeof eps) => rows.map((r) => ({ steps: r.steps, cfg: r.cfg, s: r.single }));
  const two = (rows: typeof eps) => rows.map((r) => ({ steps: r.steps, cfg: r.cfg, s: r.two }));
  const nSingle = SINGLE.length * SEEDS_PER_PROMPT, nTwo = TWO.length * SEEDS_PER_PROMPT;
  const section = [
    `Measured by \`pnpm bench:pack\` (${new Date().toISOString().slice(0, 10)}, ${f1(seconds)} s, ${THREADS} intra-op threads on ${results.cpu}). ` +
      `Each cell: ${nSingle} one-object images (${SINGLE.length} prompts × ${SEEDS_PER_PROMPT} seeds) or ${nTwo} two-object images (${TWO.length} prompts × ${SEEDS_PER_PROMPT} seeds), classified by \`attribute_classifier\`; numbers are % of images, with the 95 % Wilson interval in parentheses (each prompt's 4 seeds are separate samples, but not independent of the prompt, so read the intervals as a lower bound on the uncertainty).`,
    '',
    '**One object, all five attributes right (shape, colour, position, size, count), eps pack, DPM-Solver++ 2M on trailing spacing:**',
    '',
    matrix(eps.map((r) => ({ steps: r.steps, cfg: r.cfg, k: r.single.all, n: r.single.n }))),
    '',
    '**Two objects, both objects right (shape, colour, place, count), eps pack:**',
    '',
    matrix(eps.map((r) => ({ steps: r.steps, cfg: r.cfg, k: r.two.both, n: r.two.n }))),
    '',
    '<details><summary>Per attribute, eps pack (every steps × CFG cell)</summary>',
    '',
    singleTable(single(eps)),
    '',
    twoTable(two(eps)),
    '',
    '</details>',
    '',
    '**Flow pack (Euler on time_uniform, CFG 4):**',
    '',
    singleTable(single(flow)),
    '',
    twoTable(two(flow)),
    '',
    `**VAE reconstruction** (encoder posterior mean → decoder → clamp; errors on the [-1, 1] range):`,
    '',
    '| images | n | L1 | MSE | PSNR | classifier all-correct, %: input → reconstruction |',
    '|---|---:|---:|---:|---:|---|',
    `| held-out scenes drawn by \`bench/scenes.ts\` (the training distribution, redrawn in TS, seed 20240) | ${vaeScenes.n} | ${vaeScenes.l1.toFixed(4)} | ${vaeScenes.mse.toFixed(5)} | ${vaeScenes.psnr.toFixed(1)} dB | ${P(vaeScenes.rightOnInput, vaeScenes.n)} → ${P(vaeScenes.rightOnRecon, vaeScenes.n)} |`,
    `| generated images (eps, 20 steps, CFG 4) re-encoded and decoded again | ${vaeGenerated.n} | ${vaeGenerated.l1.toFixed(4)} | ${vaeGenerated.mse.toFixed(5)} | ${vaeGenerated.psnr.toFixed(1)} dB | – |`,
  ].join('\n');
  if (existsSync(DOC)) {
    const doc = readFileSync(DOC, 'utf8');
    const begin = '<!-- pack-quality:begin -->', end = '<!-- pack-quality:end -->';
    const a = doc.indexOf(begin), b = doc.indexOf(end);
    if (a >= 0 && b > a) {
      writeFileSync(DOC, `${doc.slice(0, a + begin.length)}\n${section}\n${doc.slice(b)}`);
      log('updated the tables in docs/model-pack.md');
    }
  } else {
    log(section);
  }
  log(`done in ${f1(seconds)} s`);
  await store.close();
}

await main();
