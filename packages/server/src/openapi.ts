/**
 * The OpenAPI 3.1 document. The request schemas here are the ones the routes validate with (ajv), and
 * the workflow schema is the engine's, generated from the node registry, so the document describes
 * what the server really accepts. A test checks that its paths are exactly the router's routes.
 */
import { workflowSchema, type NodeRegistry } from '@diffgraph/engine';
import { RUN_STATUSES } from './store.ts';
import { workflowLibraryPaths } from './workflow-library.ts';
import { comfyHistoryEntrySchema, comfyPaths } from './comfy/openapi-paths.ts';
import { CLOSE_TOO_SLOW } from './ws-client.ts';

type Schema = Record<string, unknown>;

export const submitRequestSchema: Schema = {
  type: 'object',
  properties: {
    workflow: {
      anyOf: [
        { $ref: '#/components/schemas/Workflow' },
        { type: 'object', description: 'A ComfyUI workflow, API format ({"3": {"class_type", "inputs"}}) or UI format (nodes, links, widgets_values): converted on arrival (docs/comfyui.md); what cannot be converted is a 400 COMFY_UNSUPPORTED_NODES, COMFY_UNSUPPORTED_SETTING or COMFY_INVALID_WORKFLOW' },
      ],
    },
    outputs: { type: 'array', items: { type: 'string', minLength: 1 }, maxItems: 256, description: 'Node ids to compute instead of the workflow\'s own `outputs`' },
    clientId: { type: 'string', minLength: 1, maxLength: 128, description: 'Free-form id of the submitting client, for filtering the run list' },
  },
  required: ['workflow'],
  additionalProperties: false,
};

/** What ajv checks on POST /api/runs before the engine validates the workflow itself (with coded errors). */
export const submitEnvelopeSchema: Schema = {
  ...submitRequestSchema,
  properties: { ...(submitRequestSchema.properties as Schema), workflow: { type: 'object' } },
};

export const listQuerySchema: Schema = {
  type: 'object',
  properties: {
    status: { type: 'string', pattern: `^(${RUN_STATUSES.join('|')})(,(${RUN_STATUSES.join('|')}))*$`, description: 'Comma-separated statuses' },
    clientId: { type: 'string', maxLength: 128 },
    limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    offset: { type: 'integer', minimum: 0, default: 0 },
  },
  additionalProperties: false,
};

export const eventsQuerySchema: Schema = {
  type: 'object',
  properties: { after: { type: 'integer', minimum: 0, default: 0, description: 'Only events with a larger `seq`' } },
  additionalProperties: false,
};

const errorSchema: Schema = {
  type: 'object',
  properties: {
    errors: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          nodeId: { type: ['string', 'null'] },
          input: { type: 'string' },
          code: { type: 'string', description: 'A stable code: the engine\'s validation codes (docs/workflow-format.md: WORKFLOW_TOO_LARGE, TOO_MANY_NODES, NESTING_TOO_DEEP and TOO_MANY_ERRORS among them), LIMIT_EXCEEDED, COMFY_UNSUPPORTED_NODES (with `nodes`: [{id, classType}]), COMFY_UNSUPPORTED_SETTING, COMFY_INVALID_WORKFLOW, PATH_OUTSIDE_ROOT, PATH_EMPTY, UNREADABLE_UPLOAD, EMPTY_UPLOAD, INVALID_REQUEST, INVALID_JSON, BODY_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE, UNAUTHORIZED, CROSS_ORIGIN, BAD_HOST, NOT_FOUND, RUN_ACTIVE, QUEUE_FULL, …' },
          message: { type: 'string' },
        },
        required: ['nodeId', 'code', 'message'],
      },
    },
  },
  required: ['errors'],
};

const nodeStateSchema: Schema = {
  type: 'object',
  properties: {
    nodeType: { type: 'string' },
    state: { enum: ['pending', 'running', 'cached', 'finished', 'failed', 'skipped', 'cancelled'] },
    seconds: { type: 'number' },
    error: { type: 'object', properties: { nodeId: { type: 'string' }, message: { type: 'string' } } },
    progress: { type: 'object', properties: { value: { type: 'number' }, max: { type: 'number' } } },
  },
  required: ['nodeType', 'state'],
};

