/**
 * ComfyUI's HTTP API on diffgraph serve (docs/comfyui.md): POST /prompt converts the ComfyUI prompt and
 * queues it as a run; /history, /queue, /interrupt, /object_info, /view, /upload/image and
 * /system_stats answer in ComfyUI's shapes. Mounted behind the same Host, token and Origin checks as
 * /api; every file it reads or writes is confined to its folder.
 */
import { existsSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import type { Limits, RootKind } from '../guard.ts';
import { confine } from '../guard.ts';
import { fail } from '../http-errors.ts';
import type { RunManager } from '../runs.ts';
import { TERMINAL_STATUSES } from '../store.ts';
import type { ComfyBridge } from './bridge.ts';
import { ComfyImportError, comfyFormat, convertComfyWorkflow } from './convert.ts';
import { ComfyHistory, MAX_HISTORY } from './history.ts';
import { comfyError, importRefusal, validationRefusal } from './node-errors.ts';
import { objectInfo } from './object-info.ts';
import { uploadImage } from './upload.ts';

export interface ComfyApiOptions {
  manager: RunManager;
  bridge: ComfyBridge;
  limits: Limits;
  roots: Record<RootKind, string>;
  version: string;
  /** Where models run now (cuda or cpu). */
  device: () => 'cuda' | 'cpu';
}

const VIEWABLE: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function refuse(res: Response, status: number, type: string, message: string, details = ''): void {
  res.status(status).json({ error: comfyError(type, message, details), node_errors: {} });
}

/** A non-negative integer query value, or the default. */
function count(value: unknown, fallback: number): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  return Number.isSafeInteger(n) ? n : fallback;
}

