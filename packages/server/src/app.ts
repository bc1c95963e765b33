/** The HTTP API (express): routes of DESIGN §6, security middleware, the static editor. */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { parseWorkflowText, workflowSchema, type NodeRegistry } from '@diffgraph/engine';
import { modelCatalog } from '@diffgraph/nodes';
import { workflowLibrary } from './workflow-library.ts';
import { sniffUpload } from './upload-sniff.ts';
import { fail } from './http-errors.ts';
import { inputTypeOf, listInputs } from './inputs.ts';
import { confine, PathError, type Limits, type RootKind } from './guard.ts';
import { eventsQuerySchema, listQuerySchema, openApiDocument, submitEnvelopeSchema } from './openapi.ts';
import type { RunManager } from './runs.ts';
import { ComfyImportError } from './comfy/convert.ts';
import { comfyAliases } from './comfy/aliases.ts';
import { importPng, importWorkflowValue, WorkflowImportError, type ImportedWorkflow } from './workflow-import.ts';
import { nodeDescriptions, type PluginReport } from './plugins.ts';
import { pathScrubber } from './public-paths.ts';
import { comfyRouter, type ComfyApiOptions } from './comfy/api.ts';
import { AccessError, checkHost, checkOrigin, checkToken, type SecurityOptions } from './security.ts';
import type { RunStatus } from './store.ts';

export interface AppOptions {
  registry: NodeRegistry;
  manager: RunManager;
  security: SecurityOptions;
  limits: Limits;
  roots: Record<RootKind, string>;
  /** Folder of the built editor; a placeholder page when it does not exist. */
  editorDir: string;
  version: string;
  health: () => Record<string, unknown>;
  /** `GET /api/workers`: the scale-out workers as they publish themselves; absent in the embedded mode. */
  workers?: () => Promise<unknown[]>;
  /** Folder of the workflow library (default: a `workflows` folder beside the inputs root). */
  workflowsDir?: string;
  /** The node packs loaded from outside and those skipped, for `GET /api/nodes`. */
  plugins?: PluginReport;
  /** ComfyUI's API (/prompt, /history, …; comfy/api.ts), mounted when given. */
  comfy?: Pick<ComfyApiOptions, 'bridge' | 'device'>;
}

/** A workflow that cannot be imported (ComfyUI nodes we lack, a PNG with none): 400 with its code. */
function importFailure(res: Response, e: unknown) {
  if (!(e instanceof ComfyImportError || e instanceof WorkflowImportError)) throw e;
  const nodes = e instanceof ComfyImportError && e.nodes.length > 0 ? { nodes: e.nodes } : {};
  return res.status(400).json({ errors: [{ nodeId: null, code: e.code, message: e.message, ...nodes }] });
}

