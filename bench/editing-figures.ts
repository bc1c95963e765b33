/**
 * The before/after figures of docs/editing.md (docs/editing/*.png): runs each editing workflow with
 * `diffgraph run` in a subprocess, as a user would, and lays its inputs and outputs side by side
 * (8× nearest upscale). Then measures each method over seeds 101–124 (the workflow's noise seed), with
 * its ablation or baseline, running the same workflow files through the Executor in process (a fresh
 * CLI process per run would take minutes), and prints a markdown table for docs/editing.md: how often
 * the pack's attribute classifier reads the intended scene, and the preserved region's mean error.
 * Run (after `pnpm build`): pnpm exec tsx --conditions=@diffgraph/source bench/editing-figures.ts
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Tensor } from '../packages/engine/src/tensor.ts';
import { decodePng, encodePng } from '../packages/nodes/src/image/png.ts';
import { Executor } from '../packages/engine/src/index.ts';
import { createRegistry } from '../packages/nodes/src/index.ts';
import { modelStore, montage, ROOT } from './pack-common.ts';
import { wilson } from './stats.ts';
import { matchesObjects, readScenes, type WantedObject } from './judge.ts';
import { centroid, dilate, movePlane, union } from '../packages/nodes/src/editing/geometry.ts';

const CLI = path.join(ROOT, 'packages/server/bin/diffgraph.js');
const out = path.join(ROOT, 'docs/editing');

const load = (file: string): Tensor => decodePng(readFileSync(file)).image;

/** Runs a workflow; returns its saved images by filename prefix. */
function run(workflow: string, sets: string[] = []): Record<string, Tensor> {
  const dir = mkdtempSync(path.join(tmpdir(), 'editing-'));
  try {
    execFileSync(process.execPath, [CLI, 'run', path.join(ROOT, 'workflows', workflow), '--out', dir, '--models', path.join(ROOT, 'models'), ...sets.flatMap((s) => ['--set', s])], { stdio: 'pipe' });
    return Object.fromEntries(readdirSync(dir).filter((f) => f.endsWith('.png')).map((f) => [f.replace(/_\d+\.png$/, ''), load(path.join(dir, f))]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const input = (name: string) => load(path.join(ROOT, 'workflows/data/editing', name));

async function main(): Promise<void> {
  mkdirSync(out, { recursive: true });
  const store = modelStore();
  const save = (name: string, images: Tensor[], cols = images.length) => {
    writeFileSync(path.join(out, name), encodePng(montage(images, cols, 8, 4), 0, { deflateLevel: 9 }));
    console.log(`wrote docs/editing/${name}`);
  };
  const describe = async (label: string, image: Tensor) => console.log(label, JSON.stringify(await readScenes(store, image)));

  const pm = run('pixelman-shapes.json');
  const shrink = run('pixelman-shapes.json', ['pixelman.dx=8', 'pixelman.dy=-8', 'pixelman.scale=0.6', 'positive.text=a small red circle at the top']);
  save('pixelman.png', [input('pixelman-source.png'), input('pixelman-mask.png'), pm['pixelman-manipulated'], pm.pixelman,
    input('pixelman-source.png'), input('pixelman-mask.png'), shrink['pixelman-manipulated'], shrink.pixelman], 4);
  await describe('PixelMan result:', pm.pixelman);
  await describe('PixelMan, shrunk to the top:', shrink.pixelman);

  const tale = run('tale-compose-shapes.json');
  save('tale.png', [input('tale-background.png'), input('tale-source.png'), input('tale-mask.png'), tale['tale-composite'], tale.tale]);
  await describe('TALE naive composite:', tale['tale-composite']);
  await describe('TALE result:', tale.tale);

  const cow = run('cyclic-one-way-shapes.json');
  const plain = run('cyclic-one-way-shapes.json', ['cow.cycles=0']);
  save('cyclic-one-way.png', [input('cow-canvas.png'), input('cow-mask.png'), plain['cyclic-one-way'], cow['cyclic-one-way']]);
  await describe('COW, no cycles:', plain['cyclic-one-way']);
  await describe('COW result:', cow['cyclic-one-way']);

  // Seeds 101–124: held out from the side runs (seeds 1–24) that chose CyclicOneWay's cycle range.
  const seeds = Array.from({ length: 24 }, (_, k) => k + 101);
  const executor = new Executor(createRegistry());
  const services = { outputDir: mkdtempSync(path.join(tmpdir(), 'editing-')), inputRoots: [path.join(ROOT, 'workflows')], modelRoots: [path.join(ROOT, 'models')], workflow: null, modelStore: store };
  /** One image output of a workflow run in process, with `node.input=value` overrides like --set. */
  const runInProcess = async (workflow: string, node: string, output: string, sets: string[]): Promise<Tensor> => {
    const wf = JSON.parse(readFileSync(path.join(ROOT, 'workflows', workflow), 'utf8'));
    for (const s of sets) {
      const [key, value] = s.split('=');
      const [id, name] = key.split('.');
      wf.nodes[id].inputs[name] = Number.isNaN(Number(value)) ? value : Number(value);
    }
    const result = await executor.run(wf, { outputs: [node], services });
    const out = result.outputs[node];
    if (out.status !== 'succeeded') throw new Error(JSON.stringify(out));
    return out.values[output] as Tensor;
  };
  const plane = { height: 32, width: 32 };
  const red = (mask: Tensor) => Float64Array.from(mask.data.subarray(0, 1024));
  /** Mean |a − b| over every channel of the pixels where `outside` is 0 (the region the method keeps). */
  const keptError = (a: Tensor, b: Tensor, outside: Float64Array) => {
    let sum = 0, n = 0;
    for (let c = 0; c < 3; c++) for (let p = 0; p < 1024; p++) if (outside[p] === 0) { sum += Math.abs(a.data[c * 1024 + p] - b.data[c * 1024 + p]); n++; }
    return sum / n;
  };
  const rows: string[] = [];
  const measure = async (label: string, workflow: string, [node, output]: [string, string], sets: string[], want: WantedObject[], reference: Tensor, changed: Float64Array) => {
    let right = 0, error = 0;
    for (const seed of seeds) {
      const image = await runInProcess(workflow, node, output, [`noise.seed=${seed}`, ...sets]);
      if (matchesObjects((await readScenes(store, image))[0], want)) right++;
      error += keptError(image, reference, changed) / seeds.length;
    }
    const { lower: lo, upper: hi } = wilson(right, seeds.length);
    rows.push(`| ${label} | ${right} / ${seeds.length} (${(100 * lo).toFixed(0)}–${(100 * hi).toFixed(0)} %) | ${error.toFixed(4)} |`);
    console.log(rows[rows.length - 1]);
  };
  const circle = red(input('pixelman-mask.png'));
  const moved = union(dilate(circle, plane, 2), dilate(movePlane(circle, plane, centroid(circle, plane)!, { dx: 16, dy: 0, scale: 1 }), plane, 2));
  const pmSource = input('pixelman-source.png');
  await measure('PixelMan, move 16 px right', 'pixelman-shapes.json', ['pixelman', 'image'], [], [{ shape: 'circle', colour: 'red', position: 'right' }], pmSource, moved);
  const shrunk = { dx: 8, dy: -8, scale: 0.6 };
  const movedUp = union(dilate(circle, plane, 2), dilate(movePlane(circle, plane, centroid(circle, plane)!, shrunk), plane, 2));
  await measure('PixelMan, to the top and shrunk (dx 8, dy −8, scale 0.6)', 'pixelman-shapes.json', ['pixelman', 'image'], ['pixelman.dx=8', 'pixelman.dy=-8', 'pixelman.scale=0.6', 'positive.text=a small red circle at the top'], [{ shape: 'circle', colour: 'red', position: 'top', size: 'small' }], pmSource, movedUp);
  const taleObject = red(input('tale-mask.png'));
  const triangle = movePlane(taleObject, plane, centroid(taleObject, plane)!, { dx: 8, dy: 0, scale: 1 });
  const away = dilate(triangle, plane, 6);
  const wantPair: WantedObject[] = [{ shape: 'square', colour: 'blue' }, { shape: 'triangle', colour: 'green' }];
  const background = input('tale-background.png');
  await measure('TALE', 'tale-compose-shapes.json', ['tale', 'image'], [], wantPair, background, away);
  await measure('TALE, energy_scale 0', 'tale-compose-shapes.json', ['tale', 'image'], ['tale.energy_scale=0'], wantPair, background, away);
  await measure('TALE, energy_scale 0, manipulation_end 0', 'tale-compose-shapes.json', ['tale', 'image'], ['tale.energy_scale=0', 'tale.manipulation_end=0'], wantPair, background, away);
  await measure('naive latent paste (TALE\'s composite output)', 'tale-compose-shapes.json', ['tale', 'composite'], [], wantPair, background, away);
  const generated = red(input('cow-mask.png'));
  const wantCow: WantedObject[] = [{ shape: 'circle', colour: 'red' }, { shape: 'triangle', colour: 'yellow' }];
  await measure('Cyclic One-Way, 3 cycles', 'cyclic-one-way-shapes.json', ['cow', 'image'], [], wantCow, input('cow-canvas.png'), generated);
  await measure('the same, 0 cycles (plain inpainting)', 'cyclic-one-way-shapes.json', ['cow', 'image'], ['cow.cycles=0'], wantCow, input('cow-canvas.png'), generated);
  console.log(['', '| method | scene read right | preserved region: mean abs error |', '|---|---:|---:|', ...rows].join('\n'));
  store.close();
}

await main();
