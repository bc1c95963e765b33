/**
 * The editor bundle `diffgraph serve` serves at `/`: looked up per request, so a bundle built after the
 * server started (vite beside a server that starts in a fraction of a second) is served once it exists.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempServer } from './helpers.ts';

describe('the editor at /', () => {
  const folders: string[] = [];
  let close = async () => {};
  afterAll(async () => {
    await close();
    for (const f of folders) rmSync(f, { recursive: true, force: true });
  });

  it('is a placeholder while the bundle is missing, then the bundle once it is built, then the placeholder again', async () => {
    const editorDir = path.join(mkdtempSync(path.join(tmpdir(), 'diffgraph-editor-')), 'dist');
    const server = await tempServer({ editorDir });
    close = () => server.close();
    folders.push(path.dirname(editorDir), server.dataDir);
    const get = async (route: string) => {
      const r = await fetch(`${server.url}${route}`);
      return { status: r.status, text: await r.text(), type: r.headers.get('content-type') };
    };

    expect(await get('/')).toMatchObject({ status: 200, text: expect.stringMatching(/editor is not built/) });
    expect((await get('/assets/app.js')).status).toBe(404);

    mkdirSync(path.join(editorDir, 'assets'), { recursive: true });
    writeFileSync(path.join(editorDir, 'index.html'), '<!doctype html><title>the editor</title>');
    writeFileSync(path.join(editorDir, 'assets', 'app.js'), 'export {};');
    expect(await get('/')).toMatchObject({ status: 200, text: '<!doctype html><title>the editor</title>' });
    expect(await get('/assets/app.js')).toMatchObject({ status: 200, type: expect.stringMatching(/javascript/) });

    // A rebuild empties the folder first (vite's emptyOutDir): the placeholder, not a 404, meanwhile.
    rmSync(editorDir, { recursive: true });
    expect(await get('/')).toMatchObject({ status: 200, text: expect.stringMatching(/editor is not built/) });
  });
});
