/**
 * Images in, end to end in Chromium against a real `diffgraph serve`: the loaders' upload button and
 * dropdown of the server's inputs, dropping image files on the canvas and on a loader, the mask
 * editor (its saved mask checked pixel by pixel through the API), and every bundled example that
 * loads an input file, opened from the Examples menu and run. Any console error fails a test.
 * Screenshots go to packages/editor/test-output/ (docs/editor/ holds copies of them).
 */
import { createHash } from 'node:crypto';
import { type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Tensor } from '@diffgraph/engine';
import { decodePng, encodePng, insertPngText } from '@diffgraph/nodes';
import { buildEditor, CHROMIUM, dropFile as dropOnCanvas, FLAGS, haveChromium, locate, replacing, repo, startServer, waitForRunStatus } from './harness.ts';

/** Screenshots; the ones in docs/editor/ are copies of these. */
const shots = path.join(repo, 'packages/editor/test-output/images');

let server: ChildProcess;
let baseUrl = '';
let dataDir = '';
let dist = '';
let browser: Browser;
let page: Page;
const problems: string[] = [];

/** A 16×16 PNG of one colour (r, g, b in [0, 1]). */
function solidPng(r: number, g: number, b: number): Buffer {
  const t = Tensor.zeros([1, 3, 16, 16]);
  [r, g, b].forEach((v, c) => t.data.fill(v, c * 256, (c + 1) * 256));
  return encodePng(t, 0);
}

const uploadName = (png: Buffer) => `${createHash('sha256').update(png).digest('hex')}.png`;
const workflow = (): Promise<any> => page.evaluate(() => (window as any).diffgraph.editor.toWorkflow());
const nodeIds = (): Promise<string[]> => page.evaluate(() => (window as any).diffgraph.editor.nodeIds());
const imageLoaded = (id: string): Promise<number> => page.evaluate((id) => {
  const editor = (window as any).diffgraph.editor;
  return editor.inputImage(editor.node(id))?.naturalWidth ?? 0;
}, id);

const dropFile = (name: string, type: string, bytes: Buffer, at: [number, number]) => dropOnCanvas(page, name, type, bytes, at);

async function newGraph(): Promise<void> {
  await replacing(page, () => page.getByRole('button', { name: 'New' }).click());
  expect(await nodeIds()).toEqual([]);
}

async function openExample(name: string): Promise<void> {
  const select = page.getByTestId('examples');
  const value = await select.locator('option', { hasText: new RegExp(`^${name}$`) }).getAttribute('value');
  await replacing(page, () => select.selectOption(value!));
  await expect.poll(async () => (await nodeIds()).length).toBeGreaterThan(0);
}

