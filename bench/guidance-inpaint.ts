/**
 * Section 4 of `pnpm bench:guidance`: inpainting the right half of one-object images, InpaintGuider
 * (replacement) against TPMConstraint. TPMConstraint's strength and until are chosen on a tuning split
 * of scenes and reported on a held-out split (other prompts, other seeds), so its figures are not fitted
 * to the scenes they are reported on.
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import { inpaintGuider, learnCircuit, patchGroups, seededNoise, tpmConstraint, type TreeCircuit } from '../packages/nodes/src/index.ts';
import type { Conditioning, Guider } from '../packages/nodes/src/contracts/sampling.ts';
import { observed } from '../packages/nodes/src/tpm/evidence.ts';
import { COLOURS, SHAPES, oneObject } from './guidance-data.ts';
import { cfg, decode, grid, run, solver, type Pack } from './guidance-lib.ts';
import { firstObjectHits, matchesObjects, outcomes, readScenes, type Outcomes, type WantedObject } from './judge.ts';
import { pairedCounts, pairedDifference, type Interval } from './stats.ts';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const POSITIONS = ['center', 'top', 'bottom'] as const;
const PHRASE: Record<string, string> = { center: 'in the center', top: 'at the top', bottom: 'at the bottom' };

/** The grid searched on the tuning split. */
export const STRENGTHS = [0.2, 0.35, 0.5, 0.75, 1];
export const UNTILS = [0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1];
/** Tiramisu's setting: the TPM weighs 0.2 during the first 10 % of the steps. */
const TIRAMISU = { strength: 0.2, until: 0.1 };

interface Split { name: string; texts: string[]; want: WantedObject[][]; sourceSeed: number; noiseSeed: number }

/** n big one-object scenes (every shape × colour × center/top/bottom cycles), the i-th from `offset`. */
function split(name: string, n: number, offset: number, sourceSeed: number, noiseSeed: number): Split {
  const scenes = range(n).map((i) => {
    const j = i + offset;
    return { shape: SHAPES[j % 3], colour: COLOURS[Math.floor(j / 3) % 6], position: POSITIONS[Math.floor(j / 18) % 3] };
  });
  return { name, texts: scenes.map((s) => `a big ${s.colour} ${s.shape} ${PHRASE[s.position]}`), want: scenes.map((s) => [s]), sourceSeed, noiseSeed };
}

interface Prepared { split: Split; orig: Tensor; origImage: Tensor; mask: Tensor; sourcesRight: Outcomes }

async function prepare(pack: Pack, s: Split): Promise<Prepared> {
  const { embeddings } = await pack.pipe.textEncoder.encode(s.texts);
  const orig = await run(cfg(pack, { embeddings } as Conditioning, 4), solver('dpmsolver++'), grid(pack, 20), s.texts.length, s.sourceSeed);
  const origImage = await decode(pack, orig);
  const mask = Tensor.zeros([1, 1, 32, 32]);
  for (let y = 0; y < 32; y++) for (let x = 16; x < 32; x++) mask.data[y * 32 + x] = 1;
  const readings = await readScenes(pack.store, origImage);
  return { split: s, orig, origImage, mask, sourcesRight: outcomes(readings.map((r, b) => matchesObjects(r, s.want[b]))) };
}

export interface InpaintRow {
  name: string; strength?: number; until?: number;
  knownMse: number; coherence: Outcomes; firstObject: Record<string, number>; tpmLogLik: number;
}

const tpmLogLik = (x: Tensor, c: TreeCircuit) => range(x.batch).reduce((s, b) => s + c.logProbability(observed(x.data.subarray(b * 256, (b + 1) * 256))), 0) / x.batch;

async function complete(pack: Pack, p: Prepared, guider: Guider, name: string, hclt: TreeCircuit, setting?: { strength: number; until: number }): Promise<InpaintRow & { image: Tensor }> {
  const x = await run(guider, solver('dpmsolver++'), grid(pack, 20), p.orig.batch, p.split.noiseSeed);
  const image = await decode(pack, x);
  let err = 0, count = 0;
  for (let b = 0; b < image.batch; b++) for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let xx = 0; xx < 16; xx++) {
    const i = ((b * 3 + c) * 32 + y) * 32 + xx;
    err += (image.data[i] - p.origImage.data[i]) ** 2;
    count++;
  }
  const readings = await readScenes(pack.store, image);
  return {
    name, ...setting, knownMse: err / count, image, tpmLogLik: tpmLogLik(x, hclt),
    coherence: outcomes(readings.map((r, b) => matchesObjects(r, p.split.want[b]))),
    firstObject: firstObjectHits(readings, (b) => p.split.want[b]),
  };
}

