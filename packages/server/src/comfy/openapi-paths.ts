/** ComfyUI's routes (comfy/api.ts) in the OpenAPI document; their shapes are ComfyUI's (docs/comfyui.md). */
type Schema = Record<string, unknown>;

const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const tag = ['ComfyUI'];
const object: Schema = { type: 'object' };
const comfyError: Schema = {
  type: 'object',
  properties: {
    error: { type: 'object', properties: { type: { type: 'string' }, message: { type: 'string' }, details: { type: 'string' }, extra_info: object }, required: ['type', 'message', 'details', 'extra_info'] },
    node_errors: {
      type: 'object',
      description: 'Per ComfyUI node id: { errors: [{ type, message, details, extra_info: { input_name? } }], class_type, dependent_outputs }',
      additionalProperties: { type: 'object', properties: { errors: { type: 'array', items: object }, class_type: { type: 'string' }, dependent_outputs: { type: 'array', items: { type: 'string' } } } },
    },
  },
  required: ['error', 'node_errors'],
};
const queueItem: Schema = { type: 'array', description: '[number, prompt_id, prompt, extra_data, outputs_to_execute]', prefixItems: [{ type: 'number' }, { type: 'string' }, object, object, { type: 'array', items: { type: 'string' } }] };
const errorsRef = { $ref: '#/components/schemas/Errors' };
const denied = { 401: json(errorsRef, 'Missing or wrong bearer token'), 403: json(errorsRef, 'Cross-origin request, wrong Host, or a path outside its folder') };
const done = { 200: { description: 'Done (empty body, as ComfyUI)' } };
const clearOrDelete = { required: false, content: { 'application/json': { schema: { type: 'object', properties: { clear: { type: 'boolean' }, delete: { type: 'array', items: { type: 'string' } } } } } } };

