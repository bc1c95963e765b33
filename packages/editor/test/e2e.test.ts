/**
 * End to end: the editor bundle (built here with Vite's JS API) served by a real `diffgraph serve` on
 * loopback, driven in Debian's Chromium by playwright-core with pointer and keyboard input. Any console
 * error or page error fails the test. Screenshots go to packages/editor/test-output/.
 */
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { insertPngText } from '@diffgraph/nodes';
import { buildEditor, CHROMIUM, dropFile, editorDir, FLAGS, haveChromium, locate, replacing as replaceGraph, repo, startServer as serve, waitForRunStatus } from './harness.ts';

const shots = path.join(editorDir, 'test-output');

type Pt = [number, number];

let server: ChildProcess;
let baseUrl = '';
let dataDir = '';
let dist = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];
/** Browser-logged failed requests a test expects (e.g. the 400 of an invalid workflow). */
let expectedFailures: RegExp[] = [];
/** The workflow the first test ran (SaveImage embeds it in its PNGs), and one of those PNGs. */
let submitted: unknown;
let pngUrl = '';

async function startServer(): Promise<string> {
  dataDir = mkdtempSync(path.join(tmpdir(), 'diffgraph-e2e-'));
  dist = await buildEditor();
  const started = serve(dataDir, dist);
  server = started.child;
  return started.url;
}

const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });

/** Page coordinates of a node part (title, an input socket or widget, an output socket). */
function at(id: string, part: { input?: string; output?: string; title?: boolean } = { title: true }): Promise<Pt> {
  return locate(page, id, part);
}

async function toClient(x: number, y: number): Promise<Pt> {
  return page.evaluate(({ x, y }) => (window as any).diffgraph.editor.toClient(x, y), { x, y }) as Promise<Pt>;
}

async function workflow(): Promise<any> {
  return page.evaluate(() => (window as any).diffgraph.editor.toWorkflow());
}

async function drag(from: Pt, to: Pt): Promise<void> {
  await page.mouse.move(from[0], from[1]);
  await page.mouse.down();
  await page.mouse.move((from[0] + to[0]) / 2, (from[1] + to[1]) / 2, { steps: 4 });
  await page.mouse.move(to[0], to[1], { steps: 4 });
  await page.mouse.up();
}

async function connect(from: string, output: string, to: string, input: string): Promise<void> {
  await drag(await at(from, { output }), await at(to, { input }));
}

/** Drags a palette entry onto the canvas at graph position (x, y); returns the new node's id. */
async function addFromPalette(type: string, x: number, y: number): Promise<string> {
  const before: string[] = await page.evaluate(() => (window as any).diffgraph.editor.nodeIds());
  const [cx, cy] = await toClient(x + 20, y + 10);
  const box = (await page.locator('canvas.graph').boundingBox())!;
  await page.locator(`[data-testid="palette-${type}"]`).dragTo(page.locator('canvas.graph'), { targetPosition: { x: cx - box.x, y: cy - box.y } });
  const after: string[] = await page.evaluate(() => (window as any).diffgraph.editor.nodeIds());
  const added = after.filter((id) => !before.includes(id));
  expect(added).toHaveLength(1);
  return added[0];
}

async function editWidget(id: string, input: string, value: string, multiline = false): Promise<void> {
  const [x, y] = await at(id, { input });
  await page.mouse.click(x, y);
  const field = page.locator('[data-testid="prompt-input"]');
  await field.waitFor();
  await field.fill(value);
  await field.press(multiline ? 'Control+Enter' : 'Enter');
  await field.waitFor({ state: 'detached' });
}

async function runStatus(): Promise<string> {
  return (await page.locator('[data-testid="run-status"]').getAttribute('data-status')) ?? '';
}

function waitForStatus(statuses: string[], timeout = 20_000): Promise<string> {
  return waitForRunStatus(page, statuses, timeout);
}

/**
 * Reloads the page with its subscriptions to single runs held back until the returned function is
 * called (the all-runs subscription passes), so a test decides when the editor hears of its run.
 */
async function holdRunSubscriptions(): Promise<() => void> {
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.routeWebSocket(/\/api\/events/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      if (typeof message === 'string' && message.includes('"subscribe"') && message.includes('runId')) void held.then(() => server.send(message));
      else server.send(message);
    });
  });
  await page.reload();
  await page.waitForSelector('body[data-ready]');
  return release;
}

/** A missing input file passes validation and fails the node when it runs. */
function failingWorkflow(missing: string) {
  return { format: 'diffgraph/workflow@1', nodes: {
    image: { type: 'LoadImage', inputs: { path: missing } },
    save: { type: 'SaveImage', inputs: { images: { from: 'image', output: 'image' } } },
  } };
}

function replacing(action: () => Promise<unknown>, options: { refused?: boolean } = {}): Promise<void> {
  return replaceGraph(page, action, options);
}

/** Drops a PNG on the canvas, 300 px into it, as a file dragged from the desktop arrives. */
async function dropOnCanvas(name: string, png: Buffer): Promise<void> {
  const box = (await page.locator('canvas.graph').boundingBox())!;
  await dropFile(page, name, 'image/png', png, [box.x + 300, box.y + 300]);
}

/** The solver lab made slow (64 components, 4096 samples, 1000 steps): a run that stays running for a while. */
function slowWorkflow(): any {
  const wf = JSON.parse(readFileSync(path.join(repo, 'workflows/gmm-solver-lab.json'), 'utf8'));
  const K = 64;
  wf.nodes.model.inputs.mixture = { weights: Array(K).fill(1), means: Array.from({ length: K }, (_, i) => [Math.cos(i), Math.sin(i)]), stds: Array(K).fill(0.2) };
  wf.nodes.schedule.inputs.steps = 1000;
  wf.nodes.latent.inputs.batch = 4096;
  return wf;
}

