#!/usr/bin/env node
/**
 * diffgraph — run, validate and inspect workflows from the command line.
 * Exit codes: 0 success; 1 invalid workflow or a failed output; 2 unreadable input or bad usage;
 * 130 cancelled (Ctrl-C).
 *
 * Start-up time: only commander and dependency-free modules load here; each command imports what it
 * needs (the engine's ajv, onnxruntime, express, SQLite, ws) when it runs, so `--help` and
 * `--version` pay for none of them.
 */
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import type { Workflow } from '@diffgraph/engine';
import type { ModelStore } from '@diffgraph/nodes';
import { deviceOption, formatCatalog, readSessionOptions, sessionOptionsOption } from './model-options.ts';
import { eventToJson, formatErrors, formatOutputs } from './format.ts';
import { DEFAULT_LIMITS, type Limits } from './limits.ts';
import { SERVER_VERSION } from './version.ts';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { BuiltRegistry } from './plugins.ts';

const engine = () => import('@diffgraph/engine');
const nodeLibrary = () => import('@diffgraph/nodes');
const workflowFiles = () => import('./workflow-file.ts');
const comfy = () => import('./comfy/convert.ts');
const pluginLoader = () => import('./plugins.ts');

class UsageError extends Error {}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `1073741824`, `512MB`, `1GiB`, `64k` → bytes. */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new UsageError(`"${text}" is not a size (e.g. 1073741824, 512MB, 1GiB)`);
  const power = ' kmgt'.indexOf((m[2] || ' ').toLowerCase());
  return Math.round(Number(m[1]) * 1024 ** power);
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`"${text}" is not a whole number`);
  return n;
}

const NODES_HELP = 'a folder of node packs, a pack\'s package folder or a .js/.mjs pack (repeatable; also $DIFFGRAPH_NODES; docs/custom-nodes.md)';

/** Built-in nodes plus the packs of --nodes and $DIFFGRAPH_NODES; a pack that fails is reported on stderr and skipped. */
async function commandRegistry(nodes: string[]): Promise<BuiltRegistry> {
  const { buildRegistry, formatPackFailure, nodeDirsFromEnv } = await pluginLoader();
  const built = await buildRegistry([...nodes, ...nodeDirsFromEnv(process.env.DIFFGRAPH_NODES)]);
  for (const failure of built.plugins.failed) process.stderr.write(`diffgraph: ${formatPackFailure(failure)}\n`);
  return built;
}

const logComfy = (line: string) => process.stderr.write(`diffgraph: ${line}\n`);

/** A workflow file's content: a ComfyUI workflow converted, a PNG's embedded workflow extracted. */
async function readAnyWorkflowFile(file: string) {
  const { readImportedWorkflowFile } = await workflowFiles();
  const read = readImportedWorkflowFile(file);
  if (!read.ok) return read;
  const { workflow, source, notes } = read.imported;
  if (source !== 'diffgraph') logComfy(`this is a ComfyUI workflow (${source === 'comfyui-api' ? 'API' : 'UI'} format), converted`);
  for (const note of notes) logComfy(`  note: ${note}`);
  return { ok: true as const, value: workflow };
}

