/**
 * Files a ComfyUI user brings besides JSON: PNGs ComfyUI saved (a `prompt` text chunk with the API
 * graph it executed, a `workflow` chunk with the UI graph), and UI graphs with Reroute and
 * PrimitiveNode nodes — through the importer, `diffgraph import|validate|run` and POST /api/import.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insertPngText } from '@diffgraph/nodes';
import { convertComfyWorkflow } from '../src/comfy/convert.ts';
import { importPng, WorkflowImportError } from '../src/workflow-import.ts';
import { api, repoRoot, tempServer } from './helpers.ts';
import { cli } from './subprocess.ts';

const fixtures = path.join(repoRoot, 'packages/server/test/fixtures/comfy');
const fixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
const plainPng = readFileSync(path.join(fixtures, 'red-circle.png'));
const models = path.join(repoRoot, 'models');

/** A PNG laid out as ComfyUI's SaveImage writes it: tEXt "prompt" (API graph) and "workflow" (UI graph). */
function comfyPng(prompt: unknown, workflow: unknown): Buffer {
  return insertPngText(plainPng, { prompt: JSON.stringify(prompt), workflow: JSON.stringify(workflow) });
}

const withLora = (ui: { nodes: Record<string, unknown>[] }) => ({ ...ui, nodes: [...ui.nodes, { id: 99, type: 'LoraLoader', mode: 0, inputs: [], widgets_values: ['x.safetensors', 1, 1] }] });

describe('a PNG ComfyUI saved', () => {
  const png = comfyPng(fixture('txt2img-api.json'), fixture('txt2img-ui.json'));

  it('converts from its executed prompt by default, and from its laid-out UI graph when asked', () => {
    const api = importPng(png);
    expect(api.source).toBe('comfyui-api');
    expect(api.workflow).toEqual(convertComfyWorkflow(fixture('txt2img-api.json')).workflow);
    const ui = importPng(png, 'ui');
    expect(ui.source).toBe('comfyui-ui');
    expect((ui.workflow as { ui: { positions: Record<string, number[]> } }).ui.positions['3']).toEqual([863, 186]);
  });

  it('falls back to the other graph when the preferred one cannot be converted', () => {
    const imported = importPng(comfyPng(fixture('txt2img-api.json'), withLora(fixture('txt2img-ui.json'))), 'ui');
    expect(imported.source).toBe('comfyui-api');
  });

  it('without a workflow, or not a PNG, is a coded error', () => {
    expect(() => importPng(plainPng)).toThrow(expect.objectContaining({ code: 'NO_EMBEDDED_WORKFLOW' }));
    expect(() => importPng(Buffer.from('{"format":"diffgraph/workflow@1"}'))).toThrow(WorkflowImportError);
  });
});

describe('UI graphs with front-end-only nodes', () => {
  it('a Reroute on a link and a PrimitiveNode feeding a widget convert as if they were not there', () => {
    const ui = fixture('txt2img-ui.json');
    const sampler = ui.nodes.find((n: { id: number }) => n.id === 3);
    const modelInput = sampler.inputs.find((i: { name: string }) => i.name === 'model');
    const original = ui.links.find((l: number[]) => l[0] === modelInput.link);
    // checkpoint → Reroute 50 → Reroute 51 → KSampler.model
    ui.links = ui.links.filter((l: number[]) => l !== original);
    ui.links.push([900, original[1], original[2], 50, 0, 'MODEL'], [901, 50, 0, 51, 0, '*'], [902, 51, 0, 3, original[4], 'MODEL']);
    modelInput.link = 902;
    ui.nodes.push({ id: 50, type: 'Reroute', mode: 0, inputs: [{ name: '', type: '*', link: 900 }], outputs: [{ name: '', type: 'MODEL', links: [901] }] });
    ui.nodes.push({ id: 51, type: 'Reroute', mode: 0, inputs: [{ name: '', type: '*', link: 901 }], outputs: [{ name: '', type: 'MODEL', links: [902] }] });
    // A PrimitiveNode drives the seed widget, converted to an input; the widget keeps the value.
    ui.nodes.push({ id: 60, type: 'PrimitiveNode', mode: 0, outputs: [{ name: 'INT', type: 'INT', links: [903], widget: { name: 'seed' } }], widgets_values: [156680208700286, 'fixed'] });
    ui.links.push([903, 60, 0, 3, 4, 'INT']);
    sampler.inputs.push({ name: 'seed', type: 'INT', link: 903, widget: { name: 'seed' } });

    const converted = convertComfyWorkflow(ui).workflow;
    const plain = convertComfyWorkflow(fixture('txt2img-ui.json')).workflow;
    expect(converted.nodes).toEqual(plain.nodes);
  });
});

