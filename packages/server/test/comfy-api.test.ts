/**
 * ComfyUI's API on a real `diffgraph serve` subprocess with the bundled shapes-32 pack: the flow of
 * ComfyUI's script_examples/websockets_api_example.py (WS /ws?clientId, POST /prompt, read until
 * `executing` with node null, GET /history/{id}, GET /view each image), then /object_info,
 * /upload/image with a LoadImage prompt, PreviewImage's temp images, /interrupt, node_errors, /view's
 * confinement and the token and Origin rules.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PNG } from 'pngjs';
import { WebSocket } from 'ws';
import { COMFY_CLASSES } from '../src/comfy/classes.ts';
import { CLOSE_TOO_SLOW } from '../src/ws-client.ts';
import { repoRoot, tempServer, waitFor } from './helpers.ts';
import { serve, stop } from './subprocess.ts';

const fixtures = path.join(repoRoot, 'packages/server/test/fixtures/comfy');
const fixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8'));
const models = path.join(repoRoot, 'models');
const redCircle = readFileSync(path.join(fixtures, 'red-circle.png'));

type Message = { type: string; data: any } | { binary: Buffer };

/** A ComfyUI socket client: every message in order (text parsed, binary kept as it is). */
class ComfySocket {
  readonly messages: Message[] = [];
  private waiters: (() => void)[] = [];
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.messages.push(isBinary ? { binary: data as Buffer } : JSON.parse(data.toString()));
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  static open(base: string, clientId: string, headers: Record<string, string> = {}): Promise<ComfySocket> {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?clientId=${clientId}`, { headers });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new ComfySocket(ws)));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
      ws.once('error', reject);
    });
  }

  /** Waits for a text message matching `match` (already received or later). */
  async until(match: (m: { type: string; data: any }) => boolean, timeoutMs = 60_000): Promise<{ type: string; data: any }> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const found = this.messages.find((m): m is { type: string; data: any } => 'type' in m && match(m));
      if (found) return found;
      if (Date.now() > end) throw new Error(`no matching message; got ${JSON.stringify(this.messages.filter((m) => 'type' in m).map((m) => (m as { type: string }).type))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 200);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The text messages of one prompt, in order. */
  of(promptId: string): { type: string; data: any }[] {
    return this.messages.filter((m): m is { type: string; data: any } => 'type' in m && m.data?.prompt_id === promptId);
  }

  close(): void {
    this.ws.close();
  }
}

async function http(base: string, route: string, init: RequestInit = {}): Promise<{ status: number; body: any; bytes: Buffer; type: string | null; headers: Headers }> {
  const res = await fetch(`${base}${route}`, init);
  const bytes = Buffer.from(await res.arrayBuffer());
  let body: any = bytes.toString('utf8');
  try {
    body = JSON.parse(body);
  } catch {
    // not JSON
  }
  return { status: res.status, body, bytes, type: res.headers.get('content-type'), headers: res.headers };
}

/** As urllib sends it in ComfyUI's example: JSON bytes under urllib's default form content type. */
function queuePrompt(base: string, prompt: unknown, clientId?: string, headers: Record<string, string> = {}) {
  return http(base, '/prompt', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...headers },
    body: JSON.stringify({ prompt, ...(clientId ? { client_id: clientId } : {}) }),
  });
}

function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

/** A different 32×32 image than red-circle.png: a blue square. */
function bluePng(width: number, height: number): Buffer {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) png.data.set([0, 0, 255, 255], 4 * i);
  return PNG.sync.write(png);
}

function uploadForm(bytes: Buffer, name: string, fields: Record<string, string> = {}): FormData {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(bytes)], { type: 'image/png' }), name);
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  return form;
}