export async function inpaintingBench(pack: Pack, log: (s: string) => void) {
  // TPM training data: 384 one-object images of the pack (one batched run with per-item prompts), seeds
  // and prompts of neither split.
  const n = 384;
  const { embeddings } = await pack.pipe.textEncoder.encode(range(n).map((i) => oneObject(i).text));
  const data = await run(cfg(pack, { embeddings } as Conditioning, 4), solver('dpmsolver++'), grid(pack, 10), n, 5000);
  const fit = (structure: 'hclt' | 'mofg', patch: number, K: number) => {
    const { circuit, logLikelihoods } = learnCircuit(Float64Array.from(data.data), { structure, itemShape: [4, 8, 8], groups: patchGroups([4, 8, 8], patch), K, iterations: 15, seed: 0 });
    return { circuit, ll: logLikelihoods.at(-1)! };
  };
  const hclt = fit('hclt', 1, 8), mofg = fit('mofg', 8, 16);
  log(`TPMs: hclt LL ${hclt.ll.toFixed(1)}, mofg LL ${mofg.ll.toFixed(1)}`);

  const base = cfg(pack, undefined as never, 1);
  const replacement = (p: Prepared) => inpaintGuider(base, p.orig, p.mask, seededNoise(p.split.noiseSeed));
  const tpm = (p: Prepared, c: TreeCircuit, o: { strength: number; until: number }) => tpmConstraint(replacement(p), c, p.orig, p.mask, o);

  // Tuning split: 48 scenes; the setting with the highest coherence wins, ties to the lower known-region error.
  const tune = await prepare(pack, split('tuning', 48, 0, 77, 9));
  const tuning: InpaintRow[] = [];
  for (const strength of STRENGTHS) for (const until of UNTILS) {
    const { image: _, ...row } = await complete(pack, tune, tpm(tune, hclt.circuit, { strength, until }), `hclt ${strength}/${until}`, hclt.circuit, { strength, until });
    tuning.push(row);
  }
  const tuningReplacement = (({ image: _, ...r }) => r)(await complete(pack, tune, replacement(tune), 'InpaintGuider (replacement)', hclt.circuit));
  const best = [...tuning].sort((a, b) => b.coherence.k - a.coherence.k || a.knownMse - b.knownMse)[0];
  const tuned = { strength: best.strength!, until: best.until! };
  log(`TPM tuning: best strength ${tuned.strength}, until ${tuned.until}: ${best.coherence.k}/${best.coherence.n} (replacement ${tuningReplacement.coherence.k}/${tuningReplacement.coherence.n})`);

  // Held-out split: 96 other scenes (other prompts' order, other source and noise seeds), one completion each.
  const held = await prepare(pack, split('held-out', 96, 1000, 177, 19));
  const methods: { name: string; guider: Guider; setting?: typeof tuned }[] = [
    { name: 'InpaintGuider (replacement)', guider: replacement(held) },
    { name: `TPMConstraint(hclt, strength ${TIRAMISU.strength}, until ${TIRAMISU.until}): Tiramisu's setting, the node's previous default`, guider: tpm(held, hclt.circuit, TIRAMISU), setting: TIRAMISU },
    { name: `TPMConstraint(hclt, strength ${tuned.strength}, until ${tuned.until}): tuned on the tuning split, the node's default`, guider: tpm(held, hclt.circuit, tuned), setting: tuned },
    { name: `TPMConstraint(mofg, strength ${tuned.strength}, until ${tuned.until})`, guider: tpm(held, mofg.circuit, tuned), setting: tuned },
  ];
  const rows: InpaintRow[] = [];
  const images: Tensor[] = [];
  for (const m of methods) {
    const { image, ...row } = await complete(pack, held, m.guider, m.name, hclt.circuit, m.setting);
    rows.push(row);
    images.push(image);
    log(`inpainting (held-out): ${m.name}: known MSE ${row.knownMse.toFixed(5)}, coherence ${row.coherence.k}/${row.coherence.n}`);
  }
  const diff = (a: InpaintRow, b: InpaintRow): Interval => pairedDifference(pairedCounts(a.coherence.right, b.coherence.right));
  const masked = held.origImage.clone();
  for (let b = 0; b < masked.batch; b++) for (let c = 0; c < 3; c++) for (let y = 0; y < 32; y++) for (let x = 16; x < 32; x++) masked.data[((b * 3 + c) * 32 + y) * 32 + x] = 0.5;
  return {
    n, hcltLL: hclt.ll, mofgLL: mofg.ll, tuned, tuningN: tune.split.texts.length, heldN: held.split.texts.length,
    tuning, tuningReplacement, tuningSources: tune.sourcesRight, heldSources: held.sourcesRight, rows,
    tunedVsReplacement: diff(rows[2], rows[0]), tunedVsTiramisu: diff(rows[2], rows[1]),
    dataLogLik: tpmLogLik(new Tensor([64, 4, 8, 8], data.data.slice(0, 64 * 256)), hclt.circuit), origLogLik: tpmLogLik(held.orig, hclt.circuit),
    figureRows: [held.origImage, masked, images[0], images[2]],
  };
}