const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: true, useDefaults: true });
function ajvMessage(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${e.params.additionalProperty}"` : ''}`).join('; ');
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** What `/` answers while the editor bundle is missing: what to run, never a bare 404. */
export const EDITOR_BUILD_COMMAND = 'pnpm --filter @diffgraph/editor build';

// No path in it: server paths are never sent (docs/api.md, Paths in messages).
const EDITOR_MISSING_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>diffgraph: the editor is not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 44em; margin: 3em auto; line-height: 1.5">
<h1>diffgraph server</h1>
<p>The editor is not built: its bundle (<code>packages/editor/dist</code>) is missing.
The API is running (<a href="/api/health">/api/health</a>, <a href="/api/openapi.json">/api/openapi.json</a>).</p>
<p>To get the editor, run this in the diffgraph checkout, then reload this page (no restart needed):</p>
<pre style="background: #f4f4f4; padding: 0.8em">${EDITOR_BUILD_COMMAND}</pre>
<p>or start the server with <code>pnpm start</code>, which builds the editor when it is missing.</p>
</body></html>
`;

export function createApp(options: AppOptions): { app: express.Express; api: express.Router; comfy?: express.Router } {
  const { manager, registry, security, limits, roots } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(helmet({ crossOriginResourcePolicy: { policy: 'same-origin' } }));

  // Host (DNS rebinding), token, then Origin on anything that changes state.
  app.use((req, _res, next) => {
    try {
      checkHost(req, security);
      checkToken(req, security);
      if (STATE_CHANGING.has(req.method)) checkOrigin(req, security);
      next();
    } catch (e) {
      next(e);
    }
  });

  const api = express.Router();
  const validateSubmit = ajv.compile(submitEnvelopeSchema);
  const validateList = ajv.compile(listQuerySchema);
  const validateEvents = ajv.compile(eventsQuerySchema);
  const openapi = openApiDocument(registry, options.version);
  const aliases = comfyAliases();
  const nodeLibrary = {
    nodes: nodeDescriptions(registry).map((def) => ({ ...def, ...aliases.get(def.type) })),
    ...publicPacks(registry, options.plugins ?? { loaded: [], failed: [] }, manager.publicText),
    schema: workflowSchema(registry),
  };

  api.get('/health', (_req, res) => {
    res.json(options.health());
  });

  // Embedded mode: runs execute in this process, there are no workers to list (docs/api.md).
  api.get('/workers', async (_req, res) => {
    res.json(options.workers ? { mode: 'scale-out', workers: await options.workers() } : { mode: 'embedded', workers: [] });
  });

  api.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  api.get('/nodes', (_req, res) => {
    res.json(nodeLibrary);
  });

  // Walked on every call (stats and small configs; ONNX headers are cached by mtime), so a model
  // copied in shows up without a restart.
  api.get('/models', (_req, res) => {
    res.json({ models: modelCatalog([roots.models]) });
  });

  api.post('/runs', express.json({ limit: limits.bodyBytes, type: 'application/json', strict: true }), (req, res) => {
    if (!req.is('application/json')) return fail(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the run as application/json.');
    const body = req.body as unknown;
    if (!validateSubmit(body)) return fail(res, 400, 'INVALID_REQUEST', `The request body must be { workflow, outputs?, clientId? }: ${ajvMessage(validateSubmit)}`);
    const { workflow: submitted, outputs, clientId } = body as { workflow: unknown; outputs?: string[]; clientId?: string };
    let workflow: unknown;
    try {
      workflow = importWorkflowValue(submitted).workflow;
    } catch (e) {
      return importFailure(res, e);
    }
    const result = manager.submit({ workflow, outputs, clientId });
    if (!result.ok) return res.status(result.status).json({ errors: result.errors });
    res.status(202).location(`/api/runs/${result.runId}`).json({ runId: result.runId });
  });

  // The editor opens files through this, so ComfyUI's files convert with the one converter the CLI
  // and POST /api/runs use. The body is the file itself: JSON, or a PNG with a workflow embedded.
  api.post('/import', express.raw({ type: ['application/json', 'image/png'], limit: limits.uploadBytes }), (req, res) => {
    if (!req.is(['application/json', 'image/png'])) return fail(res, 415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the file as application/json (a workflow) or image/png (a PNG with a workflow embedded).');
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const prefer = req.query.prefer === 'api' ? 'api' : 'ui';
    try {
      let imported: ImportedWorkflow;
      if (req.is('image/png')) imported = importPng(body, prefer);
      else {
        const parsed = parseWorkflowText(body.toString('utf8'));
        if (!parsed.ok) return res.status(400).json({ errors: parsed.errors });
        imported = importWorkflowValue(parsed.value);
      }
      res.json(imported);
    } catch (e) {
      importFailure(res, e);
    }
  });

  api.get('/runs', (req, res) => {
    const query = { ...(req.query as Record<string, unknown>) };
    if (!validateList(query)) return fail(res, 400, 'INVALID_REQUEST', `Bad query: ${ajvMessage(validateList)}`);
    const q = query as { status?: string; clientId?: string; limit: number; offset: number };
    const page = manager.list({ status: q.status?.split(',') as RunStatus[] | undefined, clientId: q.clientId, limit: q.limit, offset: q.offset });
    res.json({ ...page, limit: q.limit, offset: q.offset });
  });

  api.get('/runs/:id', (req, res) => {
    const view = manager.view(req.params.id, { workflow: req.query.workflow === '1' });
    if (!view) return fail(res, 404, 'NOT_FOUND', `No run "${req.params.id}".`);
    res.json(view);
  });

  api.post('/runs/:id/cancel', (req, res) => {
    const outcome = manager.cancel(req.params.id);
    if (!outcome) return fail(res, 404, 'NOT_FOUND', `No run "${req.params.id}".`);
    res.status(outcome.result === 'cancelling' ? 202 : 200).json({ id: req.params.id, ...outcome });
  });

  api.delete('/runs/:id', (req, res) => {
    const result = manager.remove(req.params.id);
    if (result === 'not-found') return fail(res, 404, 'NOT_FOUND', `No run "${req.params.id}".`);
    if (result === 'active') return fail(res, 409, 'RUN_ACTIVE', `Run "${req.params.id}" is queued or running: cancel it first (POST /api/runs/${req.params.id}/cancel), then delete it once it has finished.`);
    res.json({ id: req.params.id, result });
  });

  api.get('/runs/:id/events', (req, res) => {
    const query = { ...(req.query as Record<string, unknown>) };
    if (!validateEvents(query)) return fail(res, 400, 'INVALID_REQUEST', `Bad query: ${ajvMessage(validateEvents)}`);
    if (!manager.store.get(req.params.id)) return fail(res, 404, 'NOT_FOUND', `No run "${req.params.id}".`);
    res.json({ events: manager.events(req.params.id, (query as { after: number }).after) });
  });

  api.get('/files/*path', (req, res, next) => {
    const segments = (req.params as unknown as { path: string[] }).path;
    const relative = segments.join('/');
    let file: string;
    try {
      file = confine(roots.outputs, relative, 'file path');
    } catch (e) {
      return next(e);
    }
    if (!existsSync(file) || !statSync(file).isFile()) return fail(res, 404, 'NOT_FOUND', `No output file "${relative}".`);
    res.sendFile(file, { dotfiles: 'allow', headers: { 'Content-Disposition': `inline; filename="${path.basename(file).replace(/[^\w.-]/g, '_')}"` } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });

  api.post('/uploads', express.raw({ type: () => true, limit: limits.uploadBytes }), (req, res) => {
    const bytes = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const sniffed = sniffUpload(bytes);
    if ('error' in sniffed) return fail(res, sniffed.code === 'EMPTY_UPLOAD' ? 400 : 415, sniffed.code, sniffed.error);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const name = `${sha256}.${sniffed.ext}`;
    const target = path.join(roots.inputs, name);
    const existed = existsSync(target);
    if (!existed) {
      const tmp = `${target}.${process.pid}.${Date.now()}.part`;
      writeFileSync(tmp, bytes, { flag: 'wx' });
      renameSync(tmp, target);
    }
    res.status(existed ? 200 : 201).json({ name, sha256, bytes: bytes.length, type: sniffed.type, existed });
  });

  api.get('/uploads', (_req, res) => {
    res.json({ uploads: listInputs(roots.inputs) });
  });

  // The loaders' files, for the editor's thumbnails and mask painting: only what a loader could open.
  api.get('/uploads/*path', (req, res, next) => {
    const relative = (req.params as unknown as { path: string[] }).path.join('/');
    let file: string;
    try {
      file = confine(roots.inputs, relative, 'input path');
    } catch (e) {
      return next(e);
    }
    const type = inputTypeOf(file);
    if (!type || !existsSync(file) || !statSync(file).isFile()) return fail(res, 404, 'NOT_FOUND', `No input file "${relative}".`);
    res.type(type).sendFile(file, { dotfiles: 'allow', headers: { 'Content-Disposition': `inline; filename="${path.basename(file).replace(/[^\w.-]/g, '_')}"` } }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });

  // Plain GET on the WebSocket endpoint (the upgrade itself is handled on the HTTP server).
  api.get('/events', (_req, res) => {
    fail(res, 426, 'UPGRADE_REQUIRED', 'GET /api/events is a WebSocket endpoint: connect with a WebSocket client (docs/api.md).');
  });

  // The editor's library of named workflows; a plain handler that sees paths below /api/workflows.
  const library = workflowLibrary({ dir: options.workflowsDir ?? path.join(path.dirname(options.roots.inputs), 'workflows'), maxBytes: limits.bodyBytes, limits: { maxNodes: limits.maxNodes } });
  const underLibrary = (req: Request, res: Response, next: NextFunction) => {
    req.url = req.url.replace(/^\/workflows/, '') || '/';
    library(req, res, next);
  };
  api.get('/workflows', underLibrary);
  api.get('/workflows/:name', underLibrary);
  api.put('/workflows/:name', underLibrary);
  api.delete('/workflows/:name', underLibrary);

  app.use('/api', api);
  app.use('/api', (req, res) => fail(res, 404, 'NOT_FOUND', `No route ${req.method} ${req.originalUrl}.`));
  const comfy = options.comfy ? comfyRouter({ ...options.comfy, manager, limits, roots, version: options.version }) : undefined;
  if (comfy) app.use(comfy);

  // Looked up per request, so an editor built while the server runs is served without a restart.
  app.use(express.static(options.editorDir, { index: 'index.html', dotfiles: 'deny' }));
  app.get(['/', '/index.html'], (_req, res) => {
    res.type('html').send(EDITOR_MISSING_PAGE);
  });
  app.use((req, res) => fail(res, 404, 'NOT_FOUND', `No route ${req.method} ${req.originalUrl}.`));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) return;
    if (err instanceof AccessError) return fail(res, err.status, err.code, err.message);
    if (err instanceof PathError) return fail(res, err.status, err.code, err.message);
    const e = err as { type?: string; status?: number; message?: string; limit?: number };
    if (e.type === 'entity.too.large') return fail(res, 413, 'BODY_TOO_LARGE', `The request body is over this server's limit of ${e.limit} bytes.`);
    if (e.type === 'entity.parse.failed') return fail(res, 400, 'INVALID_JSON', `The request body is not valid JSON: ${e.message}`);
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return fail(res, 415, 'UNSUPPORTED_MEDIA_TYPE', e.message ?? 'Unsupported encoding.');
    if (typeof e.status === 'number' && e.status >= 400 && e.status < 500) return fail(res, e.status, 'BAD_REQUEST', e.message ?? 'Bad request.');
    fail(res, 500, 'INTERNAL', manager.publicText(`Unexpected error: ${e.message ?? String(err)}`));
  });

  return { app, api, comfy };
}

