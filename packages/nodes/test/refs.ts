/**
 * Test helper: loads the reference sets and builds the analytic model and the two noise schedules they
 * were computed with. The public D = 2 set is vendored in test/data/refs (its README.md describes the
 * conventions); DIFFGRAPH_REFS may name more folders of the same layout (separated by the platform's
 * path delimiter), e.g. a held-back D = 16 set. An id found in several sets is read from the first.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '@diffgraph/engine';
import { GaussianMixture } from '../src/models/gmm.ts';
import { DiscreteVPSchedule, LinearVPSchedule } from '../src/schedules/noise-schedules.ts';

/** The vendored public reference set. */
export const refsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'data', 'refs');

function extraRefDirs(): string[] {
  const dirs = (process.env.DIFFGRAPH_REFS ?? '').split(path.delimiter).filter(Boolean).map((d) => path.resolve(d));
  for (const dir of dirs) {
    if (!existsSync(path.join(dir, 'index.json'))) throw new Error(`DIFFGRAPH_REFS: ${dir} has no index.json`);
  }
  return dirs;
}

/** Every reference folder in use: the vendored one, then DIFFGRAPH_REFS's. */
export const refDirs: readonly string[] = [refsDir, ...extraRefDirs()];

function readJson<T>(dir: string, relative: string): T {
  return JSON.parse(readFileSync(path.join(dir, relative), 'utf8')) as T;
}

/** The folder holding `<model>.json` (the first set that has it). */
function modelDir(model: string): string {
  const dir = refDirs.find((d) => existsSync(path.join(d, `${model}.json`)));
  if (!dir) throw new Error(`no reference set has ${model}.json (looked in ${refDirs.join(', ')})`);
  return dir;
}

export type RefScheduleName = 'sd_discrete' | 'linear_vp';

export interface RefModelCheckVP {
  schedule: RefScheduleName;
  t: number;
  log_alpha: number;
  alpha: number;
  sigma: number;
  lambda_: number;
  eps: number[][];
  x0: number[][];
}

export interface RefModelFile {
  name: string;
  model: { D: number; K: number; weights: number[]; means: number[][]; stds: number[] };
  x_T: { values: number[][] };
  schedules: {
    sd_discrete: {
      alphas_cumprod: number[];
      t_T: number;
      t_end: number;
      lambda_T: number;
      lambda_end: number;
      kdiffusion_sigma_min: number;
      kdiffusion_sigma_max: number;
    };
    linear_vp: { continuous_beta_0: number; continuous_beta_1: number; t_T: number; t_end: number; lambda_T: number; lambda_end: number };
  };
  model_checks: { vp: RefModelCheckVP[]; ve_denoiser: { sigma: number; D: number[][] }[] };
}

export interface RefModel {
  name: string;
  json: RefModelFile;
  gmm: GaussianMixture;
  schedules: { sd_discrete: DiscreteVPSchedule; linear_vp: LinearVPSchedule };
  /** The 64 initial noises, float64 [64, D]. */
  xT: Tensor;
  /** k-diffusion's VE noise range on the SD schedule. */
  sigmaMin: number;
  sigmaMax: number;
}

/** Rows of numbers as a float64 [rows, cols] tensor. */
export function rowsToTensor(rows: readonly (readonly number[])[]): Tensor {
  return Tensor.from([rows.length, rows[0].length], rows.flat(), 'float64');
}

export function loadRefModel(name: string): RefModel {
  const json = readJson<RefModelFile>(modelDir(name), `${name}.json`);
  const sd = json.schedules.sd_discrete;
  const vp = json.schedules.linear_vp;
  return {
    name,
    json,
    gmm: new GaussianMixture(json.model),
    schedules: {
      sd_discrete: new DiscreteVPSchedule(sd.alphas_cumprod),
      linear_vp: new LinearVPSchedule({ beta0: vp.continuous_beta_0, beta1: vp.continuous_beta_1, tMin: vp.t_end }),
    },
    xT: rowsToTensor(json.x_T.values),
    sigmaMin: sd.kdiffusion_sigma_min,
    sigmaMax: sd.kdiffusion_sigma_max,
  };
}

/** One row of index.json. Convergence-only runs (40/80 steps) have `file: null`. */
export interface RefIndexEntry {
  id: string;
  /** The reference folder the row was read from (not a field of index.json). */
  dir: string;
  file: string | null;
  model: string;
  family: string;
  config: Record<string, unknown>;
  nfe: number;
  mean_l2: number;
  max_l2: number;
  rms: number;
}

/** A stored output (data/refs/README.md §9). */
export interface RefOutput {
  id: string;
  model: string;
  config: Record<string, unknown> & { schedule: string; steps: number };
  nfe: number;
  /** DPM-Solver / UniPC: the outer t grid. */
  timesteps?: number[];
  /** k-diffusion: the sigma list, ending with 0. */
  sigmas?: number[];
  steps_log: Record<string, unknown>[];
  error_vs_exact: Record<string, number>;
  exact_file: string;
  limit_exact_file?: string;
  x0: number[][];
}

/** Every row of every set's index.json (an id already seen in an earlier set is skipped). */
let indexCache: RefIndexEntry[] | undefined;
export function refIndex(): RefIndexEntry[] {
  if (indexCache) return indexCache;
  const seen = new Set<string>();
  const rows: RefIndexEntry[] = [];
  for (const dir of refDirs) {
    for (const row of readJson<Omit<RefIndexEntry, 'dir'>[]>(dir, 'index.json')) {
      if (seen.has(row.id)) continue;
      seen.add(row.id);
      rows.push({ ...row, dir });
    }
  }
  return (indexCache = rows);
}

/**
 * Index entries that have an output file, optionally filtered by a predicate or by matching config
 * fields (plus `model`), e.g. `{ model: 'gmm2', schedule: 'linear_vp', skip_type: 'logSNR' }`.
 */
export function listRefOutputs(filter?: ((entry: RefIndexEntry) => boolean) | Record<string, unknown>): RefIndexEntry[] {
  const entries = refIndex().filter((e) => e.file !== null);
  if (!filter) return entries;
  if (typeof filter === 'function') return entries.filter(filter);
  return entries.filter((e) =>
    Object.entries(filter).every(([key, value]) => (key === 'model' ? e.model === value : e.config[key] === value)),
  );
}

/** A stored output by id (from the set whose index lists it) or by its index entry. */
export function loadRefOutput(idOrEntry: string | RefIndexEntry): RefOutput {
  const entry = typeof idOrEntry === 'string' ? refIndex().find((e) => e.id === idOrEntry) : idOrEntry;
  if (!entry?.file) throw new Error(`no stored reference output ${typeof idOrEntry === 'string' ? idOrEntry : idOrEntry.id}`);
  return readJson<RefOutput>(entry.dir, entry.file);
}

/** An exact solution file, e.g. loadRefExact('gmm2', 'sd_discrete'); `file` is also accepted ('exact/...json'). */
export function loadRefExact(model: string, kind: string): { x: number[][]; [key: string]: unknown } {
  const relative = kind.endsWith('.json') ? kind : path.join('exact', `${model}__${kind}.json`);
  return readJson(modelDir(model), relative);
}