const runSummarySchema: Schema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    status: { enum: [...RUN_STATUSES] },
    outputs: { type: 'array', items: { type: 'string' } },
    clientId: { type: ['string', 'null'] },
    createdAt: { type: 'integer', description: 'ms since the epoch' },
    startedAt: { type: ['integer', 'null'] },
    finishedAt: { type: ['integer', 'null'] },
    attempts: { type: 'integer', description: 'Times the run was started' },
    interruptions: { type: 'integer', description: 'Times a server crash interrupted it' },
    error: { type: ['string', 'null'] },
    title: { type: ['string', 'null'] },
  },
  required: ['id', 'status', 'outputs', 'createdAt', 'attempts'],
};

const runSchema: Schema = {
  allOf: [
    { $ref: '#/components/schemas/RunSummary' },
    {
      type: 'object',
      properties: {
        nodes: { type: 'object', additionalProperties: { $ref: '#/components/schemas/NodeState' } },
        results: {
          type: ['object', 'null'],
          description: 'Per output node: { status: "succeeded", values } | { status: "failed", error } | { status: "cancelled" }. Tensors appear as { tensor: { shape, dtype, bytes } }, files as { file, url } (also inside lists, e.g. SaveImage\'s paths; file is relative to the output folder: <runId>/name). Messages name server files relative to their folder, never by absolute path.',
          additionalProperties: { type: 'object', properties: { status: { enum: ['succeeded', 'failed', 'cancelled'] } }, required: ['status'] },
        },
        workflow: { $ref: '#/components/schemas/Workflow' },
      },
      required: ['nodes', 'results'],
    },
  ],
};

const healthSchema: Schema = {
  type: 'object',
  properties: {
    status: { const: 'ok' },
    versions: { type: 'object', additionalProperties: { type: 'string' } },
    executionProvider: { type: 'object', properties: { active: { enum: ['cpu', 'cuda'] }, configured: { enum: ['auto', 'cpu', 'cuda'] }, cudaInstalled: { type: 'boolean' } } },
    queue: {
      type: 'object',
      properties: {
        queued: { type: 'integer' },
        running: { type: 'integer' },
        dispatch: {
          type: 'object',
          description: 'Only with `serve --queue`: the BullMQ queue on Redis that workers take runs from (docs/scale-out.md)',
          properties: { kind: { const: 'bullmq' }, url: { type: 'string', description: 'Password redacted' }, connected: { type: 'boolean' }, slots: { type: 'integer' }, dispatched: { type: 'integer' } },
        },
      },
    },
    runs: { type: 'object', additionalProperties: { type: 'integer' } },
    cache: { type: 'object', properties: { usedBytes: { type: 'integer' }, budgetBytes: { type: 'integer' }, entries: { type: 'integer' }, hits: { type: 'integer' }, misses: { type: 'integer' }, evictions: { type: 'integer' } } },
    memory: { type: 'object', properties: { rss: { type: 'integer' }, heapUsed: { type: 'integer' } } },
    limits: { type: 'object', additionalProperties: { type: 'integer' } },
    uptimeSeconds: { type: 'number' },
    auth: { type: 'boolean' },
  },
  required: ['status', 'versions', 'executionProvider', 'queue', 'cache'],
};

