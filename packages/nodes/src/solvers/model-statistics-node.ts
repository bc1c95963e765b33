import path from 'node:path';
import { defineNode } from '@diffgraph/engine';
import { resolveInside } from '../io/paths.ts';
import type { ModelServices } from '../runtime/store-of.ts';
import { estimateModelStatistics } from './ems-estimate.ts';
import { loadStatistics, modelFingerprint, saveStatistics, statisticsKey } from './ems-file.ts';

export const ModelStatisticsNode = defineNode({
  type: 'ModelStatistics',
  category: 'sampling/solvers',
  description: 'DPM-Solver-v3\'s empirical model statistics (l, s, b on a log-SNR grid) of a model, estimated from N trajectories with forward model calls only, and kept in the model folder so the next run loads them. Feed them to a Solver of kind dpm_solver_v3.',
  version: 1,
  inputs: {
    guider: { type: 'GUIDER', tooltip: 'The denoiser the sampler will call: with CFG the statistics are those of the guided model (as the official ones for Stable Diffusion at scale 7.5)' },
    latent: { type: 'LATENT', tooltip: 'Only its item shape and dtype are used (e.g. an EmptyLatent of batch 1)' },
    samples: { type: 'INT', default: 128, min: 2, max: 65536, tooltip: 'N: trajectories the statistics are averaged over (the paper: 1024–4096)' },
    steps: { type: 'INT', default: 100, min: 2, max: 5000, tooltip: 'M: log-SNR grid intervals from the schedule\'s tMax to tMin (the paper: 250–1200)' },
    probes: { type: 'INT', default: 1, min: 1, max: 64, tooltip: 'Rademacher probes per sample and grid point for the Jacobian diagonal (l)' },
    difference: { type: 'STRING', enum: ['central', 'forward'], default: 'central', tooltip: 'Jacobian-vector products by central (2 states per probe) or forward (1) differences' },
    seed: { type: 'INT', default: 0, min: 0, max: 2 ** 31 - 1, role: 'seed', tooltip: 'Start noises are items seed … seed + N − 1 of the Philox generator: measure on other seeds' },
    file: { type: 'STRING', default: '', optional: true, path: 'models', tooltip: 'Cache file name (without extension) in the first model folder; empty: statistics/<key>. Loaded when it holds statistics of this model with these settings, else computed and written' },
    cache: { type: 'BOOLEAN', default: true, tooltip: 'Load and save the statistics file (off: always compute, write nothing)' },
  },
  outputs: { statistics: { type: 'STATISTICS' }, path: { type: 'STRING', tooltip: 'The statistics file (.json and .npy beside it); empty when not cached' } },
  async run(i, ctx) {
    const { guider, latent } = i;
    const sampleShape = latent.shape.slice(1);
    if (sampleShape.length === 0) throw new Error('ModelStatistics: input "latent" must be a batch [B, ...item]');
    const settings = { samples: i.samples, steps: i.steps, probes: i.probes, difference: i.difference, seed: i.seed, tStart: guider.schedule.tMax, tEnd: guider.schedule.tMin };
    const roots = (ctx.services as Partial<ModelServices>).modelRoots ?? [];
    let base = '';
    let key = '';
    if (i.cache) {
      if (roots.length === 0) {
        if (i.file) throw new Error('ModelStatistics: input "file" needs a model folder, and the host configured none');
        ctx.log('no model folder is configured: the statistics are computed and not saved');
      } else {
        key = statisticsKey(await modelFingerprint(guider.denoise, guider.schedule, sampleShape, latent.dtype), settings);
        const name = i.file ? i.file.replace(/\.(json|npy)$/, '') : path.join('statistics', key.slice(0, 24));
        let saved;
        try {
          base = resolveInside(roots[0], name, 'statistics file');
          saved = loadStatistics(base, key);
        } catch (e) {
          throw new Error(`ModelStatistics: input "file": ${(e as Error).message}`);
        }
        if (saved) {
          ctx.log(`loaded statistics from ${base}.json`);
          return { statistics: saved, path: `${base}.json` };
        }
      }
    }
    ctx.progress(0, i.steps + 1);
    const { statistics, cost } = await estimateModelStatistics(guider.denoise, guider.schedule, {
      sampleShape, dtype: latent.dtype, samples: i.samples, steps: i.steps, probes: i.probes, difference: i.difference, seed: i.seed,
      signal: ctx.signal, onProgress: (done, total) => ctx.progress(done, total),
    });
    ctx.log(`estimated statistics: ${cost.modelCalls} model calls (${cost.sampleEvaluations} sample evaluations), ${cost.seconds.toFixed(2)} s`);
    if (!base) return { statistics, path: '' };
    saveStatistics(base, statistics, sampleShape, key);
    ctx.log(`saved statistics to ${base}.json`);
    return { statistics, path: `${base}.json` };
  },
});
