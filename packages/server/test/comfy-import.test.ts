/**
 * ComfyUI workflow import: ComfyUI's default txt2img graph (API and UI format), a
 * SamplerCustomAdvanced graph and an img2img graph convert, validate and run on the bundled
 * shapes-32 pack — through the converter, `diffgraph import|run|validate` and POST /api/runs.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateWorkflow } from '@diffgraph/engine';
import { createRegistry } from '@diffgraph/nodes';
import { ComfyImportError, comfyFormat, convertComfyWorkflow } from '../src/comfy/convert.ts';
import { COMFY_SAMPLERS, COMFY_SCHEDULERS } from '../src/comfy/samplers.ts';
import { api, repoRoot, submit, tempServer, waitForStatus } from './helpers.ts';
import { cli } from './subprocess.ts';

const fixtures = path.join(repoRoot, 'packages/server/test/fixtures/comfy');
const fixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
const models = path.join(repoRoot, 'models');

/** ComfyUI's own lists (comfy/samplers.py: KSampler.SAMPLERS and SCHEDULERS). */
const KSAMPLER_NAMES = ['euler', 'euler_cfg_pp', 'euler_ancestral', 'euler_ancestral_cfg_pp', 'heun', 'heunpp2', 'dpm_2', 'dpm_2_ancestral',
  'lms', 'dpm_fast', 'dpm_adaptive', 'dpmpp_2s_ancestral', 'dpmpp_2s_ancestral_cfg_pp', 'dpmpp_sde', 'dpmpp_sde_gpu',
  'dpmpp_2m', 'dpmpp_2m_cfg_pp', 'dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'dpmpp_2m_sde_heun', 'dpmpp_2m_sde_heun_gpu', 'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu', 'ddpm', 'lcm',
  'ipndm', 'ipndm_v', 'deis', 'res_multistep', 'res_multistep_cfg_pp', 'res_multistep_ancestral', 'res_multistep_ancestral_cfg_pp',
  'gradient_estimation', 'gradient_estimation_cfg_pp', 'er_sde', 'seeds_2', 'seeds_3', 'sa_solver', 'sa_solver_pece'];
const SAMPLER_NAMES = [...KSAMPLER_NAMES, 'ddim', 'uni_pc', 'uni_pc_bh2'];
const SCHEDULER_NAMES = ['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform', 'beta', 'linear_quadratic', 'kl_optimal'];

function importError(value: unknown): ComfyImportError {
  try {
    convertComfyWorkflow(value);
  } catch (e) {
    if (e instanceof ComfyImportError) return e;
    throw e;
  }
  throw new Error('converted without an error');
}