const nullable = (schema: Schema): Schema => ({ oneOf: [schema, { type: 'null' }] });
export const modelCatalogSchema: Schema = {
  type: 'object',
  properties: {
    models: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', description: 'Relative to the models root, "/"-separated: the value of the loader\'s path input' },
          kind: { enum: ['pipeline', 'onnx-model', 'classifier', 'onnx'] },
          layout: { enum: ['diffusers-onnx-sd', 'diffusers-onnx-sdxl', 'single', 'classifier'] },
          loader: nullable({ enum: ['LoadPipeline', 'LoadOnnxModel', 'LoadClassifier'] }),
          predictionType: nullable({ type: 'string' }),
          latentChannels: nullable({ type: 'integer' }),
          nativeSize: nullable({ type: 'array', items: { type: 'integer' }, minItems: 2, maxItems: 2, description: '[height, width]: pixels for pipelines, latent cells for single models' }),
          precision: nullable({ type: 'string', description: 'Element type of the denoiser\'s sample input (float32, float16, bfloat16)' }),
          scheduler: nullable({ type: 'string' }),
          sizeBytes: { type: 'integer' },
          problems: { type: 'array', items: { type: 'string' } },
        },
        required: ['name', 'kind', 'layout', 'loader', 'predictionType', 'latentChannels', 'nativeSize', 'precision', 'scheduler', 'sizeBytes', 'problems'],
        additionalProperties: false,
      },
    },
  },
  required: ['models'],
};

const uploadSchema: Schema = {
  type: 'object',
  properties: {
    name: { type: 'string', description: 'The file name to use in a workflow (e.g. LoadImage.path, LoadTensor.path): <sha256>.<ext>' },
    sha256: { type: 'string' },
    bytes: { type: 'integer' },
    type: { enum: ['image/png', 'image/jpeg', 'application/x-npy', 'application/json'] },
    existed: { type: 'boolean', description: 'The same content was uploaded before' },
  },
  required: ['name', 'sha256', 'bytes', 'type'],
};

const json = (schema: Schema) => ({ 'application/json': { schema } });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((c) => [String(c), { description: ERROR_TEXT[c], content: json(ref('Errors')) }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'Invalid request: every problem, each with a code',
  401: 'Missing or wrong bearer token',
  403: 'Cross-origin request, wrong Host, or a path outside its root',
  404: 'Not found',
  409: 'The run is queued or running (cancel it first)',
  413: 'Body, upload or workflow over the size limit',
  415: 'Unsupported content type',
  503: 'Queue full or shutting down',
};
const idParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };

/** Rewrites the engine schema's draft-07 `definitions` into OpenAPI components. */
function workflowComponents(registry: NodeRegistry): Record<string, Schema> {
  const schema = workflowSchema(registry) as Schema & { definitions: Record<string, Schema> };
  const rewrite = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value as Schema).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace('#/definitions/', '#/components/schemas/WorkflowNode.') : rewrite(v)]));
    }
    return value;
  };
  const { definitions, $schema: _s, $id: _i, ...workflow } = schema;
  const components: Record<string, Schema> = { Workflow: rewrite(workflow) as Schema };
  for (const [name, def] of Object.entries(definitions)) components[`WorkflowNode.${name}`] = rewrite(def) as Schema;
  return components;
}

const workerListSchema: Schema = {
  type: 'object',
  properties: {
    mode: { enum: ['embedded', 'scale-out'], description: 'embedded: runs execute inside the server process and `workers` is empty; scale-out: `serve --queue`' },
    workers: {
      type: 'array',
      description: 'Workers whose last heartbeat (every 3 s) is under 10 s old, oldest first; a worker that exits cleanly leaves at once',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          host: { type: 'string' },
          pid: { type: 'integer' },
          state: { enum: ['idle', 'running', 'draining'], description: 'draining: shutting down after SIGTERM, taking no new run' },
          runs: { type: 'array', items: { type: 'string' }, description: 'Ids of the runs it is running' },
          device: { enum: ['cpu', 'cuda'] },
          models: { type: 'array', items: { type: 'string' }, description: 'Model files loaded in its model store, relative to its model folder, least recently used first' },
          concurrency: { type: 'integer' },
          runsDone: { type: 'integer', description: 'Runs it finished (succeeded, failed or cancelled); a run handed back is not counted' },
          startedAt: { type: 'integer', description: 'ms since the epoch' },
          heartbeatAt: { type: 'integer', description: 'ms since the epoch' },
          longestStallMs: { type: 'integer', description: 'the longest its event loop was blocked so far, in ms (BullMQ renews run locks from it at half --lock-seconds)' },
        },
        required: ['id', 'host', 'pid', 'state', 'runs', 'device', 'models', 'concurrency', 'runsDone', 'startedAt', 'heartbeatAt', 'longestStallMs'],
      },
    },
  },
  required: ['mode', 'workers'],
};