/**
 * The packs as clients see them: each pack's file or folder by its name only, and failure messages
 * with the server's folders scrubbed, so the API does not reveal the server's layout.
 */
function publicPacks(registry: NodeRegistry, plugins: PluginReport, publicText: (text: string) => string) {
  const sourceOf = new Map(plugins.loaded.map((p) => [p.name, path.basename(p.path)]));
  const scrubNodes = pathScrubber([...new Set(plugins.failed.map((f) => path.dirname(f.path)))].map((dir) => ({ dir, label: '<nodes>' })));
  const scrub = (text: string) => publicText(scrubNodes(text));
  return {
    packs: registry.packs().map((pack) => ({ ...pack, ...(sourceOf.has(pack.name) ? { source: sourceOf.get(pack.name) } : {}) })),
    packErrors: plugins.failed.map((f) => ({ source: path.basename(f.path), ...(f.pack !== undefined ? { pack: f.pack } : {}), error: scrub(f.error) })),
  };
}

/** A router's routes as OpenAPI paths (`/api/runs/{id}`), from the router itself. */
export function routesOf(api: express.Router, prefix = '/api'): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  for (const layer of (api as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack) {
    if (!layer.route) continue;
    const p = `${prefix}${layer.route.path}`.replace(/:(\w+)/g, '{$1}').replace(/\*(\w+)/g, '{$1}');
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push({ method, path: p });
  }
  return out;
}