describe('ComfyUI conversion', () => {
  const registry = createRegistry();

  it('detects both ComfyUI formats and leaves diffgraph workflows alone', () => {
    expect(comfyFormat(fixture('txt2img-api.json'))).toBe('api');
    expect(comfyFormat(fixture('txt2img-ui.json'))).toBe('ui');
    expect(comfyFormat(JSON.parse(readFileSync(path.join(repoRoot, 'workflows/txt2img.json'), 'utf8')))).toBeNull();
  });

  it.each(['txt2img-api.json', 'txt2img-ui.json', 'custom-sampler-api.json', 'img2img-api.json'])('%s converts into a valid workflow', (name) => {
    const { workflow } = convertComfyWorkflow(fixture(name));
    const validation = validateWorkflow(workflow, registry);
    expect(validation.ok ? [] : validation.errors).toEqual([]);
    expect(workflow.outputs).toEqual(['9']);
  });

  it('the UI format (positional widgets_values, control_after_generate after the seed) converts like the API format', () => {
    const api = convertComfyWorkflow(fixture('txt2img-api.json')).workflow;
    const ui = convertComfyWorkflow(fixture('txt2img-ui.json')).workflow;
    expect(ui.nodes['3_noise'].inputs!).toEqual({ seed: 156680208700286, rng: 'cpu' });
    expect(ui.nodes['3_schedule'].inputs!).toEqual({ model: { from: '4', output: 'model' }, spacing: 'comfy_normal', steps: 4, denoise: 1 });
    expect({ ...ui.nodes, '3_noise': null }).toEqual({ ...api.nodes, '3_noise': null });
    expect(ui.nodes['4'].inputs!).toEqual({ path: 'shapes-32' });
    expect((ui.ui as { positions: Record<string, number[]> }).positions['3']).toEqual([863, 186]);
  });

  it('a UI file saved without the seed control value still maps its widgets', () => {
    const ui = fixture('txt2img-ui.json');
    const sampler = ui.nodes.find((n: { id: number }) => n.id === 3);
    sampler.widgets_values = [5, 6, 2.5, 'heun', 'karras', 0.5];
    const { workflow } = convertComfyWorkflow(ui);
    expect(workflow.nodes['3_noise'].inputs!.seed).toBe(5);
    expect(workflow.nodes['3_schedule'].inputs!).toMatchObject({ spacing: 'karras', steps: 6, denoise: 0.5 });
    expect(workflow.nodes['3_guider'].inputs!.cfg).toBe(2.5);
    expect(workflow.nodes['3_solver'].inputs!).toEqual({ kind: 'heun' });
  });

  it('KSampler, KSamplerAdvanced and RandomNoise draw ComfyUI\'s start noise (torch CPU randn)', () => {
    expect(convertComfyWorkflow(fixture('txt2img-api.json')).workflow.nodes['3_noise'].inputs!.rng).toBe('cpu');
    const advanced = fixture('txt2img-api.json');
    advanced['3'] = { class_type: 'KSamplerAdvanced', inputs: { ...advanced['3'].inputs, add_noise: 'enable', noise_seed: 1, start_at_step: 0, end_at_step: 10000, return_with_leftover_noise: 'disable' } };
    expect(convertComfyWorkflow(advanced).workflow.nodes['3_noise'].inputs!).toEqual({ seed: 1, rng: 'cpu' });
    const custom = convertComfyWorkflow(fixture('custom-sampler-api.json')).workflow;
    const noise = Object.values(custom.nodes).filter((n) => n.type === 'RandomNoise');
    expect(noise.length).toBeGreaterThan(0);
    for (const n of noise) expect(n.inputs!.rng).toBe('cpu');
  });

  it('keeps which ComfyUI node each of our nodes comes from', () => {
    const { workflow, origins } = convertComfyWorkflow(fixture('txt2img-api.json'));
    expect(Object.keys(origins).sort()).toEqual(Object.keys(workflow.nodes).sort());
    for (const helper of ['3', '3_noise', '3_guider', '3_schedule', '3_solver']) expect(origins[helper]).toBe('3');
    expect(origins['9']).toBe('9');
  });

  it('maps SamplerCustomAdvanced outputs by index (1 = denoised_output)', () => {
    const { workflow } = convertComfyWorkflow(fixture('custom-sampler-api.json'));
    expect(workflow.nodes['8'].inputs!.latent).toEqual({ from: '14', output: 'denoised' });
    expect(workflow.nodes['12']).toEqual({ type: 'Solver', inputs: { kind: 'dpmpp_2m' } });
    expect(workflow.nodes['13'].inputs!).toMatchObject({ spacing: 'karras', steps: 4, rho: 7 });
  });

  it('every unsupported node is named in one coded error', () => {
    const workflow = { ...fixture('txt2img-api.json'),
      20: { class_type: 'LoraLoader', inputs: { model: ['4', 0], clip: ['4', 1], lora_name: 'x.safetensors', strength_model: 1, strength_clip: 1 } },
      21: { class_type: 'UpscaleModelLoader', inputs: { model_name: 'x.pth' } } };
    const error = importError(workflow);
    expect(error.code).toBe('COMFY_UNSUPPORTED_NODES');
    expect(error.nodes).toEqual([{ id: '20', classType: 'LoraLoader' }, { id: '21', classType: 'UpscaleModelLoader' }]);
    expect(error.message).toContain('20 (LoraLoader), 21 (UpscaleModelLoader)');
  });

  it('settings with no equivalent are coded errors naming the node', () => {
    const partial = fixture('txt2img-api.json');
    partial['3'] = { class_type: 'KSamplerAdvanced', inputs: { ...partial['3'].inputs, add_noise: 'enable', noise_seed: 1, start_at_step: 2, end_at_step: 10000, return_with_leftover_noise: 'disable' } };
    expect(importError(partial)).toMatchObject({ code: 'COMFY_UNSUPPORTED_SETTING', message: expect.stringContaining('node 3 (KSamplerAdvanced)') });
    const beta = fixture('txt2img-api.json');
    beta['3'].inputs.scheduler = 'beta';
    expect(importError(beta)).toMatchObject({ code: 'COMFY_UNSUPPORTED_SETTING', message: expect.stringContaining('scheduler "beta"'), nodes: [{ id: '3', classType: 'KSampler', input: 'scheduler' }] });
  });

  it('KSamplerAdvanced over the whole schedule converts, add_noise "disable" included', () => {
    const advanced = fixture('txt2img-api.json');
    advanced['3'] = { class_type: 'KSamplerAdvanced', inputs: { ...advanced['3'].inputs, add_noise: 'disable', noise_seed: 1, start_at_step: 0, end_at_step: 10000, return_with_leftover_noise: 'disable' } };
    const { workflow } = convertComfyWorkflow(advanced);
    expect(workflow.nodes['3'].inputs!.add_noise).toBe(false);
    expect(workflow.nodes['3_noise'].inputs!.seed).toBe(1);
  });

  it('the sampler and scheduler tables list exactly ComfyUI\'s values, and every mapped setting is valid here', () => {
    expect(Object.keys(COMFY_SAMPLERS).sort()).toEqual([...SAMPLER_NAMES].sort());
    expect(Object.keys(COMFY_SCHEDULERS).sort()).toEqual([...SCHEDULER_NAMES].sort());
    const solver = registry.get('Solver')!;
    const schedule = registry.get('Schedule')!;
    for (const settings of Object.values(COMFY_SAMPLERS)) {
      for (const [name, value] of Object.entries(settings ?? {})) {
        expect(solver.inputs[name], name).toBeDefined();
        if (solver.inputs[name].enum) expect(solver.inputs[name].enum).toContain(value);
      }
    }
    for (const spacing of Object.values(COMFY_SCHEDULERS)) if (spacing) expect(schedule.inputs.spacing.enum).toContain(spacing);
  });

  it('docs/comfyui.md documents every sampler and scheduler value', () => {
    const doc = readFileSync(path.join(repoRoot, 'docs/comfyui.md'), 'utf8');
    for (const name of [...SAMPLER_NAMES, ...SCHEDULER_NAMES]) expect(doc, name).toContain(`\`${name}\``);
  });
});

