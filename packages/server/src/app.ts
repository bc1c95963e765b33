/** The HTTP API (express): routes of DESIGN §6, security middleware, the static editor. */
import { createHash } from 'node:crypto';
import { existsSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import { workflowSchema, type NodeRegistry } from '@diffgraph/engine';
import { decodeNpy, decodeRgba, imageFormat, modelCatalog, tensorFromJson } from '@diffgraph/nodes';
import { workflowLibrary } from './workflow-library.ts';
import { confine, PathError, type Limits, type RootKind } from './guard.ts';
import { eventsQuerySchema, listQuerySchema, openApiDocument, submitEnvelopeSchema } from './openapi.ts';
import type { RunManager } from './runs.ts';
import { ComfyImportError, comfyFormat, convertComfyWorkflow } from './comfy/convert.ts';
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
  /** Folder of the workflow library (default: a `workflows` folder beside the inputs root). */
  workflowsDir?: string;
}

type ErrorBody = { nodeId: null; code: string; message: string };
const fail = (res: Response, status: number, code: string, message: string) =>
  res.status(status).json({ errors: [{ nodeId: null, code, message } satisfies ErrorBody] });

const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: true, useDefaults: true });
function ajvMessage(validate: ValidateFunction): string {
  return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` "${e.params.additionalProperty}"` : ''}`).join('; ');
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export type UploadType = 'image/png' | 'image/jpeg' | 'application/x-npy' | 'application/json';

export type UploadRefusal = { code: 'EMPTY_UPLOAD' | 'UNSUPPORTED_MEDIA_TYPE' | 'UNREADABLE_UPLOAD'; error: string };

/**
 * What an upload is, by its content (never by its name or Content-Type). Images and tensors are
 * decoded in full, so a file with the right magic bytes and garbage after them is refused here
 * (UNREADABLE_UPLOAD) rather than by the node that opens it later.
 */
export function sniffUpload(bytes: Buffer): { type: UploadType; ext: string } | UploadRefusal {
  if (bytes.length === 0) return { code: 'EMPTY_UPLOAD', error: 'The upload is empty.' };
  const image = imageFormat(bytes);
  if (image) {
    try {
      decodeRgba(bytes);
    } catch (e) {
      return { code: 'UNREADABLE_UPLOAD', error: `Not a readable ${image === 'png' ? 'PNG' : 'JPEG'} image: ${(e as Error).message}.` };
    }
    return image === 'png' ? { type: 'image/png', ext: 'png' } : { type: 'image/jpeg', ext: 'jpg' };
  }
  if (bytes.length >= 6 && bytes[0] === 0x93 && bytes.subarray(1, 6).toString('latin1') === 'NUMPY') {
    try {
      decodeNpy(bytes);
    } catch (e) {
      return { code: 'UNREADABLE_UPLOAD', error: `Not a readable .npy tensor: ${(e as Error).message}` };
    }
    return { type: 'application/x-npy', ext: 'npy' };
  }
  const first = bytes.subarray(0, 64).toString('utf8').trimStart()[0];
  if (first === '{' || first === '[') {
    try {
      tensorFromJson(JSON.parse(bytes.toString('utf8')));
    } catch (e) {
      return { code: 'UNSUPPORTED_MEDIA_TYPE', error: `Not a tensor JSON document ({ shape, dtype, data } or nested arrays): ${(e as Error).message}` };
    }
    return { type: 'application/json', ext: 'json' };
  }
  return { code: 'UNSUPPORTED_MEDIA_TYPE', error: 'Unsupported upload: send a PNG or JPEG image, a .npy tensor or a tensor JSON document.' };
}

const PLACEHOLDER = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>diffgraph</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>diffgraph server</h1>
<p>The editor is not built (packages/editor/dist is missing: <code>pnpm build:editor</code>). The API is running: see
<a href="/api/openapi.json">/api/openapi.json</a> and <a href="/api/health">/api/health</a>.</p>
</body></html>
`;

export function createApp(options: AppOptions): { app: express.Express; api: express.Router } {
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
  const nodeLibrary = {
    nodes: registry.list().map(({ run: _run, ...def }) => ({ ...def, pack: registry.pack(def.type) })),
    schema: workflowSchema(registry),
  };

  api.get('/health', (_req, res) => {
    res.json(options.health());
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
      workflow = comfyFormat(submitted) ? convertComfyWorkflow(submitted).workflow : submitted;
    } catch (e) {
      if (!(e instanceof ComfyImportError)) throw e;
      return res.status(400).json({ errors: [{ nodeId: null, code: e.code, message: e.message, ...(e.nodes.length > 0 ? { nodes: e.nodes } : {}) }] });
    }
    const result = manager.submit({ workflow, outputs, clientId });
    if (!result.ok) return res.status(result.status).json({ errors: result.errors });
    res.status(202).location(`/api/runs/${result.runId}`).json({ runId: result.runId });
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

  // Looked up per request, not once at start: an editor built after the server started (a build that
  // runs beside `diffgraph serve`, which starts in a fraction of a second) is served as soon as it exists.
  const editor = express.static(options.editorDir, { index: 'index.html', dotfiles: 'deny' });
  app.use((req, res, next) => {
    if (existsSync(path.join(options.editorDir, 'index.html'))) return editor(req, res, next);
    if (req.method === 'GET' && req.path === '/') return void res.type('html').send(PLACEHOLDER);
    next();
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

  return { app, api };
}

/** The API routes as OpenAPI paths (`/api/runs/{id}`), from the router itself. */
export function routesOf(api: express.Router): { method: string; path: string }[] {
  const out: { method: string; path: string }[] = [];
  for (const layer of (api as unknown as { stack: { route?: { path: string; methods: Record<string, boolean> } }[] }).stack) {
    if (!layer.route) continue;
    const p = `/api${layer.route.path}`.replace(/:(\w+)/g, '{$1}').replace(/\*(\w+)/g, '{$1}');
    for (const [method, on] of Object.entries(layer.route.methods)) if (on && method !== '_all') out.push({ method, path: p });
  }
  return out;
}