/** The workflow of a file with --set applied; undefined (errors printed, exit code 1) when unusable. */
async function load(file: string, sets: string[], json?: boolean): Promise<unknown> {
  const [read, { checkWorkflowShape }, { applySets }] = await Promise.all([readAnyWorkflowFile(file), engine(), workflowFiles()]);
  // Size and nesting first: a server submission serializes the workflow, which recurses.
  const errors = read.ok ? checkWorkflowShape(read.value) : read.errors;
  if (!read.ok || errors.length > 0) {
    if (json) for (const error of errors) process.stdout.write(`${JSON.stringify({ type: 'validation.error', ...error })}\n`);
    else process.stderr.write(`${formatErrors(file, errors)}\n`);
    process.exitCode = 1;
    return undefined;
  }
  try {
    return applySets(read.value, sets);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * The model store of a local run, checked before anything runs: a bad --session-options or
 * --device cuda without the CUDA provider is a usage error (exit 2), not a failed node.
 */
async function localModelStore(opts: { models: string; device: 'auto' | 'cpu' | 'cuda'; sessionOptions?: string; json?: boolean }): Promise<ModelStore> {
  const { ModelStore } = await nodeLibrary();
  try {
    const store = new ModelStore({
      roots: [path.resolve(opts.models)], executionProvider: opts.device, sessionOptions: await readSessionOptions(opts.sessionOptions),
    });
    store.providerPlan();
    return store;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function buildProgram(): Command {
  const program = new Command('diffgraph')
    .description('A typed node-graph workflow engine for diffusion sampling')
    .version(SERVER_VERSION)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('Validate and run a workflow, writing its outputs to --out')
    .argument('<workflow>', 'workflow JSON file')
    .option('--set <nodeId.input=value>', 'override a literal input (JSON, or a bare string); repeatable', collect, [])
    .option('--out <dir>', 'output folder', 'out')
    .option('--json', 'print one JSON event per line instead of progress bars')
    .option('--outputs <ids>', 'comma-separated node ids to compute instead of the workflow\'s outputs')
    .option('--models <dir>', 'model folder (LoadPipeline, LoadOnnxModel, …)', 'models')
    .option('--cache <dir>', 'folder where nodes keep results across runs (SearchSchedule\'s searched grids); default: none kept')
    .addOption(deviceOption())
    .addOption(sessionOptionsOption())
    .option('--nodes <dir>', NODES_HELP, collect, [])
    .option('--server <url>', 'submit to a diffgraph server (e.g. http://127.0.0.1:8188) and stream its progress')
    .option('--token <token>', 'bearer token for --server (default: $DIFFGRAPH_TOKEN)')
    .action(async (file: string, opts: { set: string[]; out: string; models: string; cache?: string; nodes: string[]; device: 'auto' | 'cpu' | 'cuda'; sessionOptions?: string; json?: boolean; outputs?: string; server?: string; token?: string }, command: Command) => {
      if (opts.server) {
        // The server's own --device and --session-options decide where its runs go.
        const local = ['device', 'sessionOptions', 'models', 'cache', 'nodes'].filter((o) => command.getOptionValueSource(o) === 'cli');
        if (local.length > 0) throw new UsageError(`--${local.map((o) => o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)).join(', --')} ${local.length > 1 ? 'apply' : 'applies'} to local runs only; the server's own options decide with --server`);
      }
      const workflow = await load(file, opts.set, opts.json);
      if (workflow === undefined) return;
      const outputs = opts.outputs?.split(',').map((s) => s.trim()).filter(Boolean);
      if (opts.server) {
        try {
          new URL(opts.server);
        } catch {
          throw new UsageError(`--server "${opts.server}" is not a URL (e.g. http://127.0.0.1:8188)`);
        }
        const { runRemote } = await import('./remote.ts');
        process.exitCode = await runRemote({ server: opts.server, token: opts.token ?? process.env.DIFFGRAPH_TOKEN, workflow, outputs, json: opts.json, label: file });
        return;
      }
      const modelStore = await localModelStore(opts);
      const [{ EVENT_TYPES, Executor, validateWorkflow }, { registry }, { terminalReporter }] = await Promise.all([engine(), commandRegistry(opts.nodes), import('./progress.ts')]);
      const validation = validateWorkflow(workflow, registry, outputs);
      if (!validation.ok) {
        if (opts.json) for (const error of validation.errors) process.stdout.write(`${JSON.stringify({ type: 'validation.error', ...error })}\n`);
        else process.stderr.write(`${formatErrors(file, validation.errors)}\n`);
        process.exitCode = 1;
        return;
      }
      const executor = new Executor(registry);
      // The terminal shows no images: leaving previews out lets the sampler skip encoding them.
      const shown = EVENT_TYPES.filter((t) => t !== 'node.preview');
      executor.events.subscribe(opts.json ? (e) => process.stdout.write(`${eventToJson(e)}\n`) : terminalReporter(process.stderr), shown);
      const controller = new AbortController();
      const onInterrupt = () => controller.abort(new Error('cancelled by the user (Ctrl-C)'));
      process.once('SIGINT', onInterrupt);
      const runId = `cli-${Date.now().toString(36)}`;
      executor.events.emit({ type: 'run.queued', runId });
      try {
        const result = await executor.run(validation.workflow, {
          runId, outputs: validation.outputs, signal: controller.signal,
          services: {
            outputDir: path.resolve(opts.out),
            inputRoots: [process.cwd(), path.dirname(path.resolve(file))],
            modelRoots: [path.resolve(opts.models)],
            ...(opts.cache ? { cacheDir: path.resolve(opts.cache) } : {}),
            modelStore,
            // As read, with --set applied: SaveImage embeds it, so the PNG opens back in the editor.
            workflow: workflow as Workflow,
          },
        });
        if (!opts.json) process.stdout.write(`${result.status}\n${formatOutputs(result.outputs)}\n`);
        process.exitCode = result.status === 'succeeded' ? 0 : result.status === 'cancelled' ? 130 : 1;
      } finally {
        process.off('SIGINT', onInterrupt);
        await modelStore.close();
      }
    });

  program
    .command('serve')
    .description('Run the HTTP + WebSocket server (docs/api.md)')
    .option('--host <host>', 'address to bind; anything but loopback needs --token', '127.0.0.1')
    .option('--port <port>', 'port (0: any free port)', '8188')
    .option('--token <token>', 'require "Authorization: Bearer <token>" (default: $DIFFGRAPH_TOKEN)')
    .option('--models <dir>', 'model folder (LoadPipeline, LoadOnnxModel)', 'models')
    .addOption(deviceOption())
    .addOption(sessionOptionsOption())
    .option('--data <dir>', 'folder for the database, uploads, outputs and node packs (<data>/nodes)', '.diffgraph')
    .option('--nodes <dir>', NODES_HELP, collect, [])
    .option('--cache-bytes <size>', 'output-cache budget (e.g. 512MB, 2GiB)', '1GiB')
    .option('--requeue <n>', 'times a run interrupted by a crash is re-queued', '1')
    .option('--max-steps <n>', 'largest input with the role "steps"', String(DEFAULT_LIMITS.maxSteps))
    .option('--max-batch <n>', 'largest input with the role "batch"', String(DEFAULT_LIMITS.maxBatch))
    .option('--max-resolution <n>', 'largest input with the role "width"/"height" (and "shape" dimension)', String(DEFAULT_LIMITS.maxResolution))
    .option('--max-particles <n>', 'largest input with the role "particles"', String(DEFAULT_LIMITS.maxParticles))
    .option('--max-nodes <n>', 'most nodes in a workflow', String(DEFAULT_LIMITS.maxNodes))
    .option('--max-body-bytes <size>', 'largest JSON request body', String(DEFAULT_LIMITS.bodyBytes))
    .option('--max-upload-bytes <size>', 'largest upload', String(DEFAULT_LIMITS.uploadBytes))
    .option('--max-workflow-bytes <size>', 'largest workflow', String(DEFAULT_LIMITS.workflowBytes))
    .option('--allow-origin <origin>', 'another origin that may change state (repeatable)', collect, [])
    .option('--allow-host <host>', 'another Host name to answer on loopback (repeatable)', collect, [])
    .option('--queue <url>', 'scale out: queue runs in BullMQ on this Redis (redis://HOST:PORT) for `diffgraph worker`s (docs/scale-out.md)')
    .option('--local-worker', 'with --queue: this process runs a worker too')
    .option('--dispatch <n>', 'with --queue: runs handed to workers at once; more wait in the queue (default 16)')
    .action(async (opts: Record<string, any>) => {
      const port = parseCount(opts.port);
      const limits: Partial<Limits> = {
        maxSteps: parseCount(opts.maxSteps), maxBatch: parseCount(opts.maxBatch), maxResolution: parseCount(opts.maxResolution),
        maxParticles: parseCount(opts.maxParticles), maxNodes: parseCount(opts.maxNodes),
        bodyBytes: parseBytes(opts.maxBodyBytes), uploadBytes: parseBytes(opts.maxUploadBytes), workflowBytes: parseBytes(opts.maxWorkflowBytes),
      };
      let sessionOptions;
      try {
        sessionOptions = await readSessionOptions(opts.sessionOptions);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      // Loaded here: the server (express, SQLite, ws, the ComfyUI API) is not needed by the other commands.
      const [{ ConfigError, startServer }, { EDITOR_BUILD_COMMAND }, { nodeDirsFromEnv }] = await Promise.all([import('./server.ts'), import('./app.ts'), pluginLoader()]);
      let server;
      try {
        server = await startServer({
          executionProvider: opts.device, sessionOptions,
          host: opts.host, port, token: opts.token ?? (process.env.DIFFGRAPH_TOKEN || undefined), modelsDir: opts.models, dataDir: opts.data,
          cacheBytes: parseBytes(opts.cacheBytes), maxRequeues: parseCount(opts.requeue), limits,
          allowedOrigins: opts.allowOrigin, allowedHosts: opts.allowHost,
          nodeDirs: [...opts.nodes, ...nodeDirsFromEnv(process.env.DIFFGRAPH_NODES)],
          queueUrl: opts.queue, localWorker: opts.localWorker === true, ...(opts.dispatch === undefined ? {} : { dispatchSlots: parseCount(opts.dispatch) }),
        });
      } catch (e) {
        if (e instanceof ConfigError) throw new UsageError(e.message);
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${opts.host} is in use (pick another with --port)`);
        throw e;
      }
      process.stdout.write(`diffgraph server listening on ${server.url} (data: ${opts.data}, models: ${opts.models}, device: ${server.device})\n`);
      if (!server.editorBuilt) process.stdout.write(`diffgraph: the editor is not built; run \`${EDITOR_BUILD_COMMAND}\` (or \`pnpm start\`) to get it at ${server.url}/ — the API works meanwhile\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          process.stderr.write(opts.queue ? 'diffgraph: shutting down (runs on workers go on; this node follows them again when it starts)\n' : 'diffgraph: shutting down (a running run goes back to the queue)\n');
          void server.close().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  program
    .command('worker')
    .description('Take runs from a `serve --queue` API node\'s BullMQ queue and run them (docs/scale-out.md)')
    .requiredOption('--queue <url>', 'the Redis of the queue (redis://HOST:PORT)')
    .option('--concurrency <n>', 'runs taken at once (they share this worker\'s executor and models)', '1')
    .option('--models <dir>', 'model folder (LoadPipeline, LoadOnnxModel)', 'models')
    .option('--data <dir>', 'the data folder shared with the API node (inputs are read, outputs staged there)', '.diffgraph')
    .option('--nodes <dir>', NODES_HELP, collect, [])
    .addOption(deviceOption())
    .addOption(sessionOptionsOption())
    .option('--cache-bytes <size>', 'output-cache budget (e.g. 512MB, 2GiB)', '1GiB')
    .option('--lock-seconds <n>', 'how long a taken run stays locked without renewal: another worker takes over a dead worker\'s run after about this long', '30')
    .option('--max-takeovers <n>', 'times a run whose worker died is taken over by another worker before it fails', '2')
    .option('--grace-seconds <n>', 'on SIGTERM/SIGINT the current run may finish for this long; then (or on a second signal) it is handed back to the queue for another worker', '60')
    .action(async (opts: Record<string, any>) => {
      const graceSeconds = parseCount(opts.graceSeconds);
      const lockSeconds = parseCount(opts.lockSeconds);
      if (lockSeconds < 1) throw new UsageError('--lock-seconds must be at least 1');
      const concurrency = parseCount(opts.concurrency);
      if (concurrency < 1) throw new UsageError('--concurrency must be at least 1');
      const { startWorker, redisConnection } = await import('./scale-out/index.ts');
      try {
        redisConnection(opts.queue);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const dataDir = path.resolve(opts.data);
      const { registry } = await commandRegistry([...opts.nodes, path.join(dataDir, 'nodes')]);
      const modelStore = await localModelStore(opts as Parameters<typeof localModelStore>[0]);
      const log = (line: string) => process.stderr.write(`diffgraph worker: ${line}\n`);
      const worker = await startWorker({ queueUrl: opts.queue, registry, concurrency, dataDir, modelsDir: path.resolve(opts.models), modelStore, cacheBytes: parseBytes(opts.cacheBytes), lockSeconds, maxTakeovers: parseCount(opts.maxTakeovers), log });
      process.stdout.write(`diffgraph worker ready (queue: ${opts.queue}, concurrency: ${concurrency}, data: ${opts.data}, device: ${modelStore.activeDevice()})\n`);
      await new Promise<void>((resolve) => {
        const handBack = () => {
          process.off('SIGINT', handBack);
          process.off('SIGTERM', handBack);
          log('handing the current run back to the queue');
          worker.handBack();
        };
        const stop = () => {
          // The next handlers first: with no listener left for a moment Node restores the default action, and a
          // second signal arriving then (e.g. right after the log line below) would kill the process.
          process.on('SIGINT', handBack);
          process.on('SIGTERM', handBack);
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          log(`shutting down: taking no new run, the current one may finish within ${graceSeconds}s (a second SIGTERM hands it back)`);
          setTimeout(handBack, graceSeconds * 1000).unref();
          void worker.drain().then(() => modelStore.close()).then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  program
    .command('models')
    .description('List the pipelines, single models and classifiers in the model folder (what GET /api/models answers)')
    .option('--models <dir>', 'model folder', 'models')
    .option('--json', 'print { models: [...] } as JSON')
    .action(async (opts: { models: string; json?: boolean }) => {
      const { modelCatalog } = await nodeLibrary();
      const models = modelCatalog([path.resolve(opts.models)]);
      process.stdout.write(opts.json ? `${JSON.stringify({ models }, null, 2)}\n` : formatCatalog(models, opts.models));
    });

  program
    .command('validate')
    .description('Check a workflow; exit 0 when valid, 1 when invalid (errors listed), 2 when unreadable')
    .argument('<workflow>', 'workflow JSON file')
    .option('--json', 'print the result as JSON')
    .option('--nodes <dir>', NODES_HELP, collect, [])
    .action(async (file: string, opts: { json?: boolean; nodes: string[] }) => {
      const [read, { validateWorkflow }, { registry }] = await Promise.all([readAnyWorkflowFile(file), engine(), commandRegistry(opts.nodes)]);
      const result = read.ok ? validateWorkflow(read.value, registry) : read;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result.ok ? { valid: true, outputs: result.outputs } : { valid: false, errors: result.errors }, null, 2)}\n`);
      } else if (result.ok) {
        process.stdout.write(`${file}: valid (outputs: ${result.outputs.join(', ')})\n`);
      } else {
        process.stdout.write(`${formatErrors(file, result.errors)}\n`);
      }
      process.exitCode = result.ok ? 0 : 1;
    });

  program
    .command('import')
    .description('Convert a ComfyUI workflow (API or UI format JSON, or a PNG ComfyUI saved) into a diffgraph workflow; a PNG of ours gives back its workflow')
    .argument('<file>', 'ComfyUI workflow JSON file, or a PNG with a workflow embedded')
    .option('--out <file>', 'write the workflow here instead of to stdout')
    .action(async (file: string, opts: { out?: string }) => {
      const [{ readImportedWorkflowFile }, { ComfyImportError }] = await Promise.all([workflowFiles(), comfy()]);
      const read = readImportedWorkflowFile(file);
      if (!read.ok) {
        process.stderr.write(`${formatErrors(file, read.errors)}\n`);
        process.exitCode = 1;
        return;
      }
      const { workflow, source, notes } = read.imported;
      if (source === 'diffgraph' && !read.png) {
        throw new ComfyImportError('COMFY_INVALID_WORKFLOW', 'This is already a diffgraph workflow (or not a workflow at all): there is nothing to import. Run or validate it directly.');
      }
      for (const note of notes) logComfy(`note: ${note}`);
      const text = `${JSON.stringify(workflow, null, 2)}\n`;
      if (opts.out) {
        mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
        writeFileSync(opts.out, text);
      }
      else process.stdout.write(text);
    });

  program
    .command('nodes')
    .description('List the node library with each node\'s pack; exit 1 when a node pack failed to load; --json prints every definition, the packs and the workflow JSON Schema')
    .option('--json', 'print definitions, packs and schema as JSON')
    .option('--nodes <dir>', NODES_HELP, collect, [])
    .action(async (opts: { json?: boolean; nodes: string[] }) => {
      const [{ workflowSchema }, { registry, plugins }, { nodeDescriptions }] = await Promise.all([engine(), commandRegistry(opts.nodes), pluginLoader()]);
      const defs = nodeDescriptions(registry);
      process.exitCode = plugins.failed.length > 0 ? 1 : 0;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ nodes: defs, packs: registry.packs(), packErrors: plugins.failed, schema: workflowSchema(registry) }, null, 2)}\n`);
        return;
      }
      for (const def of defs) {
        const inputs = Object.entries(def.inputs).map(([n, s]) => `${n}: ${s.type}${s.enum ? `{${s.enum.join('|')}}` : ''}${s.default !== undefined ? ` = ${JSON.stringify(s.default)}` : s.optional ? '?' : ''}`);
        const outputs = Object.entries(def.outputs).map(([n, s]) => `${n}: ${s.type}`);
        process.stdout.write(`${def.type}  [${def.category}] (${def.pack})${def.output ? ' (output)' : ''}\n  ${def.description}\n  in:  ${inputs.join(', ') || '—'}\n  out: ${outputs.join(', ') || '—'}\n`);
      }
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    return reportError(e);
  }
}

/** The exit code of an error a command threw, after printing it. */
async function reportError(e: unknown): Promise<number> {
  if (e instanceof UsageError) {
    process.stderr.write(`diffgraph: ${e.message}\n`);
    return 2;
  }
  // The classes of the lazily loaded modules: loaded already when one of them threw; a module that
  // failed to load makes the error an unexpected one.
  const loaded = await Promise.all([workflowFiles(), comfy(), engine(), import('./workflow-import.ts')]).catch(() => undefined);
  if (loaded) {
    const [{ UnreadableFileError }, { ComfyImportError }, { InvalidWorkflowError }, { WorkflowImportError }] = loaded;
    if (e instanceof UnreadableFileError) {
      process.stderr.write(`diffgraph: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ComfyImportError || e instanceof WorkflowImportError) {
      process.stderr.write(`diffgraph: ${e.code}: ${e.message}\n`);
      return 1;
    }
    if (e instanceof InvalidWorkflowError) {
      process.stderr.write(`${formatErrors('workflow', e.errors)}\n`);
      return 1;
    }
  }
  process.stderr.write(`diffgraph: unexpected error: ${(e as Error).message}\n${process.env.DIFFGRAPH_DEBUG ? (e as Error).stack : '(set DIFFGRAPH_DEBUG=1 for a stack trace)'}\n`);
  return 1;
}