describe('diffgraph import / validate / run with a ComfyUI PNG', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'diffgraph-comfy-png-'));
  const file = path.join(dir, 'ComfyUI_00001_.png');
  writeFileSync(file, comfyPng(fixture('txt2img-api.json'), fixture('txt2img-ui.json')));

  it('validate and run take the PNG as the workflow it carries', async () => {
    const validate = await cli(['validate', file], dir);
    expect(validate.stderr).toContain('this is a ComfyUI workflow (API format), converted');
    expect(validate.stdout).toContain('valid (outputs: 9)');
    const run = await cli(['run', file, '--models', models, '--out', path.join(dir, 'out')], dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^succeeded/);
  }, 120_000);

  it('import writes the converted workflow; a PNG without one is a coded error', async () => {
    const out = path.join(dir, 'imported.json');
    const imported = await cli(['import', file, '--out', out], dir);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(convertComfyWorkflow(fixture('txt2img-api.json')).workflow);
    const bare = await cli(['import', path.join(fixtures, 'red-circle.png')], dir);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toContain('NO_EMBEDDED_WORKFLOW');
  }, 60_000);

  it('import refuses a diffgraph JSON workflow: there is nothing to convert', async () => {
    const result = await cli(['import', path.join(repoRoot, 'workflows/txt2img.json')], dir);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('COMFY_INVALID_WORKFLOW');
  }, 60_000);
});

describe('POST /api/import', () => {
  let server: Awaited<ReturnType<typeof tempServer>>;
  beforeAll(async () => {
    server = await tempServer({ modelsDir: models });
  });
  afterAll(() => server.close());

  const post = (body: string | Uint8Array, type: string, query = '') =>
    api(server.url, `/api/import${query}`, { method: 'POST', body, headers: { 'Content-Type': type } });

  it('converts a ComfyUI PNG from its UI graph (the layout the editor shows), or its prompt with ?prefer=api', async () => {
    const png = comfyPng(fixture('txt2img-api.json'), fixture('txt2img-ui.json'));
    const ui = await post(png, 'image/png');
    expect(ui.status).toBe(200);
    expect(ui.body.source).toBe('comfyui-ui');
    expect(ui.body.workflow.format).toBe('diffgraph/workflow@1');
    expect(ui.body.workflow.ui.positions['3']).toEqual([863, 186]);
    const prompt = await post(png, 'image/png', '?prefer=api');
    expect(prompt.body.source).toBe('comfyui-api');
  });

  it('passes a diffgraph workflow through and converts ComfyUI JSON, with the converter\'s notes', async () => {
    const ours = JSON.parse(readFileSync(path.join(repoRoot, 'workflows/txt2img.json'), 'utf8'));
    expect((await post(JSON.stringify(ours), 'application/json')).body).toEqual({ workflow: ours, source: 'diffgraph', notes: [] });
    const comfy = await post(JSON.stringify(fixture('txt2img-api.json')), 'application/json');
    expect(comfy.body).toMatchObject({ source: 'comfyui-api', notes: expect.any(Array) });
  });

  it('GET /api/nodes carries ComfyUI\'s names: the node a class becomes (aliases) and the nodes beside it (seeAlso)', async () => {
    const nodes = (await api(server.url, '/api/nodes')).body.nodes as { type: string; aliases?: string[]; seeAlso?: string[] }[];
    const byType = new Map(nodes.map((n) => [n.type, n]));
    expect(byType.get('Sample')!.aliases).toEqual(expect.arrayContaining(['KSampler', 'KSamplerAdvanced', 'KSampler (Advanced)', 'SamplerCustomAdvanced']));
    expect(byType.get('Solver')!.seeAlso).toContain('KSampler');
    expect(byType.get('Solver')!.aliases).toContain('KSamplerSelect');
    expect(byType.get('TextEncode')!.aliases).toEqual(['CLIPTextEncode', 'CLIP Text Encode (Prompt)']);
    expect(byType.get('EmptyLatent')!.aliases).toEqual(['EmptyLatentImage', 'Empty Latent Image']);
  });

  it('answers bad files with coded 400s and other media types with 415', async () => {
    expect((await post(plainPng, 'image/png')).body.errors[0].code).toBe('NO_EMBEDDED_WORKFLOW');
    expect((await post('{"nodes": ', 'application/json')).body.errors[0].code).toBe('INVALID_JSON');
    const lora = await post(JSON.stringify({ ...fixture('txt2img-api.json'), 20: { class_type: 'LoraLoader', inputs: {} } }), 'application/json');
    expect(lora.status).toBe(400);
    expect(lora.body.errors[0]).toMatchObject({ code: 'COMFY_UNSUPPORTED_NODES', nodes: [{ id: '20', classType: 'LoraLoader' }] });
    expect((await post('x', 'text/plain')).status).toBe(415);
  });
});
