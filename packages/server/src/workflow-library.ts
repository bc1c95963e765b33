/**
 * The editor's server-side library of named workflows, as a plain Node request handler that app.ts
 * mounts under /api/workflows (its paths are in the OpenAPI document; the editor looks for them there):
 *
 *   GET    /api/workflows         → 200 { workflows: [{ name, title, updatedAt, bytes }] } (newest first)
 *   GET    /api/workflows/:name   → 200 the workflow JSON | 404
 *   PUT    /api/workflows/:name   → 201 created | 200 replaced { name }; body: a diffgraph/workflow@1 object
 *   DELETE /api/workflows/:name   → 200 { name, deleted: true } | 404
 *
 * Names are 1–80 characters of letters, digits, space, "_", "-", "." (not starting with "." or space);
 * each workflow is one file <name>.json in `dir`, written atomically. Drafts that do not validate are
 * accepted (only the envelope, size, nesting depth and node count are checked): the library keeps work
 * in progress. Errors are
 * { errors: [{ nodeId: null, code, message }] } like the rest of the API. No express dependency:
 * (req, res, next) works with express' `use`, and Host/Origin/token checks stay the app's.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { checkWorkflowShape, type WorkflowLimits } from '@diffgraph/engine';

export interface WorkflowLibraryOptions {
  /** Folder of the saved workflows (created when missing). */
  dir: string;
  /** Largest workflow accepted, in bytes (default 1 MiB). */
  maxBytes?: number;
  /** Nesting depth and node count a saved workflow may have (default: the engine's). */
  limits?: Partial<Pick<WorkflowLimits, 'maxDepth' | 'maxNodes'>>;
}

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9 _.-]{0,79}$/;
const FORMAT = 'diffgraph/workflow@1';

type Next = (err?: unknown) => void;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(text);
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  send(res, status, { errors: [{ nodeId: null, code, message }] });
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large' | { parsed: unknown }> {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== undefined && !Buffer.isBuffer(parsed) && typeof parsed === 'object') {
    // Already parsed by a JSON body parser upstream.
    return Promise.resolve({ parsed });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // Drain the rest without keeping it, so the 413 reaches the client.
        req.removeAllListeners('data');
        req.resume();
        resolve('too-large');
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function workflowLibrary(options: WorkflowLibraryOptions): (req: IncomingMessage, res: ServerResponse, next: Next) => void {
  const dir = path.resolve(options.dir);
  const maxBytes = options.maxBytes ?? 1024 ** 2;
  mkdirSync(dir, { recursive: true });
  const fileOf = (name: string) => path.join(dir, `${name}.json`);

  const list = () =>
    readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => {
        const file = path.join(dir, f);
        const stat = statSync(file);
        let title: string | null = null;
        try {
          const meta = (JSON.parse(readFileSync(file, 'utf8')) as { meta?: { title?: unknown } }).meta;
          if (typeof meta?.title === 'string') title = meta.title;
        } catch {
          // Unreadable: listed without a title.
        }
        return { name: f.slice(0, -'.json'.length), title, updatedAt: stat.mtimeMs, bytes: stat.size };
      })
      .sort((a, b) => b.updatedAt - a.updatedAt || a.name.localeCompare(b.name));

  return (req, res, next) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const parts = url.pathname.split('/').filter(Boolean);
      if (parts.length === 0) {
        if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'METHOD_NOT_ALLOWED', 'Use GET /api/workflows to list the library.');
        return send(res, 200, { workflows: list() });
      }
      if (parts.length !== 1) return next();
      let name: string;
      try {
        name = decodeURIComponent(parts[0]);
      } catch {
        return fail(res, 400, 'INVALID_NAME', 'The workflow name is not valid percent-encoding.');
      }
      if (!NAME.test(name) || name.includes('..')) {
        return fail(res, 400, 'INVALID_NAME', 'A workflow name is 1–80 letters, digits, spaces, "_", "-" or "." (not starting with "." or a space).');
      }
      const file = fileOf(name);
      switch (req.method) {
        case 'GET':
        case 'HEAD': {
          if (!existsSync(file)) return fail(res, 404, 'NOT_FOUND', `No workflow "${name}" in the library.`);
          res.statusCode = 200;
          res.setHeader('Content-Type', 'application/json; charset=utf-8');
          res.setHeader('Cache-Control', 'no-store');
          return res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
        }
        case 'PUT': {
          const body = await readBody(req, maxBytes);
          if (body === 'too-large') res.setHeader('Connection', 'close');
          if (body === 'too-large') return fail(res, 413, 'WORKFLOW_TOO_LARGE', `A library workflow is at most ${maxBytes} bytes.`);
          let workflow: unknown;
          try {
            workflow = Buffer.isBuffer(body) ? JSON.parse(body.toString('utf8')) : body.parsed;
          } catch (e) {
            return fail(res, 400, 'INVALID_JSON', `The body is not JSON: ${(e as Error).message}`);
          }
          // Drafts need not validate, but they are serialized (which recurses): size and nesting first.
          const [shapeError] = checkWorkflowShape(workflow, { ...options.limits, maxBytes });
          if (shapeError) return fail(res, shapeError.code === 'WORKFLOW_TOO_LARGE' ? 413 : 400, shapeError.code, shapeError.message);
          const wf = workflow as { format?: unknown; nodes?: unknown };
          if (!wf || typeof wf !== 'object' || Array.isArray(wf) || wf.format !== FORMAT || typeof wf.nodes !== 'object' || wf.nodes === null || Array.isArray(wf.nodes)) {
            return fail(res, 400, 'INVALID_FORMAT', `Send a ${FORMAT} workflow: an object with "format": "${FORMAT}" and "nodes".`);
          }
          const existed = existsSync(file);
          const tmp = `${file}.${process.pid}.${Date.now()}.part`;
          writeFileSync(tmp, `${JSON.stringify(workflow, null, 2)}\n`, { flag: 'wx' });
          renameSync(tmp, file);
          return send(res, existed ? 200 : 201, { name });
        }
        case 'DELETE': {
          if (!existsSync(file)) return fail(res, 404, 'NOT_FOUND', `No workflow "${name}" in the library.`);
          unlinkSync(file);
          return send(res, 200, { name, deleted: true });
        }
        default:
          return fail(res, 405, 'METHOD_NOT_ALLOWED', 'Use GET, PUT or DELETE on /api/workflows/:name.');
      }
    })().catch(next);
  };
}

const nameParameter = [{ name: 'name', in: 'path', required: true, schema: { type: 'string', pattern: NAME.source } }];

/** OpenAPI 3 path items of the library, to merge into the server's document. */
export const workflowLibraryPaths: Record<string, unknown> = {
  '/api/workflows': {
    get: { summary: 'List the saved workflows (newest first)', responses: { 200: { description: '{ workflows: [{ name, title, updatedAt, bytes }] }' } } },
  },
  '/api/workflows/{name}': {
    get: { parameters: nameParameter, summary: 'A saved workflow', responses: { 200: { description: 'The workflow JSON' }, 404: { description: 'No such workflow' } } },
    put: { parameters: nameParameter, summary: 'Save a workflow under a name (replaces)', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Workflow' } } } }, responses: { 200: { description: 'Replaced' }, 201: { description: 'Created' }, 400: { description: 'Not a workflow or a bad name' }, 413: { description: 'Too large' } } },
    delete: { parameters: nameParameter, summary: 'Delete a saved workflow', responses: { 200: { description: 'Deleted' }, 404: { description: 'No such workflow' } } },
  },
};