async function openFile(name: string, content: string | Buffer, options: { refused?: boolean } = {}): Promise<void> {
  await replacing(() => page.locator('[data-testid="file-input"]').setInputFiles({ name, mimeType: name.endsWith('.png') ? 'image/png' : 'application/json', buffer: Buffer.from(content) }), options);
}

const newGraph = () => replacing(() => page.getByRole('button', { name: 'New' }).click());
const openExample = (option: string | { label: string }) => replacing(() => page.locator('[data-testid="examples"]').selectOption(option));

describe.skipIf(!haveChromium)('editor in Chromium against diffgraph serve', () => {
  beforeAll(async () => {
    rmSync(shots, { recursive: true, force: true });
    mkdirSync(shots, { recursive: true });
    baseUrl = await startServer();
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 }, acceptDownloads: true });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() !== 'error') return;
      const expected = expectedFailures.findIndex((re) => re.test(m.text()));
      if (expected >= 0) expectedFailures.splice(expected, 1);
      else problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    if (process.env.E2E_DEBUG) page.on('console', (m) => console.log('[browser]', m.type(), m.text()));
    await page.goto(baseUrl);
    await page.waitForSelector('body[data-ready]', { timeout: 45_000 });
  }, 90_000);

  afterEach(() => {
    expect(problems, 'no console errors').toEqual([]);
    expect(expectedFailures.map(String), 'expected request failures').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  it('builds txt2img from the palette, refuses a wrong link, edits widgets, runs it with progress, previews and images', async () => {
    await newGraph();
    expect(await page.evaluate(() => (window as any).diffgraph.editor.nodeIds())).toEqual([]);
    // The palette comes from GET /api/nodes: categories, and search.
    await expect.poll(() => page.locator('.palette details summary').allTextContents()).toContain('sampling');
    await page.locator('[data-testid="palette-search"]').fill('sample');
    await expect.poll(() => page.locator('.palette-list [data-type]').first().getAttribute('data-type')).toBe('Sample');
    await page.locator('[data-testid="palette-search"]').fill('');
    // Zoom out with the keyboard so the graph fits.
    await page.locator('canvas.graph').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('-');
    await page.keyboard.press('-');
    await page.keyboard.press('-');

    const model = await addFromPalette('LoadPipeline', 0, 0);
    const pos = await addFromPalette('TextEncode', 270, 0);
    const cfg = await addFromPalette('CFGGuider', 540, 0);
    const schedule = await addFromPalette('Schedule', 270, 260);
    const latent = await addFromPalette('EmptyLatent', 270, 560);
    const noise = await addFromPalette('RandomNoise', 540, 200);
    const solver = await addFromPalette('Solver', 0, 260);
    const sample = await addFromPalette('Sample', 810, 0);
    const decode = await addFromPalette('VAEDecode', 1080, 0);
    const save = await addFromPalette('SaveImage', 1080, 200);
    expect([model, pos, cfg, schedule, latent, noise, solver, sample, decode, save]).toEqual(
      ['load_pipeline', 'text_encode', 'cfg_guider', 'schedule', 'empty_latent', 'random_noise', 'solver', 'sample', 'vae_decode', 'save_image']);

    // The seed control follows the role GET /api/nodes serves on RandomNoise's seed; steps has no role seed.
    const controlAt = (id: string, input: string) => page.evaluate(({ id, input }) => (window as any).diffgraph.editor.locate(id, { input }), { id, input });
    expect(await controlAt(noise, 'seed control')).toHaveLength(2);
    expect(await controlAt(schedule, 'steps control')).toBeUndefined();

    // A MODEL output does not connect to a SIGMAS input.
    await connect(model, 'model', sample, 'sigmas');
    expect((await workflow()).nodes[sample].inputs.sigmas).toBeUndefined();

    await connect(model, 'text_encoder', pos, 'encoder');
    await connect(model, 'model', cfg, 'model');
    await connect(pos, 'conditioning', cfg, 'positive');
    await connect(model, 'model', schedule, 'model');
    await connect(model, 'model', latent, 'model');
    await connect(noise, 'noise', sample, 'noise');
    await connect(cfg, 'guider', sample, 'guider');
    await connect(solver, 'solver', sample, 'solver');
    await connect(schedule, 'sigmas', sample, 'sigmas');
    await connect(latent, 'latent', sample, 'latent');
    await connect(sample, 'samples', decode, 'latent');
    await connect(model, 'vae', decode, 'vae');
    await connect(decode, 'image', save, 'images');
    await editWidget(pos, 'text', 'a red circle on the left', true);
    await editWidget(schedule, 'steps', '12');
    await editWidget(latent, 'batch', '4');
    // Typed arithmetic is evaluated without eval (the CSP forbids it), and clamped to the input's range.
    await editWidget(sample, 'preview_every', '1+1');
    await editWidget(cfg, 'cfg', '1e9');
    await shot('01-built');
    const wf = await workflow();
    expect(wf.nodes[sample].inputs).toEqual({
      noise: { from: noise, output: 'noise' }, guider: { from: cfg, output: 'guider' }, solver: { from: solver, output: 'solver' },
      sigmas: { from: schedule, output: 'sigmas' }, latent: { from: latent, output: 'latent' }, preview_every: 2,
    });
    expect(wf.nodes[cfg].inputs.cfg).toBe(100);
    await editWidget(cfg, 'cfg', '4');
    expect(wf.nodes[pos].inputs).toEqual({ encoder: { from: model, output: 'text_encoder' }, text: 'a red circle on the left' });
    expect(wf.nodes[schedule].inputs.steps).toBe(12);
    expect(wf.nodes[save].inputs).toEqual({ images: { from: decode, output: 'image' } });
    await page.getByRole('button', { name: 'Fit' }).click();
    await shot('01-built-fit');

    await page.getByTestId('run').click();
    await waitForStatus(['done', 'failed', 'invalid'], 30_000);
    expect(await runStatus()).toBe('done');
    const log: { type: string; nodeId?: string }[] = await page.evaluate(() => (window as any).diffgraph.app.eventLog);
    expect(log.filter((e) => e.type === 'node.progress' && e.nodeId === sample).length).toBeGreaterThanOrEqual(12);
    expect(log.filter((e) => e.type === 'node.preview' && e.nodeId === sample).length).toBeGreaterThan(0);
    const states = await page.evaluate((ids) => ids.map((id: string) => (window as any).diffgraph.editor.decorationOf(id)?.state), [model, sample, save]);
    expect(states).toEqual(['done', 'done', 'done']);
    const sampleImages = await page.evaluate((id) => (window as any).diffgraph.editor.decorationOf(id)?.images?.length ?? 0, sample);
    expect(sampleImages).toBeGreaterThan(0);
    await expect.poll(() => page.locator('[data-testid="pane-outputs"] figure[data-node="save_image"] img').count()).toBe(4);
    await expect.poll(() => page.evaluate((id) => (window as any).diffgraph.editor.decorationOf(id)?.images?.filter((i: HTMLImageElement) => i.complete && i.naturalWidth > 0).length, save)).toBe(4);
    submitted = await page.evaluate(() => (window as any).diffgraph.app.lastSubmitted);
    pngUrl = (await page.locator('[data-testid="pane-outputs"] figure[data-node="save_image"] img').first().getAttribute('src'))!;
    await page.waitForTimeout(100);
    await shot('02-ran');
  }, 60_000);

  it('saves (download) and loads the workflow back; a reload keeps it', async () => {
    const before = await workflow();
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()]);
    const saved = JSON.parse(readFileSync((await download.path())!, 'utf8'));
    expect(saved).toEqual(before);
    await newGraph();
    expect((await workflow()).nodes).toEqual({});
    await openFile('saved.json', JSON.stringify(saved));
    await expect.poll(() => workflow()).toEqual(saved);
    await page.reload();
    await page.waitForSelector('body[data-ready]');
    expect(await workflow()).toEqual(saved);
    const hasLibrary = await page.evaluate(() => (window as any).diffgraph.app.api.libraryAvailable());
    if (hasLibrary) {
      await page.getByTestId('library-save').click();
      await page.getByTestId('prompt-input').fill('e2e saved');
      await page.getByTestId('prompt-input').press('Enter');
      await page.getByTestId('library-open-e2e saved').waitFor();
      await newGraph();
      await page.getByTestId('library-open-e2e saved').click();
      await expect.poll(() => workflow()).toEqual(saved);
    }
  }, 30_000);

  it('refuses a workflow nested 10,000 deep with NESTING_TOO_DEEP and keeps the open graph', async () => {
    const before = await workflow();
    const text = readFileSync(path.join(repo, 'workflows/gmm-solver-lab.json'), 'utf8').replace('"meta": {', `"meta": { "deep": ${'['.repeat(10_000)}1${']'.repeat(10_000)},`);
    await openFile('deep.json', text, { refused: true });
    await expect.poll(() => page.getByTestId('toast').textContent()).toContain('NESTING_TOO_DEEP');
    expect(await workflow()).toEqual(before);
  }, 30_000);

  it('restores the workflow embedded in a PNG made by SaveImage when it is dropped', async () => {
    expect(submitted).toBeTruthy();
    const png = Buffer.from(await (await fetch(new URL(pngUrl, baseUrl))).arrayBuffer());
    await newGraph();
    await dropOnCanvas('shapes_00001.png', png);
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length)).toBe(10);
    expect(await workflow()).toEqual(submitted);
    await shot('03-dropped-png');
  }, 30_000);

  it('converts ComfyUI files it is given (a PNG ComfyUI saved, dropped; API JSON, opened) and runs them', async () => {
    const comfy = (name: string) => readFileSync(path.join(repo, 'packages/server/test/fixtures/comfy', name), 'utf8');
    const png = insertPngText(readFileSync(path.join(repo, 'packages/server/test/fixtures/comfy/red-circle.png')), { prompt: comfy('txt2img-api.json'), workflow: comfy('txt2img-ui.json') });
    await newGraph();
    await dropOnCanvas('ComfyUI_00001_.png', png);
    await expect.poll(() => page.getByTestId('toast').textContent()).toContain('from a ComfyUI workflow (UI format)');
    const dropped = await workflow();
    expect(Object.keys(dropped.nodes)).toEqual(expect.arrayContaining(['3', '3_noise', '3_solver', '4', '9']));
    // The UI graph's layout is kept: KSampler (node 3) stands where the ComfyUI author put it.
    expect(dropped.ui.positions['3']).toEqual([863, 186]);
    await page.getByTestId('run').click();
    expect(await waitForStatus(['done', 'failed', 'invalid'], 60_000)).toBe('done');

    await openFile('txt2img-api.json', comfy('txt2img-api.json'));
    await expect.poll(() => page.getByTestId('toast').textContent()).toContain('from a ComfyUI workflow (API format)');
    const before = await workflow();
    const lora = { ...JSON.parse(comfy('txt2img-api.json')), 20: { class_type: 'LoraLoader', inputs: {} } };
    expectedFailures = [/Failed to load resource: the server responded with a status of 400/];
    await openFile('lora.json', JSON.stringify(lora), { refused: true });
    await expect.poll(() => page.getByTestId('toast').textContent()).toContain('COMFY_UNSUPPORTED_NODES');
    expect(await page.getByTestId('toast').textContent()).toContain('20 (LoraLoader)');
    expect(await workflow()).toEqual(before);
    await expect.poll(() => expectedFailures.length).toBe(0);
    await shot('03b-comfyui-png');
  }, 90_000);

  it('shows a validation error from the server on the offending node and input', async () => {
    const wf = JSON.parse(readFileSync(path.join(repo, 'workflows/gmm-solver-lab.json'), 'utf8'));
    wf.nodes.schedule.inputs.steps = 0;
    wf.nodes.solver.inputs.kind = 'dpmsolver+++';
    await openFile('broken.json', JSON.stringify(wf));
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length)).toBe(8);
    // The browser logs the 400 answer of POST /api/runs as a console error: the one error expected here.
    expectedFailures = [/Failed to load resource: the server responded with a status of 400/];
    await page.getByTestId('run').click();
    await waitForStatus(['invalid']);
    const errors = await page.evaluate(() => ({
      schedule: (window as any).diffgraph.editor.decorationOf('schedule')?.errors,
      solver: (window as any).diffgraph.editor.decorationOf('solver')?.errors,
      sample: (window as any).diffgraph.editor.decorationOf('sample')?.errors,
    }));
    expect(errors.schedule).toEqual([expect.objectContaining({ input: 'steps', code: 'BELOW_MIN' })]);
    expect(errors.solver).toEqual([expect.objectContaining({ input: 'kind', code: 'NOT_IN_ENUM' })]);
    expect(errors.sample).toBeUndefined();
    await expect(page.locator('[data-testid="pane-problems"] li[data-node="schedule"][data-input="steps"]').count()).resolves.toBe(1);
    await expect.poll(() => expectedFailures.length).toBe(0);
    await shot('04-validation-error');
  }, 30_000);

  it('undo/redo, copy/paste, multi-select, delete, fit, help', async () => {
    await openFile('lab.json', readFileSync(path.join(repo, 'workflows/gmm-solver-lab.json'), 'utf8'));
    const count = () => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length as number);
    await expect.poll(count).toBe(8);
    const title = await at('noise');
    await page.mouse.click(title[0], title[1]);
    const solverTitle = await at('solver');
    await page.keyboard.down('Shift');
    await page.mouse.click(solverTitle[0], solverTitle[1]);
    await page.keyboard.up('Shift');
    expect((await page.evaluate(() => (window as any).diffgraph.editor.selectedIds())).sort()).toEqual(['noise', 'solver']);
    await page.keyboard.press('Control+c');
    const box = (await page.locator('canvas.graph').boundingBox())!;
    await page.mouse.move(box.x + box.width - 150, box.y + box.height - 150);
    await page.keyboard.press('Control+v');
    expect(await count()).toBe(10);
    const ids: string[] = await page.evaluate(() => (window as any).diffgraph.editor.nodeIds());
    expect(ids).toContain('noise_2');
    expect(ids).toContain('solver_2');
    await page.keyboard.press('Delete');
    expect(await count()).toBe(8);
    await page.keyboard.press('Control+z');
    await expect.poll(count).toBe(10);
    await page.keyboard.press('Control+z');
    await expect.poll(count).toBe(8);
    await page.keyboard.press('Control+Shift+z');
    await expect.poll(count).toBe(10);
    // Moving a node is undoable too.
    const before = (await workflow()).ui.positions.save;
    const saveTitle = await at('save');
    await drag(saveTitle, [saveTitle[0] + 80, saveTitle[1] + 40]);
    expect((await workflow()).ui.positions.save).not.toEqual(before);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await workflow()).ui.positions.save).toEqual(before);
    await page.keyboard.press('f');
    await page.keyboard.press('?');
    await page.getByTestId('help-panel').waitFor();
    expect(await page.getByTestId('help-panel').textContent()).toContain('Ctrl+Z');
    await shot('05-help');
    await page.keyboard.press('Escape');
    await page.getByTestId('help-panel').waitFor({ state: 'detached' });
  }, 30_000);

  it('cancels a running run with the Cancel button: the run stops and stays in the history', async () => {
    const wf = slowWorkflow();
    await openFile('slow.json', JSON.stringify(wf));
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length)).toBe(8);
    await page.getByTestId('run').click();
    await waitForStatus(['running']);
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.decorationOf('sample')?.progress?.value ?? 0)).toBeGreaterThan(0);
    const runId: string = await page.evaluate(() => (window as any).diffgraph.app.runId);
    await page.getByTestId('cancel').click();
    await waitForStatus(['cancelled']);
    const run = await (await fetch(`${baseUrl}/api/runs/${runId}`)).json();
    expect(run.status).toBe('cancelled');
    expect(run.nodes.sample.state).toBe('cancelled');
    expect(run.nodes.sample.progress.value).toBeLessThan(1000);
    // A second press is harmless: the finished run is left as it is.
    await page.evaluate(() => (window as any).diffgraph.app.cancel());
    expect((await (await fetch(`${baseUrl}/api/runs/${runId}`)).json()).status).toBe('cancelled');
  }, 30_000);

  it('offers the server\'s models in a loader\'s path dropdown (GET /api/models), and choosing one sets the input', async () => {
    await newGraph();
    const pipeline = await addFromPalette('LoadPipeline', 0, 0);
    const entries = page.locator('.litecontextmenu .litemenu-entry');
    await page.mouse.click(...(await at(pipeline, { input: 'path' })));
    // Exactly what the server lists for this loader (test fixtures under models/ included), in its order.
    const catalog = (await (await fetch(`${baseUrl}/api/models`)).json()) as { models: { name: string; loader?: string }[] };
    const opens = (loader: string) => catalog.models.filter((m) => m.loader === loader).map((m) => m.name);
    expect(opens('LoadPipeline')).toEqual(expect.arrayContaining(['shapes-32', 'shapes-32-flow']));
    await expect.poll(() => entries.allTextContents()).toEqual(opens('LoadPipeline'));
    await shot('07-model-dropdown');
    await entries.filter({ hasText: /^shapes-32-flow$/ }).click();
    await expect.poll(() => entries.count()).toBe(0);
    expect((await workflow()).nodes[pipeline].inputs).toEqual({ path: 'shapes-32-flow' });
    // Each loader lists what it opens: LoadClassifier the pack's classifier, not the pipelines.
    const classifier = await addFromPalette('LoadClassifier', 0, 300);
    await page.mouse.click(...(await at(classifier, { input: 'path' })));
    expect(opens('LoadClassifier')).toContain('shapes-32/classifier');
    await expect.poll(() => entries.allTextContents()).toEqual(opens('LoadClassifier'));
    await entries.filter({ hasText: /^shapes-32\/classifier$/ }).click();
    await expect.poll(() => entries.count()).toBe(0);
    // It is LoadClassifier's default, so the workflow leaves it implicit.
    expect((await workflow()).nodes[classifier].inputs).toEqual({});
  }, 30_000);

  it('opens every bundled example readable (zoom where node text is drawn) with no overlapping nodes; Arrange keeps it so', async () => {
    const layout = () => page.evaluate(() => {
      const editor = (window as any).diffgraph.editor;
      const title = (window as any).LiteGraph?.NODE_TITLE_HEIGHT ?? 30;
      const rects = editor.graph._nodes.map((n: any) => ({ id: n.title, x0: n.pos[0], y0: n.pos[1] - title, x1: n.pos[0] + n.size[0], y1: n.pos[1] + n.size[1] }));
      const overlaps: string[] = [];
      for (let i = 0; i < rects.length; i++) {
        for (let j = i + 1; j < rects.length; j++) {
          const [a, b] = [rects[i], rects[j]];
          if (a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1) overlaps.push(`${a.id} × ${b.id}`);
        }
      }
      return { count: rects.length, overlaps, scale: editor.canvas.ds.scale, readable: editor.readableScale, lowQuality: editor.canvas.low_quality };
    });
    const names = await page.locator('[data-testid="examples"] option').evaluateAll((options) => options.map((o) => (o as HTMLOptionElement).value).filter(Boolean));
    expect(names.length).toBe(readdirSync(path.join(repo, 'workflows')).filter((f) => f.endsWith('.json')).length);
    for (const name of names) {
      await openExample(name);
      const expected = Object.keys(JSON.parse(readFileSync(path.join(repo, 'workflows', name.split('/').pop()!), 'utf8')).nodes).length;
      await expect.poll(async () => (await layout()).count).toBe(expected);
      const view = await layout();
      expect(view.overlaps, name).toEqual([]);
      expect(view.scale, name).toBeGreaterThanOrEqual(view.readable);
      expect(view.lowQuality, name).toBe(false);
      if (name.endsWith('txt2img.json')) await shot('08-first-view-txt2img');
      await page.getByTestId('arrange').click();
      expect((await layout()).overlaps, `${name} arranged`).toEqual([]);
    }
  }, 90_000);

  it('search knows ComfyUI\'s names; a link dropped on empty canvas offers the nodes that take it and connects the one chosen', async () => {
    const search = page.getByTestId('palette-search');
    const found = async (query: string) => {
      await search.fill(query);
      return page.locator('.palette-list li.node-entry').evaluateAll((items) => items.map((li) => li.getAttribute('data-type')));
    };
    expect((await found('KSampler')).slice(0, 5)).toEqual(['Sample', 'CFGGuider', 'RandomNoise', 'Schedule', 'Solver']);
    expect((await found('CLIP Text Encode'))[0]).toBe('TextEncode');
    expect((await found('EmptyLatentImage'))[0]).toBe('EmptyLatent');
    expect((await found('Load Checkpoint'))[0]).toBe('LoadPipeline');
    await search.fill('');

    await openExample({ label: 'txt2img' });
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length)).toBe(11);
    // Column 0 holds only the pipeline: the canvas under it is empty.
    const [left, below] = await page.evaluate(() => {
      const n = (window as any).diffgraph.editor.node('pipeline');
      return [n.pos[0] + 40, n.pos[1] + n.size[1]];
    });
    const empty = await toClient(left, below + 120);
    // From an output: the VAE of the pipeline.
    await drag(await at('pipeline', { output: 'vae' }), empty);
    const popup = page.getByTestId('search-popup');
    await popup.waitFor();
    expect(await popup.getAttribute('placeholder')).toBe('Nodes that take VAE…');
    const offered = await page.locator('.search-popup li').evaluateAll((items) => items.map((li) => li.getAttribute('data-type')));
    expect(offered).toEqual(expect.arrayContaining(['VAEDecode', 'VAEEncode']));
    expect(offered).not.toContain('TextEncode');
    await popup.fill('VAE Decode');
    await popup.press('Enter');
    await expect.poll(async () => Object.keys((await workflow()).nodes).length).toBe(12);
    const added = Object.entries((await workflow()).nodes).find(([id, n]: [string, any]) => n.type === 'VAEDecode' && id !== 'decode')!;
    expect((added[1] as any).inputs.vae).toEqual({ from: 'pipeline', output: 'vae' });
    // From an input: the new decoder's latent wants a node that makes a LATENT.
    await drag(await at(added[0], { input: 'latent' }), await toClient(left, below + 360));
    await popup.waitFor();
    expect(await popup.getAttribute('placeholder')).toBe('Nodes that make LATENT or TENSOR…');
    await popup.fill('Empty Latent Image');
    await popup.press('Enter');
    await expect.poll(async () => Object.keys((await workflow()).nodes).length).toBe(13);
    const latent = Object.entries((await workflow()).nodes).find(([id, n]: [string, any]) => n.type === 'EmptyLatent' && id !== 'latent')!;
    expect(((await workflow()).nodes[added[0]] as any).inputs.latent).toEqual({ from: latent[0], output: 'latent' });
    await shot('09-link-drop-search');
  }, 60_000);

  it('asks before discarding unsaved changes, Undo brings the graph back, and autosave restores unsaved work in a new page', async () => {
    await openExample({ label: 'txt2img' });
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length)).toBe(11);
    expect(await page.evaluate(() => (window as any).diffgraph.app.isDirty())).toBe(false);
    await editWidget('positive', 'text', 'a small blue triangle at the top', true);
    const edited = await workflow();
    expect(await page.evaluate(() => (window as any).diffgraph.app.isDirty())).toBe(true);
    // "Keep editing" keeps the graph as it is.
    await page.getByRole('button', { name: 'New' }).click();
    await page.getByTestId('confirm').waitFor();
    await page.getByTestId('confirm-cancel').click();
    expect(await workflow()).toEqual(edited);
    // Discarding opens the other workflow; Undo brings the edited graph back.
    await page.locator('[data-testid="examples"]').selectOption({ label: 'gmm-solver-lab' });
    await page.getByTestId('confirm-ok').click();
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length)).toBe(8);
    await page.getByTestId('undo').click();
    await expect.poll(() => workflow()).toEqual(edited);
    // A crash or a closed tab loses nothing: a new page restores the unsaved graph and says so.
    const second = await page.context().newPage();
    await second.goto(baseUrl);
    await second.waitForSelector('body[data-ready]');
    expect(await second.evaluate(() => (window as any).diffgraph.editor.toWorkflow())).toEqual(edited);
    expect(await second.evaluate(() => (window as any).diffgraph.app.isDirty())).toBe(true);
    await expect.poll(() => second.getByTestId('toast').textContent()).toContain('Restored your unsaved workflow');
    await second.close();
    // Saved (downloaded) work is not "unsaved" any more.
    await Promise.all([page.waitForEvent('download'), page.getByTestId('save').click()]);
    expect(await page.evaluate(() => (window as any).diffgraph.app.isDirty())).toBe(false);
  }, 60_000);

  it('context menus offer only what the workflow keeps (no subgraphs, modes, groups, colours or titles)', async () => {
    await openExample({ label: 'txt2img' });
    const entries = () => page.locator('.litecontextmenu .litemenu-entry').allTextContents();
    const [x, y] = await at('sample');
    await page.mouse.click(x, y, { button: 'right' });
    await page.locator('.litecontextmenu').waitFor();
    const nodeMenu = (await entries()).map((t) => t.trim()).filter(Boolean);
    expect(nodeMenu).toEqual(expect.arrayContaining(['Clone', 'Remove']));
    for (const gone of ['Convert to Subgraph 🆕', 'Mode', 'Properties', 'Properties Panel', 'Title', 'Colors', 'Shapes']) expect(nodeMenu).not.toContain(gone);
    await page.keyboard.press('Escape');
    await page.mouse.click(5, 5);
    const [, below] = await page.evaluate(() => {
      const n = (window as any).diffgraph.editor.node('pipeline');
      return [0, n.pos[1] + n.size[1] + 150];
    });
    const [ex, ey] = await toClient(60, below);
    await page.keyboard.press('Control+a');
    await page.mouse.click(ex, ey, { button: 'right' });
    await page.locator('.litecontextmenu').waitFor();
    const canvasMenu = (await entries()).map((t) => t.trim()).filter(Boolean);
    expect(canvasMenu).toContain('Add Node');
    expect(canvasMenu).not.toContain('Add Group');
    expect(canvasMenu.some((t) => t.includes('Subgraph'))).toBe(false);
    await page.keyboard.press('Escape');
    await page.mouse.click(5, 5);
  }, 30_000);

  it('a run that failed before the editor subscribed still shows its reason on the node and in Problems', async () => {
    // The editor's subscription is held back until the run has failed on the server, so all the
    // editor gets is the run's state.
    const release = await holdRunSubscriptions();
    await openFile('fails.json', JSON.stringify(failingWorkflow('missing.png')));
    await page.getByTestId('run').click();
    const runId = await expect.poll(() => page.evaluate(() => (window as any).diffgraph.app.runId as string | undefined)).toBeTruthy().then(() => page.evaluate(() => (window as any).diffgraph.app.runId as string));
    await expect.poll(async () => (await (await fetch(new URL(`/api/runs/${runId}`, baseUrl))).json()).status, { timeout: 30_000 }).toMatch(/failed|succeeded/);
    release();
    const final = await waitForStatus(['failed', 'done'], 30_000);
    await page.unrouteAll();
    expect(final).toBe('failed');
    await expect.poll(() => page.locator('[data-testid="pane-problems"] li[data-node="image"][data-code="NODE_FAILED"]').count()).toBe(1);
    expect(await page.locator('[data-testid="pane-problems"]').textContent()).toContain('file "missing.png" not found');
    expect(await page.evaluate(() => (window as any).diffgraph.editor.decorationOf('image')?.errors)).toEqual([expect.objectContaining({ code: 'NODE_FAILED' })]);
  }, 60_000);

  it('a run whose events all arrive before the answer to its submission still shows its node failure', async () => {
    // The answer to POST /api/runs is held until the run has failed, so the node.failed and
    // run.failed events reach the editor (over its all-runs subscription) before it knows the run id;
    // the run's own subscription is held for the whole test, so no run.state can make up for them.
    let runId = '';
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const releaseSubscription = await holdRunSubscriptions();
    await page.route(/\/api\/runs$/, async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      const response = await route.fetch();
      runId = (await response.json()).runId;
      await held;
      await route.fulfill({ response });
    });
    await openFile('fails-early.json', JSON.stringify(failingWorkflow('missing-early.png')));
    await page.getByTestId('run').click();
    await expect.poll(() => runId).toBeTruthy();
    await expect.poll(async () => (await (await fetch(new URL(`/api/runs/${runId}`, baseUrl))).json()).status, { timeout: 30_000 }).toBe('failed');
    // Let the events arrive over the socket before the answer does.
    await expect.poll(() => page.evaluate((id) => (window as any).diffgraph.app.eventsBeforeRunId.some((e: { runId: string; type: string }) => e.runId === id && e.type === 'run.failed'), runId)).toBe(true);
    release();
    expect(await waitForStatus(['failed', 'done'], 30_000)).toBe('failed');
    expect(await page.locator('[data-testid="pane-problems"] li[data-node="image"][data-code="NODE_FAILED"]').count()).toBe(1);
    expect(await page.locator('[data-testid="pane-problems"]').textContent()).toContain('file "missing-early.png" not found');
    expect(await page.evaluate(() => (window as any).diffgraph.editor.decorationOf('image')?.errors)).toEqual([expect.objectContaining({ code: 'NODE_FAILED' })]);
    releaseSubscription();
    await page.unrouteAll();
  }, 60_000);

  it('the Queue tab: live running/queued/history, cancel, re-attach after a reload, gallery rebuilt, open and delete a finished run', async () => {
    const wf = slowWorkflow();
    await openFile('slow.json', JSON.stringify(wf));
    await page.getByTestId('tab-queue').click();
    await page.getByTestId('run').click();
    await waitForStatus(['running']);
    const running: string = await page.evaluate(() => (window as any).diffgraph.app.runId);
    // A second run, from elsewhere, waits behind it.
    const queued = (await (await fetch(`${baseUrl}/api/runs`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ workflow: wf }) })).json()).runId as string;
    const row = (id: string) => page.getByTestId(`queue-run-${id}`);
    await expect.poll(() => row(running).getAttribute('data-status')).toBe('running');
    await expect.poll(() => row(queued).getAttribute('data-status')).toBe('queued');
    await expect.poll(() => row(running).locator('.progress').textContent()).toMatch(/sample \d+\/1000/);
    await shot('10-queue-panel');
    await row(queued).locator('[data-action="cancel"]').click();
    await expect.poll(() => row(queued).getAttribute('data-status')).toBe('cancelled');

    // A reload re-attaches to the running run and refills the gallery from this browser's finished runs.
    await page.reload();
    await page.waitForSelector('body[data-ready]');
    expect(await page.evaluate(() => (window as any).diffgraph.app.runId)).toBe(running);
    await waitForStatus(['running']);
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.decorationOf('sample')?.progress?.value ?? 0)).toBeGreaterThan(0);
    expect(await page.locator('[data-testid="pane-outputs"] figure').count()).toBeGreaterThan(0);
    await page.getByTestId('cancel').click();
    await waitForStatus(['cancelled']);

    // Open a finished run (the txt2img of the first test) and delete another from the history.
    await page.getByTestId('tab-queue').click();
    const succeeded = (await (await fetch(`${baseUrl}/api/runs?status=succeeded&limit=1`)).json()).runs[0].id as string;
    await replacing(() => row(succeeded).locator('[data-action="open"]').click());
    await expect.poll(() => page.getByTestId('toast').textContent()).toContain('Opened run');
    expect(await page.locator(`[data-testid="pane-outputs"] figure`).count()).toBeGreaterThan(0);
    await page.getByTestId('tab-queue').click();
    await row(queued).locator('[data-action="delete"]').click();
    await expect.poll(() => row(queued).count()).toBe(0);
    expect((await fetch(`${baseUrl}/api/runs/${queued}`)).status).toBe(404);
    await page.getByTestId('tab-outputs').click();
  }, 90_000);

  it('shows results: tensor samples as a scatter over the mixture, FK rewards as bars, and images in a viewer that steps and compares', async () => {
    await page.getByTestId('tab-outputs').click();
    await openExample({ label: 'gmm-solver-lab' });
    await page.getByTestId('run').click();
    expect(await waitForStatus(['done', 'failed'], 60_000)).toBe('done');
    const scatter = page.locator('[data-testid="pane-outputs"] canvas[data-kind="scatter"]').first();
    await scatter.waitFor();
    await scatter.click();
    await page.getByTestId('tensor-viewer').waitFor();
    expect(await page.getByTestId('viewer-summary').textContent()).toMatch(/^shape \[256, 2\] · min /);
    // The plot is drawn: the density (blue) and the samples (amber) both appear on the canvas.
    const colours = await page.getByTestId('viewer-plot').evaluate((c) => {
      const d = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 520, 520).data;
      let [amber, blue] = [0, 0];
      for (let i = 0; i < d.length; i += 4) {
        if (d[i] > 180 && d[i + 1] > 120 && d[i + 2] < 80) amber++;
        if (d[i + 2] > d[i] + 40) blue++;
      }
      return { amber, blue };
    });
    expect(colours.amber).toBeGreaterThan(200);
    expect(colours.blue).toBeGreaterThan(2000);
    await page.screenshot({ path: path.join(shots, '11-scatter.png') });
    await page.keyboard.press('Escape');

    await openExample({ label: 'gmm-guidance' });
    await page.getByTestId('run').click();
    expect(await waitForStatus(['done', 'failed'], 60_000)).toBe('done');
    // One reward per particle (batch × particles of them): bars when few, a line and histogram when many.
    const rewards = page.locator('[data-testid="pane-outputs"] figure[data-node="save_rewards"] canvas[data-kind]').first();
    await rewards.waitFor();
    expect(['bars', 'series']).toContain(await rewards.getAttribute('data-kind'));

    // Images: a txt2img batch of 4.
    await openExample({ label: 'txt2img' });
    await page.getByTestId('run').click();
    expect(await waitForStatus(['done', 'failed'], 60_000)).toBe('done');
    const images = page.locator('[data-testid="pane-outputs"] figure img');
    await expect.poll(() => images.count()).toBeGreaterThan(1);
    await images.first().click();
    await page.getByTestId('image-viewer').waitFor();
    const caption = () => page.getByTestId('viewer-caption').textContent();
    expect(await caption()).toMatch(/^1 \/ \d+ · /);
    await page.keyboard.press('ArrowRight');
    expect(await caption()).toMatch(/^2 \/ \d+ · /);
    await page.getByTestId('viewer-compare-select').selectOption({ index: 1 });
    await expect.poll(() => page.getByTestId('viewer-compare').isVisible()).toBe(true);
    expect(await caption()).toContain('↔');
    await page.keyboard.press('Escape');
  }, 120_000);

  it('the Solver shows only the inputs that apply to its kind, and keeps the hidden values', async () => {
    await openExample({ label: 'txt2img' });
    const before = (await workflow()).nodes.solver.inputs;
    const visible = () => page.evaluate(() => (window as any).diffgraph.editor.node('solver').widgets.filter((w: any) => !w.hidden).map((w: any) => w.name));
    expect(await visible()).toEqual(['kind', 'order', 'method', 'lower_order_final', 'threshold_ratio', 'threshold_max']);
    const entries = page.locator('.litecontextmenu .litemenu-entry');
    await page.mouse.click(...(await at('solver', { input: 'kind' })));
    await entries.filter({ hasText: /^unipc$/ }).click();
    await expect.poll(visible).toEqual(['kind', 'order', 'lower_order_final', 'variant', 'prediction']);
    await page.mouse.click(...(await at('solver', { input: 'kind' })));
    await entries.filter({ hasText: /^euler_ancestral$/ }).click();
    await expect.poll(visible).toEqual(['kind', 'eta', 's_noise']);
    // The node shrinks with its inputs, and what is hidden is still in the workflow.
    expect((await workflow()).nodes.solver.inputs).toEqual({ ...before, kind: 'euler_ancestral' });
    await page.getByTestId('undo').click();
    await expect.poll(visible).toEqual(['kind', 'order', 'lower_order_final', 'variant', 'prediction']);
  }, 30_000);

  it('loads, lays out, draws and round-trips a 200-node graph (timings in test-output/perf.json)', async () => {
    const lab = JSON.parse(readFileSync(path.join(repo, 'workflows/gmm-solver-lab.json'), 'utf8'));
    const nodes: Record<string, unknown> = {};
    for (let k = 0; k < 25; k++) {
      for (const [id, node] of Object.entries(lab.nodes as Record<string, { type: string; inputs?: Record<string, any> }>)) {
        const inputs = Object.fromEntries(Object.entries(node.inputs ?? {}).map(([n, v]) => [n, v && typeof v === 'object' && 'from' in v ? { ...v, from: `${v.from}_${k}` } : v]));
        nodes[`${id}_${k}`] = { type: node.type, inputs };
      }
    }
    // No positions: the editor lays the 200 nodes out itself.
    const big = { format: 'diffgraph/workflow@1', nodes };
    const t0 = Date.now();
    await openFile('big.json', JSON.stringify(big));
    await expect.poll(() => page.evaluate(() => (window as any).diffgraph.editor.nodeIds().length)).toBe(200);
    const loadMs = Date.now() - t0;
    const frame = await page.evaluate(() => {
      const editor = (window as any).diffgraph.editor;
      const canvas = editor.canvas;
      const t = performance.now();
      for (let i = 0; i < 20; i++) {
        canvas.ds.offset[0] -= 15;
        canvas.draw(true, true);
      }
      return (performance.now() - t) / 20;
    });
    const links = Object.values(nodes).flatMap((n: any) => Object.values(n.inputs).filter((v: any) => v && typeof v === 'object' && 'from' in v)).length;
    writeFileSync(path.join(shots, 'perf.json'), `${JSON.stringify({ nodes: 200, links, loadMs, msPerFrame: frame }, null, 2)}\n`);
    await shot('06-200-nodes');
    // Timings go to perf.json as a measurement, not an assertion: they depend on the machine's load.
    expect(frame).toBeGreaterThan(0);
    expect(await workflow()).toEqual(big);
  }, 30_000);
});