export function openApiDocument(registry: NodeRegistry, version: string): Schema {
  return {
    openapi: '3.1.0',
    info: {
      title: 'diffgraph server',
      version,
      description: 'Submit, watch and manage diffusion workflow runs. See docs/api.md for the WebSocket protocol, auth and limits. The routes tagged ComfyUI are ComfyUI\'s API (docs/comfyui.md).',
    },
    servers: [{ url: '/' }],
    security: [{}, { bearer: [] }],
    'x-websocket': {
      path: '/api/events',
      description: 'Upgrade GET /api/events to a WebSocket: JSON text frames carry events, binary frames carry previews (docs/api.md). Replays are paged; a client that does not catch up is closed with code 4008.',
      closeCodes: { 1001: 'The server is shutting down', [CLOSE_TOO_SLOW]: 'Client too slow: a ping unanswered for 30 s (it is not reading), or over 64 MiB unsent (docs/api.md, Slow clients)' },
    },
    paths: {
      ...workflowLibraryPaths,
      ...comfyPaths,
      '/api/health': { get: { operationId: 'health', summary: 'Versions, execution provider, queue depth, cache bytes', responses: { 200: { description: 'Health', content: json(ref('Health')) }, ...errors(401, 403) } } },
      '/api/workers': { get: { operationId: 'workers', summary: 'Scale-out workers (serve --queue): state, current runs, device, loaded models, runs done, last heartbeat; an empty list in the embedded mode', responses: { 200: { description: 'The workers', content: json(ref('WorkerList')) }, ...errors(401, 403) } } },
      '/api/openapi.json': { get: { operationId: 'openapi', summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } } } },
      '/api/nodes': { get: { operationId: 'nodes', summary: 'The node library (each node with its pack), the node packs loaded and skipped, and the workflow JSON Schema', responses: { 200: { description: 'Definitions, packs and schema', content: json(ref('NodeLibrary')) }, ...errors(401, 403) } } },
      '/api/models': { get: { operationId: 'models', summary: 'Pipelines, single models and classifiers under the models root (names are what a loader\'s path takes)', responses: { 200: { description: 'The catalog', content: json(ref('ModelCatalog')) }, ...errors(401, 403) } } },
      '/api/runs': {
        post: {
          operationId: 'submitRun',
          summary: 'Validate and queue a run; nothing is queued when anything is wrong',
          requestBody: { required: true, content: json(ref('SubmitRequest')) },
          responses: { 202: { description: 'Queued', content: json(ref('SubmitResponse')) }, ...errors(400, 401, 403, 413, 415, 503) },
        },
        get: {
          operationId: 'listRuns',
          summary: 'Runs, newest first, filtered and paged',
          parameters: Object.entries(listQuerySchema.properties as Schema).map(([name, schema]) => ({ name, in: 'query', required: false, schema })),
          responses: { 200: { description: 'A page of runs', content: json(ref('RunList')) }, ...errors(400, 401, 403) },
        },
      },
      '/api/runs/{id}': {
        get: {
          operationId: 'getRun',
          summary: 'Status, per-node state (with live progress) and outputs of a run',
          parameters: [idParam, { name: 'workflow', in: 'query', required: false, schema: { type: 'string', enum: ['0', '1'] }, description: '1: include the submitted workflow' }],
          responses: { 200: { description: 'The run', content: json(ref('Run')) }, ...errors(401, 403, 404) },
        },
        delete: {
          operationId: 'deleteRun',
          summary: 'Delete a finished run from the history (its files stay); a queued or running run is refused with 409 RUN_ACTIVE',
          parameters: [idParam],
          responses: {
            200: { description: 'Deleted; a run.deleted event follows', content: json({ type: 'object', properties: { id: { type: 'string' }, result: { const: 'deleted' } }, required: ['id', 'result'] }) },
            ...errors(401, 403, 404, 409),
          },
        },
      },
      '/api/runs/{id}/cancel': {
        post: {
          operationId: 'cancelRun',
          summary: 'Cancel a queued or running run (a running sampler stops within one step). Idempotent: a finished run is left unchanged',
          parameters: [idParam],
          responses: {
            200: { description: 'Cancelled (was queued) or unchanged (had already finished: `status` says how)', content: json(ref('CancelResult')) },
            202: { description: 'Cancelling (was running): a run.cancelled event follows', content: json(ref('CancelResult')) },
            ...errors(401, 403, 404),
          },
        },
      },
      '/api/runs/{id}/events': {
        get: {
          operationId: 'runEvents',
          summary: 'The recorded event log of a run (progress and previews are live only)',
          parameters: [idParam, { name: 'after', in: 'query', required: false, schema: (eventsQuerySchema.properties as Schema).after }],
          responses: { 200: { description: 'Events in order, each with `seq`', content: json({ type: 'object', properties: { events: { type: 'array', items: { type: 'object' } } } }) }, ...errors(400, 401, 403, 404) },
        },
      },
      '/api/files/{path}': {
        get: {
          operationId: 'getFile',
          summary: 'An output file, confined to the output folder (realpath, after symlinks)',
          parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'Path inside the output folder, e.g. <runId>/samples.npy (may contain "/")' }],
          responses: { 200: { description: 'The file', content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } }, ...errors(401, 403, 404) },
        },
      },
      '/api/uploads': {
        get: {
          operationId: 'listUploads',
          summary: 'The files in the inputs folder a loader can open (PNG, JPEG, .npy, tensor JSON; subfolders such as the examples\' data/ included), newest first',
          responses: { 200: { description: 'The inputs', content: json({ type: 'object', properties: { uploads: { type: 'array', items: ref('InputFile') } }, required: ['uploads'] }) }, ...errors(401, 403) },
        },
        post: {
          operationId: 'upload',
          summary: 'Upload an input file (PNG, JPEG, .npy, tensor JSON): typed by content and decoded in full (415 UNREADABLE_UPLOAD if it does not decode), stored under its SHA-256',
          requestBody: { required: true, content: { 'application/octet-stream': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } } },
          responses: { 201: { description: 'Stored', content: json(ref('Upload')) }, 200: { description: 'Already stored', content: json(ref('Upload')) }, ...errors(400, 401, 403, 413, 415) },
        },
      },
      '/api/uploads/{path}': {
        get: {
          operationId: 'getUpload',
          summary: 'An input file (as GET /api/uploads lists them), confined to the inputs folder (realpath, after symlinks); for thumbnails and mask painting',
          parameters: [{ name: 'path', in: 'path', required: true, schema: { type: 'string' }, description: 'Name inside the inputs folder, e.g. <sha256>.png or data/red-circle.png (may contain "/")' }],
          responses: { 200: { description: 'The file, with its type', content: { 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } }, 'image/jpeg': { schema: { type: 'string', contentMediaType: 'image/jpeg' } }, 'application/x-npy': { schema: { type: 'string', contentMediaType: 'application/x-npy' } }, 'application/json': { schema: {} } } }, ...errors(401, 403, 404) },
        },
      },
      '/api/import': {
        post: {
          operationId: 'importWorkflow',
          summary: 'Turn a file into a diffgraph workflow without running it: a workflow JSON (ours as it is, ComfyUI API/UI format converted) or a PNG with one embedded (ours, or ComfyUI\'s: its UI graph first, ?prefer=api for its executed prompt first)',
          parameters: [{ name: 'prefer', in: 'query', required: false, schema: { enum: ['ui', 'api'], default: 'ui' }, description: 'Which of a ComfyUI PNG\'s two graphs to convert first' }],
          requestBody: { required: true, content: { 'application/json': { schema: {} }, 'image/png': { schema: { type: 'string', contentMediaType: 'image/png' } } } },
          responses: {
            200: { description: 'The workflow', content: json({ type: 'object', properties: { workflow: {}, source: { enum: ['diffgraph', 'comfyui-api', 'comfyui-ui'] }, notes: { type: 'array', items: { type: 'string' } } }, required: ['workflow', 'source', 'notes'] }) },
            ...errors(400, 401, 403, 413, 415),
          },
        },
      },
      '/api/events': {
        get: {
          operationId: 'events',
          summary: 'WebSocket endpoint (upgrade). A plain GET answers 426.',
          responses: { 101: { description: 'Switching to the WebSocket protocol' }, 426: { description: 'Not a WebSocket upgrade', content: json(ref('Errors')) }, ...errors(401, 403) },
        },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'Required on every route when the server has a token (always when bound beyond loopback)' } },
      schemas: {
        ...workflowComponents(registry),
        SubmitRequest: submitRequestSchema,
        SubmitResponse: { type: 'object', properties: { runId: { type: 'string' } }, required: ['runId'] },
        Errors: errorSchema,
        NodeState: nodeStateSchema,
        RunSummary: runSummarySchema,
        Run: runSchema,
        CancelResult: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            result: { enum: ['cancelled', 'cancelling', 'unchanged'] },
            status: { enum: [...RUN_STATUSES], description: 'The run\'s status after the call' },
          },
          required: ['id', 'result', 'status'],
        },
        RunList: { type: 'object', properties: { runs: { type: 'array', items: ref('RunSummary') }, total: { type: 'integer' }, limit: { type: 'integer' }, offset: { type: 'integer' } }, required: ['runs', 'total', 'limit', 'offset'] },
        ModelCatalog: modelCatalogSchema,
        NodeLibrary: {
          type: 'object',
          properties: {
            nodes: { type: 'array', items: { type: 'object', description: 'A node definition without run(), plus `pack`: the name of the pack that registered it (built-in nodes: "diffgraph-core")', properties: { type: { type: 'string' }, pack: { type: 'string' } }, required: ['type', 'pack'] } },
            packs: { type: 'array', description: 'Every registered pack, the built-in one first, then the node packs loaded from --nodes, DIFFGRAPH_NODES and <data>/nodes (docs/custom-nodes.md)', items: { $ref: '#/components/schemas/NodePackInfo' } },
            packErrors: { type: 'array', description: 'Node packs that failed to load and were skipped', items: { $ref: '#/components/schemas/NodePackError' } },
            schema: { type: 'object', description: 'The workflow JSON Schema (draft-07)' },
          },
          required: ['nodes', 'packs', 'packErrors', 'schema'],
        },
        NodePackInfo: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            version: { type: 'string', description: 'The pack\'s version, when it declares one (or its package.json does)' },
            source: { type: 'string', description: 'The pack\'s file or package folder name (loaded packs only)' },
            nodes: { type: 'array', items: { type: 'string' }, description: 'Its node types, sorted' },
          },
          required: ['name', 'nodes'],
        },
        NodePackError: {
          type: 'object',
          properties: {
            source: { type: 'string', description: 'The file or folder name of the pack' },
            pack: { type: 'string', description: 'The pack\'s name, when it got far enough to have one' },
            error: { type: 'string', description: 'Why it was skipped: a syntax error, an exception on import, a bad default export, an invalid node definition, or a node type already registered by another pack (named)' },
          },
          required: ['source', 'error'],
        },
        Health: healthSchema,
        WorkerList: workerListSchema,
        Upload: uploadSchema,
        ComfyHistoryEntry: comfyHistoryEntrySchema,
        InputFile: {
          type: 'object',
          properties: {
            name: { type: 'string', description: 'Relative to the inputs folder, "/"-separated: what LoadImage.path, LoadMask.path and LoadTensor.path take' },
            bytes: { type: 'integer' },
            type: { enum: ['image/png', 'image/jpeg', 'application/x-npy', 'application/json'] },
            mtime: { type: 'integer', description: 'Last modification, ms since the epoch' },
          },
          required: ['name', 'bytes', 'type', 'mtime'],
        },
      },
    },
  };
}
