/**
 * `diffgraph serve` before the editor is built: `/` says exactly what to run (never a bare 404), and
 * the editor is served as soon as it exists, without a restart.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDITOR_BUILD_COMMAND } from '../src/app.ts';
import { tempServer } from './helpers.ts';

describe('the editor page while the editor is not built', () => {
  let server: Awaited<ReturnType<typeof tempServer>>;
  let editorDir = '';
  beforeAll(async () => {
    server = await tempServer();
    editorDir = path.join(server.dataDir, 'no-editor');
  });
  afterAll(() => server.close());

  it('/ and /index.html answer a page naming the build command and the missing bundle, and no server path', async () => {
    expect(server.editorBuilt).toBe(false);
    for (const route of ['/', '/index.html']) {
      const res = await fetch(`${server.url}${route}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      const page = await res.text();
      expect(page).toContain(EDITOR_BUILD_COMMAND);
      expect(page).toContain('packages/editor/dist');
      expect(page).not.toContain(server.dataDir);
      expect(page).toContain('pnpm start');
    }
  });

  it('an editor built while the server runs is served at once', async () => {
    mkdirSync(editorDir, { recursive: true });
    writeFileSync(path.join(editorDir, 'index.html'), '<!doctype html><title>the editor</title>');
    const res = await fetch(`${server.url}/`);
    expect(await res.text()).toContain('<title>the editor</title>');
    expect(server.editorBuilt).toBe(true);
  });
});
