/**
 * What the browser tests share: Chromium's path and flags, the editor bundle built with Vite's JS
 * API into a folder of the test's own (so test files running side by side never rebuild or delete
 * each other's), and a real `diffgraph serve` subprocess on loopback serving it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { build } from 'vite';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
export const editorDir = fileURLToPath(new URL('..', import.meta.url));
export const repo = path.resolve(editorDir, '..', '..');
export const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`e2e: ${CHROMIUM} is missing (apt-get install -y chromium)`);

/** Builds the editor into a new temporary folder; returns it. */
export async function buildEditor(): Promise<string> {
  const outDir = mkdtempSync(path.join(tmpdir(), 'diffgraph-editor-'));
  await build({ configFile: path.join(editorDir, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
  return outDir;
}

/** `diffgraph serve` on a free loopback port with data in `dataDir`, serving the editor built in `editorDist`; resolves with its URL. */
export function startServer(dataDir: string, editorDist: string): { child: ChildProcess; url: Promise<string> } {
  const child = spawn(process.execPath, [path.join(repo, 'packages/server/bin/diffgraph.js'), 'serve', '--port', '0', '--data', dataDir], {
    cwd: repo, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, DIFFGRAPH_TOKEN: '', DIFFGRAPH_EDITOR_DIR: editorDist },
  });
  let log = '';
  const url = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`diffgraph serve did not start:\n${log}`)), 30_000);
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      const m = /listening on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`diffgraph serve exited (${code}):\n${log}`)));
  });
  return { child, url };
}

/** Page coordinates of a node part (title, an input socket or widget, an output socket). */
export async function locate(page: Page, id: string, part: { input?: string; output?: string; title?: boolean } = { title: true }): Promise<[number, number]> {
  const p = await page.evaluate(({ id, part }) => (window as any).diffgraph.editor.locate(id, part), { id, part });
  if (!p) throw new Error(`no ${JSON.stringify(part)} on node ${id}`);
  return p as [number, number];
}

/** Waits until the toolbar's run status is one of `statuses`; returns it. */
export async function waitForRunStatus(page: Page, statuses: string[], timeout = 20_000): Promise<string> {
  const end = Date.now() + timeout;
  for (;;) {
    const s = (await page.locator('[data-testid="run-status"]').getAttribute('data-status')) ?? '';
    if (statuses.includes(s)) return s;
    if (Date.now() > end) throw new Error(`run status stayed "${s}" (wanted ${statuses.join(' or ')})`);
    await page.waitForTimeout(50);
  }
}

/**
 * Runs an action that replaces the graph (New, Examples, Open); when the graph has unsaved changes the
 * editor asks first, and this answers "discard". `refused`: the file is refused before anyone is asked.
 */
export async function replacing(page: Page, action: () => Promise<unknown>, options: { refused?: boolean } = {}): Promise<void> {
  const dirty = await page.evaluate(() => (window as any).diffgraph.app.isDirty() as boolean);
  await action();
  if (dirty && !options.refused) await page.getByTestId('confirm-ok').click();
}

/** Drops a file on the canvas at page position (x, y), as a file dragged from the desktop arrives. */
export async function dropFile(page: Page, name: string, type: string, bytes: Buffer, at: [number, number]): Promise<void> {
  await page.evaluate(({ b64, name, type, at }) => {
    const data = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([data], name, { type }));
    const canvas = document.querySelector('canvas.graph')!;
    for (const kind of ['dragenter', 'dragover', 'drop']) {
      canvas.dispatchEvent(new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true, clientX: at[0], clientY: at[1] }));
    }
  }, { b64: bytes.toString('base64'), name, type, at });
}
