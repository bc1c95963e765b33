/**
 * Model statistics on disk, and the key that says whose they are.
 *
 * A statistics file is a pair: `<name>.npy`, the float64 tensor [3, M + 1, ...sample shape] holding l, s
 * and b (readable with numpy), and `<name>.json`, written after it, which names the grid, the settings,
 * the estimation cost and the key. A pair whose JSON is missing was never finished and is recomputed.
 *
 * The key hashes a behavioural fingerprint of the model — its x0 predictions for fixed probe states at
 * three times of its schedule — with the estimation settings. A model that answers differently (other
 * weights, another guidance scale or prompt, another schedule) gets other statistics; the same model on
 * another execution provider may differ in the last bits and then simply misses the cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Tensor, type DType } from '@diffgraph/engine';
import type { ModelStatistics } from '../contracts/model-statistics.ts';
import type { Denoiser, NoiseSchedule } from '../contracts/sampling.ts';
import { decodeNpy, encodeNpy } from '../io/npy.ts';
import { randomNormal } from '../noise/philox.ts';
import { checkStatistics } from './ems-integrals.ts';

export const STATISTICS_FORMAT = 'diffgraph/model-statistics@1';

/** Hash of the model's answers on fixed probes (3 model calls of 2 samples each). */
export async function modelFingerprint(denoise: Denoiser, schedule: NoiseSchedule, sampleShape: readonly number[], dtype: DType): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ schedule: schedule.kind, tMax: schedule.tMax, tMin: schedule.tMin, sampleShape, dtype }));
  const probe = randomNormal([2, ...sampleShape], 0x5eed, dtype, 7);
  const mid = schedule.tOfLambda((schedule.lambda(schedule.tMax) + schedule.lambda(schedule.tMin)) / 2);
  for (const t of [schedule.tMax, mid, schedule.tMin]) {
    const x0 = await denoise(probe, t);
    hash.update(new Uint8Array(Float32Array.from(x0.data).buffer));
  }
  return hash.digest('hex');
}

/** The cache key of statistics estimated from a model with these settings. */
export function statisticsKey(fingerprint: string, settings: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(JSON.stringify({ format: STATISTICS_FORMAT, fingerprint, settings })).digest('hex');
}

interface StatisticsDocument {
  format: string;
  key: string;
  lambdaStart: number;
  lambdaEnd: number;
  steps: number;
  sampleShape: number[];
  info: Record<string, unknown>;
}

/** Writes `<base>.npy` then `<base>.json`, each through a temporary file and a rename. */
export function saveStatistics(base: string, stats: ModelStatistics, sampleShape: readonly number[], key: string): void {
  mkdirSync(path.dirname(base), { recursive: true });
  const rows = (stats.steps + 1) * stats.size;
  const data = new Float64Array(3 * rows);
  data.set(stats.l, 0);
  data.set(stats.s, rows);
  data.set(stats.b, 2 * rows);
  const doc: StatisticsDocument = {
    format: STATISTICS_FORMAT, key, lambdaStart: stats.lambdaStart, lambdaEnd: stats.lambdaEnd, steps: stats.steps,
    sampleShape: [...sampleShape], info: { ...stats.info },
  };
  const write = (file: string, bytes: Uint8Array | string) => {
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, file);
  };
  write(`${base}.npy`, encodeNpy(new Tensor([3, stats.steps + 1, ...sampleShape], data)));
  write(`${base}.json`, JSON.stringify(doc, null, 1) + '\n');
}

/**
 * The statistics saved at `base`, or null when there are none (or only an unfinished .npy). Throws when
 * the pair holds statistics under another key (another model or other settings) or is damaged.
 */
export function loadStatistics(base: string, key: string): ModelStatistics | null {
  const jsonFile = `${base}.json`;
  if (!existsSync(jsonFile)) return null;
  const where = `statistics file ${path.basename(base)}`;
  let doc: StatisticsDocument;
  try {
    doc = JSON.parse(readFileSync(jsonFile, 'utf8')) as StatisticsDocument;
  } catch (e) {
    throw new Error(`${where}.json is not valid JSON: ${(e as Error).message}`);
  }
  if (doc.format !== STATISTICS_FORMAT) throw new Error(`${where}.json is not a ${STATISTICS_FORMAT} document`);
  if (doc.key !== key) throw new Error(`${where} holds statistics of another model or other settings (key ${String(doc.key).slice(0, 12)}…, expected ${key.slice(0, 12)}…); choose another file name or delete it`);
  const tensor = decodeNpy(readFileSync(`${base}.npy`));
  const size = doc.sampleShape.reduce((a, b) => a * b, 1);
  const rows = (doc.steps + 1) * size;
  if (tensor.size !== 3 * rows) throw new Error(`${where}.npy holds ${tensor.size} values, expected 3·(steps + 1)·size = ${3 * rows}`);
  const data = Float64Array.from(tensor.data);
  const stats: ModelStatistics = {
    lambdaStart: doc.lambdaStart, lambdaEnd: doc.lambdaEnd, steps: doc.steps, size,
    l: data.slice(0, rows), s: data.slice(rows, 2 * rows), b: data.slice(2 * rows),
    info: doc.info,
  };
  checkStatistics(stats);
  return stats;
}