export const comfyPaths: Record<string, Schema> = {
  '/prompt': {
    post: {
      operationId: 'comfyQueuePrompt', tags: tag,
      summary: 'Convert a ComfyUI API-format prompt and queue it (any content type is read as JSON, as ComfyUI clients send it)',
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', properties: { prompt: object, client_id: { type: 'string', maxLength: 128 }, prompt_id: { type: 'string', format: 'uuid', description: 'The id to give the prompt (default: a new UUID)' }, extra_data: object, number: { type: 'number' }, front: { type: 'boolean' } }, required: ['prompt'] } } } },
      responses: { 200: json({ type: 'object', properties: { prompt_id: { type: 'string' }, number: { type: 'integer' }, node_errors: object }, required: ['prompt_id', 'number', 'node_errors'] }, 'Queued'), 400: json(comfyError, 'Refused, ComfyUI\'s shape'), ...denied, 413: json(comfyError, 'Prompt over the size limit'), 503: json(comfyError, 'Queue full or shutting down') },
    },
    get: { operationId: 'comfyPromptInfo', tags: tag, summary: 'Queue length', responses: { 200: json({ type: 'object', properties: { exec_info: { type: 'object', properties: { queue_remaining: { type: 'integer' } } } } }, 'exec_info'), ...denied } },
  },
  '/history': {
    get: {
      operationId: 'comfyHistory', tags: tag, summary: 'Finished prompts (submitted through /prompt), oldest first',
      parameters: [{ name: 'max_items', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } }, { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } }],
      responses: { 200: json({ type: 'object', additionalProperties: { $ref: '#/components/schemas/ComfyHistoryEntry' } }, 'prompt_id → entry'), ...denied },
    },
    post: { operationId: 'comfyHistoryDelete', tags: tag, summary: 'Delete finished prompts from the history: { clear: true } or { delete: [ids] }', requestBody: clearOrDelete, responses: { ...done, ...denied } },
  },
  '/history/{prompt_id}': {
    get: {
      operationId: 'comfyHistoryOne', tags: tag, summary: 'One finished prompt ({} while it is unknown, queued or running)',
      parameters: [{ name: 'prompt_id', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: json({ type: 'object', additionalProperties: { $ref: '#/components/schemas/ComfyHistoryEntry' } }, '{ prompt_id: entry } or {}'), ...denied },
    },
  },
  '/queue': {
    get: { operationId: 'comfyQueue', tags: tag, summary: 'Prompts running and waiting', responses: { 200: json({ type: 'object', properties: { queue_running: { type: 'array', items: queueItem }, queue_pending: { type: 'array', items: queueItem } } }, 'The queue'), ...denied } },
    post: { operationId: 'comfyQueueDelete', tags: tag, summary: 'Cancel waiting prompts: { clear: true } or { delete: [ids] }', requestBody: clearOrDelete, responses: { ...done, ...denied } },
  },
  '/interrupt': {
    post: {
      operationId: 'comfyInterrupt', tags: tag, summary: 'Stop the running prompt (with { prompt_id }: only when that one is running)',
      requestBody: { required: false, content: { 'application/json': { schema: { type: 'object', properties: { prompt_id: { type: 'string' } } } } } },
      responses: { ...done, ...denied },
    },
  },
  '/object_info': { get: { operationId: 'comfyObjectInfo', tags: tag, summary: 'The ComfyUI node classes this server converts, in ComfyUI\'s object_info shape', responses: { 200: json(object, 'class name → { input: { required, optional }, output, output_name, name, display_name, category, … }'), ...denied } } },
  '/object_info/{class}': {
    get: {
      operationId: 'comfyObjectInfoOne', tags: tag, summary: 'One class ({} when it is not converted)',
      parameters: [{ name: 'class', in: 'path', required: true, schema: { type: 'string' } }],
      responses: { 200: json(object, '{ class: info } or {}'), ...denied },
    },
  },
  '/view': {
    get: {
      operationId: 'comfyView', tags: tag, summary: 'A file of the output, input or temp folder, confined to it',
      parameters: [
        { name: 'filename', in: 'query', required: true, schema: { type: 'string' } },
        { name: 'subfolder', in: 'query', required: false, schema: { type: 'string', default: '' } },
        { name: 'type', in: 'query', required: false, schema: { enum: ['output', 'input', 'temp'], default: 'output' } },
      ],
      responses: { 200: { description: 'The file' }, 400: json(errorsRef, 'No filename, or another type'), ...denied, 404: json(errorsRef, 'No such file') },
    },
  },
  '/upload/image': {
    post: {
      operationId: 'comfyUploadImage', tags: tag, summary: 'Upload a PNG or JPEG (checked by content) under its own name; without overwrite a different file of that name is kept and the new one renamed "name (1).png"',
      requestBody: { required: true, content: { 'multipart/form-data': { schema: { type: 'object', properties: { image: { type: 'string', contentMediaType: 'application/octet-stream' }, subfolder: { type: 'string' }, type: { enum: ['input', 'temp'] }, overwrite: { enum: ['true', 'false', '1', '0'] } }, required: ['image'] } } } },
      responses: {
        200: json({ type: 'object', properties: { name: { type: 'string' }, subfolder: { type: 'string' }, type: { type: 'string' } }, required: ['name', 'subfolder', 'type'] }, 'Stored: LoadImage takes "<subfolder>/<name>"'),
        400: json(errorsRef, 'No image, or another type'), ...denied, 413: json(errorsRef, 'Over the upload limit'), 415: json(errorsRef, 'Not a readable PNG or JPEG, or not multipart'),
      },
    },
  },
  '/system_stats': { get: { operationId: 'comfySystemStats', tags: tag, summary: 'System and device, ComfyUI\'s shape (onnxruntime reports no GPU memory: 0)', responses: { 200: json({ type: 'object', properties: { system: object, devices: { type: 'array', items: object } } }, 'Stats'), ...denied } } },
  '/ws': { get: { operationId: 'comfyWebSocket', tags: tag, summary: 'ComfyUI\'s WebSocket (upgrade, ?clientId=): status, execution_*, executing, progress, executed messages and binary previews. A plain GET answers 426.', responses: { 101: { description: 'Switching to the WebSocket protocol' }, 426: json(errorsRef, 'Not a WebSocket upgrade'), ...denied } } },
};

export const comfyHistoryEntrySchema: Schema = {
  type: 'object',
  properties: {
    prompt: queueItem,
    outputs: { type: 'object', description: 'Per output node (ComfyUI id): { images: [{ filename, subfolder, type }] }' },
    status: { type: 'object', properties: { status_str: { enum: ['success', 'error'] }, completed: { type: 'boolean' }, messages: { type: 'array', items: { type: 'array' } } } },
    meta: object,
  },
  required: ['prompt', 'outputs', 'status'],
};