describe('ComfyUI API on diffgraph serve', () => {
  let base: string;
  let data: string;
  let child: Awaited<ReturnType<typeof serve>>['child'];
  beforeAll(async () => {
    data = mkdtempSync(path.join(tmpdir(), 'diffgraph-comfy-api-'));
    ({ url: base, child } = await serve(['--data', data, '--models', models]));
  }, 60_000);
  afterAll(() => stop(child));

  /** websockets_api_example.py's get_images(), step by step. */
  async function getImages(ws: ComfySocket, clientId: string, prompt: unknown): Promise<{ promptId: string; history: any; images: Record<string, Buffer[]> }> {
    const queued = await queuePrompt(base, prompt, clientId);
    expect(queued.status, JSON.stringify(queued.body)).toBe(200);
    expect(queued.body).toEqual({ prompt_id: expect.any(String), number: expect.any(Number), node_errors: {} });
    const promptId: string = queued.body.prompt_id;
    await ws.until((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);
    const history = (await http(base, `/history/${promptId}`)).body[promptId];
    const images: Record<string, Buffer[]> = {};
    for (const nodeId of Object.keys(history.outputs)) {
      images[nodeId] = [];
      for (const image of history.outputs[nodeId].images) {
        const view = await http(base, `/view?${new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type })}`);
        expect(view.status).toBe(200);
        images[nodeId].push(view.bytes);
      }
    }
    return { promptId, history, images };
  }

  it('runs the websockets_api_example flow: status, execution messages, history, view', async () => {
    const clientId = randomUUID();
    const ws = await ComfySocket.open(base, clientId);
    const prompt = fixture('txt2img-api.json');
    prompt['6'].inputs.text = 'a big blue circle in the center';
    prompt['3'].inputs.seed = 5;
    const { promptId, history, images } = await getImages(ws, clientId, prompt);
    ws.close();

    expect(ws.messages[0]).toEqual({ type: 'status', data: { status: { exec_info: { queue_remaining: expect.any(Number) } }, sid: clientId } });
    const messages = ws.of(promptId);
    const types = messages.map((m) => m.type);
    expect(types[0]).toBe('execution_start');
    expect(types.slice(-3)).toEqual(['executed', 'execution_success', 'executing']);
    // Each ComfyUI node is announced once, by its ComfyUI id (the KSampler's helpers are not).
    const executing = messages.filter((m) => m.type === 'executing').map((m) => m.data.node);
    expect(executing.filter((n) => n !== null).sort()).toEqual(['3', '4', '5', '6', '7', '8', '9']);
    const progress = messages.filter((m) => m.type === 'progress' && m.data.node === '3');
    expect(progress.length).toBeGreaterThan(1);
    expect(progress.at(-1)!.data).toEqual({ value: progress.at(-1)!.data.max, max: expect.any(Number), prompt_id: promptId, node: '3' });
    const executed = messages.find((m) => m.type === 'executed')!;
    expect(executed.data).toEqual({ node: '9', display_node: '9', output: history.outputs['9'], prompt_id: promptId });
    // Binary previews: [event 1 = PREVIEW_IMAGE][image type 2 = PNG][the PNG].
    const previews = ws.messages.filter((m): m is { binary: Buffer } => 'binary' in m);
    expect(previews.length).toBeGreaterThan(0);
    for (const { binary } of previews) {
      expect(binary.readUInt32BE(0)).toBe(1);
      expect(binary.readUInt32BE(4)).toBe(2);
      pngSize(binary.subarray(8));
    }

    expect(history.prompt).toEqual([expect.any(Number), promptId, prompt, { client_id: clientId }, ['9']]);
    expect(history.status).toMatchObject({ status_str: 'success', completed: true });
    expect(history.status.messages.map((m: [string, unknown]) => m[0])).toEqual(['execution_start', 'execution_success']);
    expect(history.outputs['9'].images).toEqual([{ filename: 'ComfyUI_00001.png', subfolder: promptId, type: 'output' }]);
    expect(images['9']).toHaveLength(1);
    expect(pngSize(images['9'][0])).toEqual({ width: 32, height: 32 });

    const all = await http(base, '/history');
    expect(Object.keys(all.body)).toContain(promptId);
    const last = await http(base, '/history?max_items=1');
    expect(Object.keys(last.body)).toHaveLength(1);
    expect(await http(base, '/history/no-such-prompt')).toMatchObject({ status: 200, body: {} });
  }, 120_000);

  it('a second run of the same prompt reports the cached nodes', async () => {
    const clientId = randomUUID();
    const ws = await ComfySocket.open(base, clientId);
    const prompt = fixture('txt2img-api.json');
    prompt['3'].inputs.seed = 5;
    prompt['6'].inputs.text = 'a big blue circle in the center';
    const { promptId } = await getImages(ws, clientId, prompt);
    ws.close();
    const cached = ws.of(promptId).filter((m) => m.type === 'execution_cached').flatMap((m) => m.data.nodes);
    expect(cached).toContain('4');
  }, 120_000);

  it('a client may choose the prompt_id (a UUID no prompt has)', async () => {
    const promptId = randomUUID();
    const body = (prompt_id: unknown) => JSON.stringify({ prompt: fixture('txt2img-api.json'), prompt_id });
    const queued = await http(base, '/prompt', { method: 'POST', body: body(promptId) });
    expect(queued).toMatchObject({ status: 200, body: { prompt_id: promptId } });
    expect(await http(base, '/prompt', { method: 'POST', body: body(promptId) })).toMatchObject({ status: 400, body: { error: { type: 'invalid_run_id', message: expect.stringContaining('taken') } } });
    expect(await http(base, '/prompt', { method: 'POST', body: body('../../x') })).toMatchObject({ status: 400, body: { error: { type: 'invalid_run_id', message: expect.stringContaining('not a UUID') } } });
    expect((await http(base, '/prompt', { method: 'POST', body: body(7) })).status).toBe(400);
    await waitFor('the chosen prompt_id in the history', async () => (await http(base, `/history/${promptId}`)).body[promptId], 60_000, 100);
  }, 90_000);

  it('a prompt without client_id goes to every client', async () => {
    const ws = await ComfySocket.open(base, randomUUID());
    const queued = await queuePrompt(base, fixture('txt2img-api.json'));
    await ws.until((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === queued.body.prompt_id);
    ws.close();
  }, 120_000);

  it('PreviewImage images are temp files, listed in history and served by /view', async () => {
    const clientId = randomUUID();
    const ws = await ComfySocket.open(base, clientId);
    const prompt = fixture('txt2img-api.json');
    prompt['9'] = { class_type: 'PreviewImage', inputs: { images: ['8', 0] } };
    const { history, images } = await getImages(ws, clientId, prompt);
    ws.close();
    expect(history.outputs['9'].images).toEqual([{ filename: expect.stringMatching(/^ComfyUI_temp_9_00001_\.png$/), subfolder: expect.any(String), type: 'temp' }]);
    expect(pngSize(images['9'][0])).toEqual({ width: 32, height: 32 });
  }, 120_000);

  it('/object_info describes every class the converter takes, in ComfyUI\'s shape, with this server\'s lists', async () => {
    const info = (await http(base, '/object_info')).body;
    expect(Object.keys(info).sort()).toEqual(Object.keys(COMFY_CLASSES).sort());
    expect(info.KSampler).toMatchObject({
      name: 'KSampler', display_name: 'KSampler', category: 'sampling', output: ['LATENT'], output_name: ['LATENT'], output_node: false,
      input: { required: { model: ['MODEL'], positive: ['CONDITIONING'], steps: ['INT', { default: 20, min: 1, max: 1000 }] }, optional: {} },
    });
    const [samplers] = info.KSampler.input.required.sampler_name;
    expect(samplers).toContain('euler');
    expect(samplers).not.toContain('dpm_fast');
    expect(info.KSampler.input.required.scheduler[0]).not.toContain('beta');
    expect(info.CheckpointLoaderSimple.input.required.ckpt_name[0]).toContain('shapes-32');
    expect(info.CheckpointLoaderSimple.output).toEqual(['MODEL', 'CLIP', 'VAE']);
    expect(info.SaveImage.output_node).toBe(true);
    expect(info.SamplerCustomAdvanced.output_name).toEqual(['output', 'denoised_output']);
    expect((await http(base, '/object_info/KSampler')).body).toEqual({ KSampler: info.KSampler });
    expect((await http(base, '/object_info/LoraLoader')).body).toEqual({});
  });

  it('/upload/image keeps the image in the input folder, and a LoadImage prompt uses it', async () => {
    const upload = (form: FormData) => http(base, '/upload/image', { method: 'POST', body: form });
    const first = await upload(uploadForm(redCircle, 'red-circle.png', { subfolder: 'mine' }));
    expect(first).toMatchObject({ status: 200, body: { name: 'red-circle.png', subfolder: 'mine', type: 'input' } });
    expect((await upload(uploadForm(redCircle, 'red-circle.png', { subfolder: 'mine' }))).body.name).toBe('red-circle.png');
    const other = bluePng(32, 32);
    expect((await upload(uploadForm(other, 'red-circle.png', { subfolder: 'mine' }))).body.name).toBe('red-circle (1).png');
    expect((await upload(uploadForm(other, 'red-circle.png', { subfolder: 'mine', overwrite: 'true' }))).body.name).toBe('red-circle.png');
    expect((await upload(uploadForm(redCircle, 'top.png'))).body).toEqual({ name: 'top.png', subfolder: '', type: 'input' });
    expect((await http(base, '/object_info/LoadImage')).body.LoadImage.input.required.image).toEqual([expect.arrayContaining(['top.png']), { image_upload: true }]);
    expect((await upload(uploadForm(redCircle, '../../escape.png'))).body.name).toBe('escape.png');
    expect((await upload(uploadForm(redCircle, 'page.html'))).body.name).toBe('page.html.png');

    expect(await upload(uploadForm(Buffer.from('not an image'), 'x.png'))).toMatchObject({ status: 415, body: { errors: [{ code: 'UNSUPPORTED_MEDIA_TYPE' }] } });
    expect(await upload(uploadForm(redCircle, 'x.png', { subfolder: '../..' }))).toMatchObject({ status: 403, body: { errors: [{ code: 'PATH_OUTSIDE_ROOT' }] } });
    expect(await upload(uploadForm(redCircle, 'x.png', { type: 'output' }))).toMatchObject({ status: 400 });
    expect((await http(base, '/upload/image', { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } })).status).toBe(415);

    const clientId = randomUUID();
    const ws = await ComfySocket.open(base, clientId);
    const prompt = fixture('img2img-api.json');
    prompt['10'].inputs.image = 'mine/red-circle (1).png';
    prompt['3'].inputs.steps = 4;
    const { history, images } = await getImages(ws, clientId, prompt);
    ws.close();
    expect(history.status.status_str).toBe('success');
    expect(pngSize(images['9'][0])).toEqual({ width: 32, height: 32 });
  }, 120_000);

  it('POST /interrupt stops the running prompt (and only the one named)', async () => {
    const clientId = randomUUID();
    const ws = await ComfySocket.open(base, clientId);
    const prompt = fixture('txt2img-api.json');
    prompt['3'].inputs.steps = 1000;
    const promptId = (await queuePrompt(base, prompt, clientId)).body.prompt_id;
    await ws.until((m) => m.type === 'progress' && m.data.prompt_id === promptId && m.data.value >= 1);
    expect((await http(base, '/queue')).body.queue_running).toEqual([[expect.any(Number), promptId, prompt, { client_id: clientId }, ['9']]]);
    // A prompt waiting behind it leaves the queue with POST /queue { delete }.
    const waiting = (await queuePrompt(base, fixture('txt2img-api.json'), clientId)).body.prompt_id;
    expect((await http(base, '/queue')).body.queue_pending.map((item: unknown[]) => item[1])).toEqual([waiting]);
    expect((await http(base, '/queue', { method: 'POST', body: JSON.stringify({ delete: [waiting] }) })).status).toBe(200);
    expect((await http(base, '/queue')).body.queue_pending).toEqual([]);
    expect((await http(base, '/interrupt', { method: 'POST', body: JSON.stringify({ prompt_id: 'another' }) })).status).toBe(200);
    const seen = ws.of(promptId).filter((m) => m.type === 'progress').length;
    await ws.until(() => ws.of(promptId).filter((m) => m.type === 'progress').length > seen + 1);
    expect((await http(base, '/interrupt', { method: 'POST' })).status).toBe(200);
    const interrupted = await ws.until((m) => m.type === 'execution_interrupted' && m.data.prompt_id === promptId);
    expect(interrupted.data).toMatchObject({ node_id: '3', node_type: 'KSampler', executed: expect.arrayContaining(['4', '6', '7']) });
    await ws.until((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);
    ws.close();
    const history = (await http(base, `/history/${promptId}`)).body[promptId];
    expect(history.status).toMatchObject({ status_str: 'error', completed: false });
    expect(history.status.messages.at(-1)[0]).toBe('execution_interrupted');
    expect((await http(base, '/queue')).body).toEqual({ queue_running: [], queue_pending: [] });
    // The cancelled waiting prompt never started: as in ComfyUI, it sent no messages and has no history.
    expect(ws.of(waiting)).toEqual([]);
    expect((await http(base, `/history/${waiting}`)).body).toEqual({});
    // POST /history { delete } removes an entry.
    expect((await http(base, '/history', { method: 'POST', body: JSON.stringify({ delete: [promptId] }) })).status).toBe(200);
    expect((await http(base, `/history/${promptId}`)).body).toEqual({});
  }, 120_000);

  it('a prompt that fails while it runs ends with execution_error naming the ComfyUI node, then executing null', async () => {
    const clientId = randomUUID();
    const ws = await ComfySocket.open(base, clientId);
    const prompt = fixture('txt2img-api.json');
    prompt['4'].inputs.ckpt_name = 'no-such-pipeline.safetensors';
    const promptId = (await queuePrompt(base, prompt, clientId)).body.prompt_id;
    await ws.until((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);
    ws.close();
    const error = ws.of(promptId).find((m) => m.type === 'execution_error')!;
    expect(error.data).toMatchObject({ node_id: '4', node_type: 'CheckpointLoaderSimple', exception_message: expect.stringContaining('no-such-pipeline'), traceback: [] });
    expect(error.data.exception_message).not.toContain(data);
    const history = (await http(base, `/history/${promptId}`)).body[promptId];
    expect(history.status).toMatchObject({ status_str: 'error', completed: false });
    expect(history.status.messages.map((m: [string]) => m[0])).toEqual(['execution_start', 'execution_error']);
    expect(history.outputs).toEqual({});
  }, 60_000);

  it('invalid prompts are refused as ComfyUI refuses them, under the ComfyUI node ids', async () => {
    const tooMany = fixture('txt2img-api.json');
    tooMany['3'].inputs.steps = 5000;
    const steps = await queuePrompt(base, tooMany);
    expect(steps.status).toBe(400);
    expect(steps.body.error).toMatchObject({ type: 'prompt_outputs_failed_validation', message: 'Prompt outputs failed validation', extra_info: {} });
    expect(steps.body.node_errors).toEqual({
      3: { class_type: 'KSampler', dependent_outputs: ['9'], errors: [{ type: 'above_max', message: expect.stringContaining('5000'), details: 'steps', extra_info: { input_name: 'steps' } }] },
    });

    const outside = fixture('txt2img-api.json');
    outside['4'].inputs.ckpt_name = '../../../etc/model.safetensors';
    const path = await queuePrompt(base, outside);
    expect(path.status).toBe(400);
    expect(path.body.node_errors['4']).toMatchObject({ class_type: 'CheckpointLoaderSimple', errors: [{ type: 'path_outside_root', extra_info: { input_name: 'ckpt_name' } }] });
    expect(path.body.node_errors['4'].dependent_outputs).toEqual(['9']);

    const beta = fixture('txt2img-api.json');
    beta['3'].inputs.scheduler = 'beta';
    expect((await queuePrompt(base, beta)).body.node_errors['3'].errors[0]).toMatchObject({ type: 'comfy_unsupported_setting', extra_info: { input_name: 'scheduler' } });

    const lora = { ...fixture('txt2img-api.json'), 20: { class_type: 'LoraLoader', inputs: {} } };
    const unsupported = await queuePrompt(base, lora);
    expect(unsupported.status).toBe(400);
    expect(unsupported.body.error.type).toBe('invalid_prompt');
    expect(unsupported.body.node_errors['20']).toMatchObject({ class_type: 'LoraLoader', errors: [{ type: 'unsupported_node' }] });

    const noOutputs = fixture('txt2img-api.json');
    delete noOutputs['9'];
    expect((await queuePrompt(base, noOutputs)).body).toEqual({ error: { type: 'prompt_no_outputs', message: 'Prompt has no outputs', details: '', extra_info: {} }, node_errors: {} });
    expect(await http(base, '/prompt', { method: 'POST', body: '{}' })).toMatchObject({ status: 400, body: { error: { type: 'no_prompt' }, node_errors: {} } });
    expect(await http(base, '/prompt', { method: 'POST', body: JSON.stringify({ prompt: { nodes: [] } }) })).toMatchObject({ status: 400, body: { error: { type: 'invalid_prompt' } } });
    expect(await http(base, '/prompt', { method: 'POST', body: '{not json' })).toMatchObject({ status: 400, body: { errors: [{ code: 'INVALID_JSON' }] } });
  }, 60_000);

  it('/view serves only inside its folder', async () => {
    for (const query of ['filename=diffgraph.db&subfolder=..', 'filename=../diffgraph.db', 'filename=..%2Fdiffgraph.db&type=input', 'filename=passwd&subfolder=/etc', 'filename=x&subfolder=../../..&type=temp']) {
      const res = await http(base, `/view?${query}`);
      expect(res.status, query).toBe(403);
      expect(res.body.errors[0].code, query).toBe('PATH_OUTSIDE_ROOT');
    }
    writeFileSync(path.join(data, 'inputs', 'planted.html'), '<script>alert(1)</script>');
    const planted = await http(base, '/view?filename=planted.html&type=input');
    expect(planted.status).toBe(200);
    expect(planted.type).toBe('application/octet-stream');
    expect(planted.headers.get('content-disposition')).toMatch(/^attachment/);
    expect((await http(base, '/view?filename=x.png&type=models')).status).toBe(400);
    expect((await http(base, '/view')).status).toBe(400);
    expect((await http(base, '/view?filename=nothing.png')).status).toBe(404);
  });

  it('/system_stats, /queue and /prompt answer in ComfyUI\'s shapes', async () => {
    const stats = (await http(base, '/system_stats')).body;
    expect(stats.system).toMatchObject({ os: process.platform, ram_total: expect.any(Number), comfyui_version: expect.stringContaining('diffgraph') });
    expect(stats.devices).toEqual([expect.objectContaining({ type: 'cpu', index: 0 })]);
    expect((await http(base, '/queue')).body).toEqual({ queue_running: [], queue_pending: [] });
    expect((await http(base, '/prompt')).body).toEqual({ exec_info: { queue_remaining: 0 } });
    expect((await http(base, '/ws')).status).toBe(426);
  });

  it('a page on another origin can neither queue prompts nor open the socket', async () => {
    const res = await queuePrompt(base, fixture('txt2img-api.json'), undefined, { Origin: 'http://evil.example' });
    expect(res).toMatchObject({ status: 403, body: { errors: [{ code: 'CROSS_ORIGIN' }] } });
    await expect(ComfySocket.open(base, 'x', { Origin: 'http://evil.example' })).rejects.toThrow('HTTP 403');
    expect((await http(base, '/interrupt', { method: 'POST', headers: { Origin: 'http://evil.example' } })).status).toBe(403);
  });
});

describe('ComfyUI API with a token', () => {
  const token = 'comfy-token-0123456789';
  let base: string;
  let child: Awaited<ReturnType<typeof serve>>['child'];
  beforeAll(async () => {
    ({ url: base, child } = await serve(['--data', mkdtempSync(path.join(tmpdir(), 'diffgraph-comfy-tok-')), '--models', models, '--token', token]));
  }, 60_000);
  afterAll(() => stop(child));

  it('every route and the socket need the bearer token', async () => {
    for (const route of ['/object_info', '/history', '/queue', '/system_stats', '/view?filename=x.png']) expect((await http(base, route)).status, route).toBe(401);
    expect((await queuePrompt(base, fixture('txt2img-api.json'))).status).toBe(401);
    expect((await http(base, '/upload/image', { method: 'POST', body: uploadForm(redCircle, 'a.png') })).status).toBe(401);
    await expect(ComfySocket.open(base, 'x')).rejects.toThrow('HTTP 401');
    const auth = { Authorization: `Bearer ${token}` };
    expect((await http(base, '/object_info/KSampler', { headers: auth })).status).toBe(200);
    const ws = await ComfySocket.open(base, 'with-token', auth);
    expect(ws.messages[0] ?? await ws.until((m) => m.type === 'status')).toMatchObject({ type: 'status', data: { sid: 'with-token' } });
    ws.close();
    const bad = fixture('txt2img-api.json');
    bad['3'].inputs.steps = 5000;
    expect((await queuePrompt(base, bad, undefined, auth)).status).toBe(400);
  });
});

describe('ComfyUI prompts across a restart', () => {
  it('the history and its images are still there after diffgraph serve restarts on the same data', async () => {
    const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-comfy-restart-'));
    const first = await serve(['--data', data, '--models', models]);
    const clientId = randomUUID();
    const ws = await ComfySocket.open(first.url, clientId);
    const prompt = fixture('txt2img-api.json');
    prompt['8b'] = { class_type: 'PreviewImage', inputs: { images: ['8', 0] } };
    const promptId = (await queuePrompt(first.url, prompt, clientId)).body.prompt_id;
    await ws.until((m) => m.type === 'executing' && m.data.node === null && m.data.prompt_id === promptId);
    ws.close();
    const before = (await http(first.url, `/history/${promptId}`)).body;
    await stop(first.child);

    const second = await serve(['--data', data, '--models', models]);
    try {
      const after = (await http(second.url, `/history/${promptId}`)).body;
      expect(after).toEqual(before);
      expect(Object.keys(after[promptId].outputs).sort()).toEqual(['8b', '9']);
      for (const image of [...after[promptId].outputs['9'].images, ...after[promptId].outputs['8b'].images]) {
        const view = await http(second.url, `/view?${new URLSearchParams(image)}`);
        expect(pngSize(view.bytes)).toEqual({ width: 32, height: 32 });
      }
    } finally {
      await stop(second.child);
    }
  }, 120_000);
});

describe('ComfyUI socket limits', () => {
  it('a client that stops reading is closed with 4008, as on /api/events', async () => {
    const server = await tempServer({ modelsDir: models, wsLimits: { pingTimeoutMs: 300 } });
    try {
      const ws = await ComfySocket.open(server.url, 'sleepy');
      const closed = new Promise<number>((resolve) => ws.ws.once('close', (code) => resolve(code)));
      ws.ws.pause();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      ws.ws.resume();
      expect(await closed).toBe(CLOSE_TOO_SLOW);
    } finally {
      await server.close();
    }
  }, 30_000);
});