export function comfyRouter(options: ComfyApiOptions): express.Router {
  const { manager, bridge, limits, roots } = options;
  const router = express.Router();
  const history = new ComfyHistory(manager, bridge.prompts);
  const folders: Record<string, string> = { output: roots.outputs, input: roots.inputs, temp: bridge.tempDir };
  // ComfyUI clients post JSON without a JSON content type (urllib's default is a form type).
  const json = express.json({ limit: limits.bodyBytes, type: () => true, strict: true });

  router.post('/prompt', json, (req, res) => {
    const body: unknown = req.body;
    if (!isObject(body) || !('prompt' in body)) return refuse(res, 400, 'no_prompt', 'No prompt provided', 'No prompt provided');
    const { prompt, client_id: clientId, extra_data: extra, prompt_id: promptId } = body;
    if (comfyFormat(prompt) !== 'api') return refuse(res, 400, 'invalid_prompt', 'The prompt must be a ComfyUI API-format prompt: { "<node id>": { "class_type", "inputs" } }.');
    if (clientId !== undefined && (typeof clientId !== 'string' || clientId.length > 128)) return refuse(res, 400, 'invalid_prompt', '"client_id" must be a string of at most 128 characters.');
    if (extra !== undefined && !isObject(extra)) return refuse(res, 400, 'invalid_prompt', '"extra_data" must be an object.');
    if (promptId !== undefined && typeof promptId !== 'string') return refuse(res, 400, 'invalid_prompt', '"prompt_id" must be a string (a UUID).');
    const comfyPrompt = prompt as Record<string, unknown>;
    let conversion: ReturnType<typeof convertComfyWorkflow>;
    try {
      conversion = convertComfyWorkflow(comfyPrompt);
    } catch (e) {
      if (!(e instanceof ComfyImportError)) throw e;
      return res.status(400).json(importRefusal(e, comfyPrompt));
    }
    const { workflow, origins } = conversion;
    if ((workflow.outputs ?? []).length === 0) return refuse(res, 400, 'prompt_no_outputs', 'Prompt has no outputs');
    const result = manager.submit({ workflow, clientId: typeof clientId === 'string' ? clientId : undefined, runId: promptId });
    if (!result.ok) return res.status(result.status).json(validationRefusal(result.errors, comfyPrompt, workflow, origins));
    const extraData = { ...(extra ?? {}), ...(typeof clientId === 'string' ? { client_id: clientId } : {}) };
    bridge.prompts.insert({ runId: result.runId, prompt: comfyPrompt, extraData, outputs: workflow.outputs ?? [], origins, clientId: typeof clientId === 'string' ? clientId : null });
    res.json({ prompt_id: result.runId, number: bridge.prompts.get(result.runId)?.number ?? 0, node_errors: {} });
  });

  router.get('/prompt', (_req, res) => {
    res.json({ exec_info: bridge.queueInfo().exec_info });
  });

  router.get('/history', (req, res) => {
    res.json(history.entries(count(req.query.max_items, MAX_HISTORY), count(req.query.offset, 0)));
  });

  router.get('/history/:prompt_id', (req, res) => {
    const entry = history.entry(req.params.prompt_id);
    res.json(entry ? { [req.params.prompt_id]: entry } : {});
  });

  // { clear: true } and { delete: [ids] }: finished prompts leave the history (their files stay).
  router.post('/history', json, (req, res) => {
    const body = isObject(req.body) ? req.body : {};
    const ids = body.clear === true ? bridge.prompts.finished(TERMINAL_STATUSES, MAX_HISTORY, 0) : Array.isArray(body.delete) ? body.delete.filter((d): d is string => typeof d === 'string') : [];
    for (const id of ids) if (bridge.prompts.get(id)) manager.remove(id);
    res.status(200).end();
  });

  router.get('/queue', (_req, res) => {
    res.json(history.queue());
  });

  // { clear: true } and { delete: [ids] }: waiting prompts are cancelled.
  router.post('/queue', json, (req, res) => {
    const body = isObject(req.body) ? req.body : {};
    const ids = body.clear === true ? history.queue().queue_pending.map((item) => item[1]) : Array.isArray(body.delete) ? body.delete.filter((d): d is string => typeof d === 'string') : [];
    for (const id of ids) if (bridge.prompts.get(id) && manager.store.get(id)?.status === 'queued') manager.cancel(id);
    res.status(200).end();
  });

  // Stops the running prompt; with { prompt_id }, only when that one is running.
  router.post('/interrupt', json, (req, res) => {
    const wanted = isObject(req.body) && typeof req.body.prompt_id === 'string' ? req.body.prompt_id : undefined;
    const running = manager.runningId;
    if (running && (wanted === undefined || wanted === running)) manager.cancel(running);
    res.status(200).end();
  });

  const infoContext = { modelsRoot: roots.models, inputsRoot: roots.inputs, limits };
  router.get('/object_info', (_req, res) => {
    res.json(objectInfo(infoContext));
  });
  router.get('/object_info/:class', (req, res) => {
    res.json(objectInfo(infoContext, req.params.class));
  });

  router.get('/view', (req: Request, res, next) => {
    const { filename, subfolder = '', type = 'output' } = req.query as Record<string, unknown>;
    if (typeof filename !== 'string' || filename === '') return fail(res, 400, 'INVALID_REQUEST', '/view needs "filename".');
    if (typeof subfolder !== 'string' || typeof type !== 'string' || !Object.hasOwn(folders, type)) return fail(res, 400, 'INVALID_REQUEST', '"type" must be output, input or temp, and "subfolder" a string.');
    let file: string;
    try {
      file = confine(folders[type], path.posix.join(subfolder, filename), 'file path');
    } catch (e) {
      return next(e);
    }
    if (!existsSync(file) || !statSync(file).isFile()) return fail(res, 404, 'NOT_FOUND', `No ${type} file "${path.posix.join(subfolder, filename)}".`);
    // Images are shown; anything else (tensors, JSON, a planted page) is a download, never rendered.
    const image = VIEWABLE[path.extname(file).toLowerCase()];
    const name = path.basename(file).replace(/[^\w.() -]/g, '_');
    const headers = image ? { 'Content-Type': image, 'Content-Disposition': `inline; filename="${name}"` } : { 'Content-Type': 'application/octet-stream', 'Content-Disposition': `attachment; filename="${name}"` };
    res.sendFile(file, { dotfiles: 'allow', headers }, (err) => {
      if (err && !res.headersSent) next(err);
    });
  });

  router.post('/upload/image', express.raw({ type: () => true, limit: limits.uploadBytes }), (req, res, next) => {
    uploadImage(req, { input: roots.inputs, temp: bridge.tempDir }).then((answer) => {
      if ('error' in answer) return fail(res, answer.status, answer.code, answer.error);
      res.json(answer);
    }, next);
  });

  router.get('/system_stats', (_req, res) => {
    const device = options.device();
    const [total, free] = [os.totalmem(), os.freemem()];
    res.json({
      system: {
        os: process.platform, ram_total: total, ram_free: free, comfyui_version: `diffgraph ${options.version}`,
        python_version: `node ${process.versions.node}`, pytorch_version: 'onnxruntime', embedded_python: false, argv: [],
      },
      // onnxruntime does not report GPU memory: a CUDA device shows 0 for it.
      devices: [{ name: device, type: device, index: 0, vram_total: device === 'cpu' ? total : 0, vram_free: device === 'cpu' ? free : 0, torch_vram_total: 0, torch_vram_free: 0 }],
    });
  });

  // Plain GET on the WebSocket endpoint (the upgrade itself is handled on the HTTP server).
  router.get('/ws', (_req, res) => {
    fail(res, 426, 'UPGRADE_REQUIRED', 'GET /ws is a WebSocket endpoint (ComfyUI\'s): connect with a WebSocket client.');
  });

  return router;
}