describe('diffgraph import / run / validate with a ComfyUI file', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-comfy-'));

  it.each(['txt2img-api.json', 'txt2img-ui.json', 'custom-sampler-api.json', 'img2img-api.json'])('diffgraph run %s succeeds', async (name) => {
    const result = await cli(['run', name, '--models', models, '--out', out], fixtures);
    expect(result.stderr).toContain('this is a ComfyUI workflow');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^succeeded/);
  }, 120_000);

  it.each([['lcm', 'karras', 1], ['ddpm', 'normal', 4]])('a KSampler with sampler_name %s (scheduler %s, cfg %s) runs from diffgraph run', async (sampler, scheduler, cfg) => {
    const workflow = fixture('txt2img-api.json');
    Object.assign(workflow['3'].inputs, { sampler_name: sampler, scheduler, cfg });
    const file = path.join(out, `txt2img-${sampler}.json`);
    writeFileSync(file, JSON.stringify(workflow));
    const result = await cli(['run', file, '--models', models, '--out', path.join(out, sampler)], fixtures);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^succeeded/);
    expect(readdirSync(path.join(out, sampler)).filter((f) => f.endsWith('.png'))).toHaveLength(1);
  }, 120_000);

  it('diffgraph import --out writes a diffgraph workflow that validates', async () => {
    const file = path.join(out, 'imported.json');
    const result = await cli(['import', 'txt2img-ui.json', '--out', file], fixtures);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8')).format).toBe('diffgraph/workflow@1');
    const validate = await cli(['validate', file], fixtures);
    expect(validate.stdout).toContain('valid (outputs: 9)');
  }, 60_000);

  it('diffgraph validate accepts a ComfyUI file and says so', async () => {
    const result = await cli(['validate', 'txt2img-api.json'], fixtures);
    expect(result.stderr).toContain('this is a ComfyUI workflow (API format), converted');
    expect(result.code).toBe(0);
  }, 60_000);

  it('an unsupported node is one coded error, exit 1', async () => {
    const file = path.join(out, 'lora.json');
    const workflow = { ...fixture('txt2img-api.json'), 20: { class_type: 'LoraLoader', inputs: { model: ['4', 0] } } };
    writeFileSync(file, JSON.stringify(workflow));
    const result = await cli(['run', file, '--models', models, '--out', out], fixtures);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('COMFY_UNSUPPORTED_NODES');
    expect(result.stderr).toContain('20 (LoraLoader)');
  }, 60_000);
});

describe('POST /api/runs with a ComfyUI workflow', () => {
  let server: Awaited<ReturnType<typeof tempServer>>;
  beforeAll(async () => {
    server = await tempServer({ modelsDir: models });
  });
  afterAll(() => server.close());

  it.each(['txt2img-api.json', 'txt2img-ui.json'])('%s runs to success', async (name) => {
    const runId = await submit(server.url, fixture(name));
    const run = await waitForStatus(server.url, runId, ['succeeded', 'failed', 'cancelled'], 60_000);
    expect(run.error).toBeNull();
    expect(run.status).toBe('succeeded');
    const stored = await api(server.url, `/api/runs/${runId}?workflow=1`);
    expect(stored.body.workflow.format).toBe('diffgraph/workflow@1');
  }, 90_000);

  it('an unsupported node is a 400 listing it', async () => {
    const workflow = { ...fixture('txt2img-api.json'), 20: { class_type: 'LoraLoader', inputs: {} } };
    const res = await api(server.url, '/api/runs', { json: { workflow } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ code: 'COMFY_UNSUPPORTED_NODES', nodes: [{ id: '20', classType: 'LoraLoader' }] })]);
  });
});