describe.skipIf(!haveChromium)('images in: upload, drop, mask painting, the examples that load inputs', () => {
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'diffgraph-images-'));
    mkdirSync(shots, { recursive: true });
    dist = await buildEditor();
    const started = startServer(dataDir, dist);
    server = started.child;
    baseUrl = await started.url;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
    page = await (await browser.newContext({ viewport: { width: 1600, height: 1000 } })).newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console.error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.goto(baseUrl);
    await page.waitForSelector('body[data-ready]', { timeout: 45_000 });
  }, 120_000);

  afterEach(() => {
    expect(problems, 'no console errors').toEqual([]);
  });

  afterAll(async () => {
    await browser?.close();
    server?.kill('SIGTERM');
    for (const dir of [dataDir, dist]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('uploads through a LoadImage\'s button, shows it on the node, and offers every image input in the dropdown', async () => {
    await newGraph();
    const id: string = await page.evaluate(() => (window as any).diffgraph.app.addNode('LoadImage'));
    const blue = solidPng(0.1, 0.2, 0.9);
    const [chooser] = await Promise.all([
      page.waitForEvent('filechooser'),
      page.mouse.click(...(await locate(page, id, { input: '⇪ upload…' }))),
    ]);
    await chooser.setFiles({ name: 'blue.png', mimeType: 'image/png', buffer: blue });
    await expect.poll(async () => (await workflow()).nodes[id].inputs).toEqual({ path: uploadName(blue) });
    await expect.poll(() => imageLoaded(id)).toBe(16);
    // The node grew to show it under its widgets.
    await expect.poll(() => page.evaluate((id) => (window as any).diffgraph.editor.node(id).size[1], id)).toBeGreaterThan(200);
    const uploads = (await (await fetch(`${baseUrl}/api/uploads`)).json()).uploads as { name: string; type: string }[];
    expect(uploads[0]).toMatchObject({ name: uploadName(blue), type: 'image/png', bytes: blue.length });

    // The dropdown: exactly the server's image inputs, newest first (the examples' own among them).
    await page.mouse.click(...(await locate(page, id, { input: 'path' })));
    const entries = page.locator('.litecontextmenu .litemenu-entry');
    await expect.poll(() => entries.allTextContents()).toEqual(uploads.filter((u) => u.type.startsWith('image/')).map((u) => u.name));
    await entries.filter({ hasText: /^data\/red-circle\.png$/ }).click();
    await expect.poll(async () => (await workflow()).nodes[id].inputs).toEqual({ path: 'data/red-circle.png' });
    await expect.poll(() => imageLoaded(id)).toBe(32);
    await page.keyboard.press('Control+z');
    await expect.poll(async () => (await workflow()).nodes[id].inputs).toEqual({ path: uploadName(blue) });
  }, 60_000);

  it('a dropped image makes a LoadImage on empty canvas and replaces the image of the LoadImage it lands on; a PNG with a workflow still opens it', async () => {
    await newGraph();
    const box = (await page.locator('canvas.graph').boundingBox())!;
    const green = solidPng(0.1, 0.8, 0.2);
    await dropFile('green.png', 'image/png', green, [box.x + 300, box.y + 300]);
    await expect.poll(nodeIds).toEqual(['load_image']);
    await expect.poll(async () => (await workflow()).nodes.load_image).toEqual({ type: 'LoadImage', inputs: { path: uploadName(green) } });
    await expect.poll(() => imageLoaded('load_image')).toBe(16);

    const red = solidPng(0.9, 0.1, 0.1);
    await dropFile('red.png', 'image/png', red, await locate(page, 'load_image', { title: true }));
    await expect.poll(async () => (await workflow()).nodes.load_image.inputs).toEqual({ path: uploadName(red) });
    expect(await nodeIds()).toEqual(['load_image']);
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(shots, 'dropped-image.png') });

    // On a LoadMask that reads alpha, an opaque image would be an empty mask: it reads the luminance instead.
    const mask: string = await page.evaluate(() => (window as any).diffgraph.app.addNode('LoadMask'));
    await dropFile('white.png', 'image/png', solidPng(1, 1, 1), await locate(page, mask, { title: true }));
    await expect.poll(async () => (await workflow()).nodes[mask].inputs).toEqual({ path: uploadName(solidPng(1, 1, 1)), channel: 'luminance' });
    const hole = Tensor.zeros([1, 1, 16, 16]);
    hole.data.fill(1, 0, 128); // the top half transparent
    const transparent = encodePng(Tensor.zeros([1, 3, 16, 16]), 0, { mask: hole });
    await page.evaluate((id) => (window as any).diffgraph.editor.setInputs(id, { channel: 'alpha' }), mask);
    await dropFile('cut-out.png', 'image/png', transparent, await locate(page, mask, { title: true }));
    await expect.poll(async () => (await workflow()).nodes[mask].inputs.path).toBe(uploadName(transparent));
    expect((await workflow()).nodes[mask].inputs.channel).toBe('alpha');

    await newGraph();
    const lab = readFileSync(path.join(repo, 'workflows/gmm-solver-lab.json'), 'utf8');
    await dropFile('lab.png', 'image/png', insertPngText(solidPng(0, 0, 0), { workflow: lab }), [box.x + 600, box.y + 500]);
    await expect.poll(workflow).toEqual(JSON.parse(lab));
  }, 60_000);

  it('the mask editor paints, undoes, inverts and saves a mask that LoadMask reads as painted, and the inpaint example runs with it', async () => {
    await openExample('inpaint');
    await page.mouse.click(...(await locate(page, 'mask', { input: '✎ paint mask…' })));
    const editor = page.getByTestId('mask-editor');
    await editor.waitFor();
    expect(await page.getByTestId('mask-background').inputValue()).toBe('data/two-shapes.png');
    const view = page.getByTestId('mask-canvas');
    const box = (await view.boundingBox())!;
    // The 32×32 image, shown enlarged: a point of the image at (x, y) is here.
    const px = (x: number, y: number): [number, number] => [box.x + ((x + 0.5) / 32) * box.width, box.y + ((y + 0.5) / 32) * box.height];
    const paint = async (from: [number, number], to: [number, number]) => {
      await page.mouse.move(...px(...from));
      await page.mouse.down();
      await page.mouse.move(...px(...to), { steps: 6 });
      await page.mouse.up();
    };
    await page.getByTestId('mask-clear').click();
    await page.getByTestId('mask-size').fill('4');
    await paint([4, 8], [12, 8]); // kept
    await paint([20, 24], [28, 24]); // undone, with the keyboard: the graph behind keeps its state
    const graphBefore = await workflow();
    await page.keyboard.press('Control+z');
    expect(await workflow()).toEqual(graphBefore);
    await paint([20, 20], [28, 20]); // undone with the button
    await page.getByTestId('mask-undo').click();
    await page.getByTestId('mask-eraser').click();
    await paint([8, 6], [8, 10]); // a gap erased in the kept stroke
    await page.getByTestId('mask-brush').click();
    await paint([4, 16], [4, 16]); // a dot
    await page.screenshot({ path: path.join(shots, 'mask-editor.png') });
    await page.getByTestId('mask-invert').click();
    await page.getByTestId('mask-save').click();
    await editor.waitFor({ state: 'detached' });

    const inputs = (await workflow()).nodes.mask.inputs;
    expect(inputs).toEqual({ path: expect.stringMatching(/^[0-9a-f]{64}\.png$/), channel: 'red', invert: false });
    const saved = decodePng(Buffer.from(await (await fetch(`${baseUrl}/api/uploads/${inputs.path}`)).arrayBuffer())).image;
    expect(saved.shape).toEqual([1, 3, 32, 32]);
    const red = (x: number, y: number) => saved.data[y * 32 + x];
    // Inverted: what was painted is kept (0), the rest is repainted (1).
    expect(red(5, 8)).toBe(0);
    expect(red(11, 8)).toBe(0);
    expect(red(4, 16)).toBe(0);
    expect(red(8, 8)).toBe(1); // erased, so repainted after the invert
    expect(red(24, 24)).toBe(1); // the undone strokes left nothing
    expect(red(24, 20)).toBe(1);
    expect(red(0, 31)).toBe(1);
    expect(red(31, 0)).toBe(1);

    await page.getByTestId('run').click();
    expect(await waitForRunStatus(page, ['done', 'failed', 'invalid'], 60_000)).toBe('done');
    await expect.poll(() => page.locator('[data-testid="pane-outputs"] figure[data-node="save"] img').count()).toBeGreaterThan(0);
  }, 90_000);

  it('a mask painted from a LoadImage is painted over its image and loaded by a new LoadMask under it', async () => {
    await openExample('img2img');
    const before = await nodeIds();
    await page.mouse.click(...(await locate(page, 'image', { input: '✎ paint mask…' })));
    await page.getByTestId('mask-editor').waitFor();
    expect(await page.getByTestId('mask-background').inputValue()).toBe('data/red-circle.png');
    const box = (await page.getByTestId('mask-canvas').boundingBox())!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.getByTestId('mask-save').click();
    await page.getByTestId('mask-editor').waitFor({ state: 'detached' });
    const added = (await nodeIds()).filter((id) => !before.includes(id));
    expect(added).toEqual(['load_mask']);
    const wf = await workflow();
    expect(wf.nodes.load_mask.inputs).toEqual({ path: expect.stringMatching(/^[0-9a-f]{64}\.png$/), channel: 'red', invert: false });
    expect(wf.ui.positions.load_mask[1]).toBeGreaterThan(wf.ui.positions.image[1]);
    const saved = decodePng(Buffer.from(await (await fetch(`${baseUrl}/api/uploads/${wf.nodes.load_mask.inputs.path}`)).arrayBuffer())).image;
    expect(saved.shape).toEqual([1, 3, 32, 32]);
    expect(saved.data[16 * 32 + 16]).toBe(1);
    expect(saved.data[0]).toBe(0);
    await page.keyboard.press('Control+z');
    await expect.poll(nodeIds).toEqual(before);
  }, 60_000);

  // Every bundled example, clicked in the Examples menu and run: those that load input files
  // (img2img, inpaint, sr-dps-shapes, dpm-recolour-shapes, tpm-inpaint-shapes) find them seeded.
  const examples = readdirSync(path.join(repo, 'workflows')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
  it.each(examples)('the %s example loads from the Examples menu and runs to success with outputs', async (name) => {
    const example = JSON.parse(readFileSync(path.join(repo, 'workflows', `${name}.json`), 'utf8'));
    const inputs = Object.values(example.nodes as Record<string, { type: string; inputs?: { path?: string } }>)
      .filter((n) => ['LoadImage', 'LoadMask', 'LoadTensor'].includes(n.type)).map((n) => n.inputs?.path);
    if (inputs.length > 0) expect(readdirSync(path.join(dataDir, 'inputs', 'data'), { recursive: true })).toEqual(expect.arrayContaining(inputs.map((p) => p!.replace(/^data\//, ''))));
    await openExample(name);
    expect((await workflow()).nodes).toEqual(example.nodes);
    if (name === 'inpaint') {
      // Loading keeps the example's layout: the loaders show their images as thumbnails in their titles.
      const sizes = () => page.evaluate(() => ['image', 'mask'].map((id) => (window as any).diffgraph.editor.node(id).size[1]));
      const before = await sizes();
      await expect.poll(async () => [await imageLoaded('image'), await imageLoaded('mask')]).toEqual([32, 32]);
      expect(await sizes()).toEqual(before);
    }
    const figures = page.locator('[data-testid="pane-outputs"] figure');
    const before = await figures.count();
    await page.getByTestId('run').click();
    expect(await waitForRunStatus(page, ['done', 'failed', 'invalid'], 120_000)).toBe('done');
    const runId: string = await page.evaluate(() => (window as any).diffgraph.app.runId);
    const run = await (await fetch(`${baseUrl}/api/runs/${runId}`)).json();
    expect(run.status).toBe('succeeded');
    const outputs = Object.values(run.results as Record<string, { status: string }>);
    expect(outputs.length).toBeGreaterThan(0);
    for (const r of outputs) expect(r.status).toBe('succeeded');
    await expect.poll(() => figures.count()).toBeGreaterThan(before);
  }, 150_000);
});
