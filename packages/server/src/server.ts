/** Starting and stopping the server: folders, SQLite, the run manager, HTTP and WebSocket. */
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeRegistry } from '@diffgraph/engine';
import { cudaProviderInstalled, ModelStore, type HostServices, type ProviderChoice, type SessionOptionsConfig } from '@diffgraph/nodes';
import { createApp } from './app.ts';
import { buildRegistry, formatPackFailure, type PluginReport } from './plugins.ts';
import { seedExampleInputs } from './inputs.ts';
import { DEFAULT_LIMITS, type Limits, type RootKind } from './guard.ts';
import { RunManager } from './runs.ts';
import { isLoopbackHost, LOOPBACK_NAMES, type SecurityOptions } from './security.ts';
import { RunStore } from './store.ts';
import { EventHub } from './ws.ts';
import { ComfyBridge } from './comfy/bridge.ts';
import { COMFY_WS_PATH, ComfyHub } from './comfy/comfy-ws.ts';
import { SERVER_VERSION } from './version.ts';
import type { WsLimits } from './ws-client.ts';

export interface ServerOptions {
  /** Default 127.0.0.1. Anything that is not loopback needs a token. */
  host?: string;
  /** Default 8188; 0 picks a free port. */
  port?: number;
  token?: string;
  /** Folder of models (LoadPipeline, LoadOnnxModel); default ./models. */
  modelsDir?: string;
  /** Folder of the database, uploads/inputs and outputs; default ./.diffgraph. */
  dataDir?: string;
  /** Output-cache budget in bytes (default 1 GiB). */
  cacheBytes?: number;
  limits?: Partial<Limits>;
  /** Limits on what one WebSocket client can make the server hold (docs/api.md, ws-client.ts). */
  wsLimits?: Partial<WsLimits>;
  /** Times a run interrupted by a crash is re-queued (default 1; 0: never, it stays `interrupted`). */
  maxRequeues?: number;
  /** Extra Host names accepted besides loopback names (for a reverse proxy). */
  allowedHosts?: string[];
  /** Origins besides the server's own that may change state (e.g. a dev editor). */
  allowedOrigins?: string[];
  /** Where models run (`--device`): auto = CUDA when its provider is installed, else CPU; cuda = CUDA or refuse to start. */
  executionProvider?: ProviderChoice;
  /** Per-model onnxruntime options (`--session-options`, docs/gpu.md). */
  sessionOptions?: SessionOptionsConfig;
  /** The built editor to serve at `/` (default: $DIFFGRAPH_EDITOR_DIR, else dist/ of the @diffgraph/editor package, packages/editor/dist here). */
  editorDir?: string;
  /** Folders of node packs to load besides `<data>/nodes` (`--nodes`, `DIFFGRAPH_NODES`; docs/custom-nodes.md). */
  nodeDirs?: string[];
  /** Folder whose files are copied into `<inputs>/data` at start, where the example workflows name them (default: the repository's workflows/data; false: none). */
  exampleInputs?: string | false;
  /**
   * The node library; its nodes may read the services a run gets. Default: the built-in nodes plus the
   * packs of `nodeDirs` and `<data>/nodes`.
   */
  registry?: NodeRegistry<HostServices>;
  /** `--queue redis://…`: runs go to BullMQ workers (docs/scale-out.md) instead of this process's executor. */
  queueUrl?: string;
  /** With `queueUrl`: runs handed to workers at once (`--dispatch`, default 16). */
  dispatchSlots?: number;
  /** With `queueUrl`: this process also runs a worker (`--local-worker`). */
  localWorker?: boolean;
  log?: (line: string) => void;
}

export interface RunningServer {
  url: string;
  port: number;
  host: string;
  http: Server;
  manager: RunManager;
  hub: EventHub;
  store: RunStore;
  roots: Record<RootKind, string>;
  /** Where models run (`--device` resolved: cuda or cpu). */
  device: 'cuda' | 'cpu';
  /** Whether the editor bundle exists now (`/` serves a page saying what to run while it does not). */
  readonly editorBuilt: boolean;
  /** The node packs loaded and those skipped (empty when a registry was passed in). */
  plugins: PluginReport;
  close(): Promise<void>;
}

export class ConfigError extends Error {}

const here = path.dirname(fileURLToPath(import.meta.url));
/** The editor bundle: dist/ of the @diffgraph/editor package (built by vite), wherever it is installed. */
function editorBundleDir(): string {
  try {
    return path.join(path.dirname(createRequire(import.meta.url).resolve('@diffgraph/editor/package.json')), 'dist');
  } catch {
    return path.resolve(here, '..', '..', 'editor', 'dist');
  }
}
const EXAMPLE_INPUTS = path.resolve(here, '..', '..', '..', 'workflows', 'data');

export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? undefined;
  const loopback = isLoopbackHost(host);
  if (!loopback && !token) {
    throw new ConfigError(`Refusing to listen on ${host} without a token: anyone who can reach it could run workflows. Pass --token (or DIFFGRAPH_TOKEN), or bind 127.0.0.1.`);
  }
  if (token !== undefined && token.length < 16) throw new ConfigError('The token must be at least 16 characters.');
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = path.resolve(options.dataDir ?? '.diffgraph');
  const roots: Record<RootKind, string> = {
    inputs: path.join(dataDir, 'inputs'),
    outputs: path.join(dataDir, 'outputs'),
    models: path.resolve(options.modelsDir ?? 'models'),
  };
  for (const dir of [dataDir, roots.inputs, roots.outputs, path.join(dataDir, 'nodes')]) mkdirSync(dir, { recursive: true });
  if (options.exampleInputs !== false) seedExampleInputs(options.exampleInputs ?? EXAMPLE_INPUTS, roots.inputs);
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const { registry, plugins } = options.registry
    ? { registry: options.registry, plugins: { loaded: [], failed: [] } }
    : await loadNodeLibrary([...(options.nodeDirs ?? []), path.join(dataDir, 'nodes')], log);
  const configured = options.executionProvider ?? 'auto';
  const modelStore = new ModelStore({ roots: [roots.models], executionProvider: configured, sessionOptions: options.sessionOptions, log });
  try {
    modelStore.providerPlan();
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const store = new RunStore(path.join(dataDir, 'diffgraph.db'));
  const cacheBytes = options.cacheBytes ?? 1024 ** 3;
  if (options.localWorker && !options.queueUrl) throw new ConfigError('--local-worker needs --queue redis://HOST:PORT');
  if (options.dispatchSlots !== undefined && (!options.queueUrl || options.dispatchSlots < 1)) throw new ConfigError(options.queueUrl ? '--dispatch must be at least 1' : '--dispatch needs --queue redis://HOST:PORT');
  // Loaded only for --queue: BullMQ and its Redis client are not needed on a single machine.
  const scaleOut = options.queueUrl ? await import('./scale-out/index.ts') : undefined;
  if (scaleOut && options.queueUrl) {
    try {
      scaleOut.redisConnection(options.queueUrl);
    } catch (e) {
      throw new ConfigError((e as Error).message);
    }
  }
  const dispatcher = scaleOut && options.queueUrl ? await scaleOut.BullmqDispatcher.connect(options.queueUrl, options.dispatchSlots ?? 16, registry, log) : undefined;
  const manager = new RunManager({
    registry, store, limits, roots, stagingDir: path.join(dataDir, 'staging'), cacheDir: path.join(dataDir, 'cache'), cacheBytes, maxRequeues: options.maxRequeues ?? 1, log, modelStore,
    ...(dispatcher ? { dispatcher } : {}),
  });
  const worker = scaleOut && options.queueUrl && options.localWorker
    ? await scaleOut.startWorker({ queueUrl: options.queueUrl, registry, concurrency: 1, dataDir, modelsDir: roots.models, modelStore, cacheBytes, log })
    : undefined;
  const security: SecurityOptions = {
    token,
    // Loopback: only loopback Host names (no DNS rebinding). Beyond loopback the token guards.
    allowedHosts: loopback ? [...LOOPBACK_NAMES, ...(options.allowedHosts ?? [])] : (options.allowedHosts?.length ? options.allowedHosts : null),
    allowedOrigins: options.allowedOrigins ?? [],
  };
  const started = Date.now();
  const health = () => {
    const counts = store.counts();
    const mem = process.memoryUsage();
    return {
      status: 'ok',
      versions: {
        diffgraph: SERVER_VERSION,
        node: process.versions.node,
        sqlite: (store.db.prepare('SELECT sqlite_version() AS v').get() as { v: string }).v,
      },
      executionProvider: { active: modelStore.activeDevice(), configured, cudaInstalled: cudaProviderInstalled() },
      queue: { queued: counts.queued, running: counts.running, ...(dispatcher ? { dispatch: dispatcher.health() } : {}) },
      runs: counts,
      cache: manager.cacheStats,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      limits: { ...limits },
      uptimeSeconds: (Date.now() - started) / 1000,
      auth: token !== undefined,
    };
  };
  const editorDir = options.editorDir ?? (process.env.DIFFGRAPH_EDITOR_DIR || editorBundleDir());
  const bridge = new ComfyBridge(manager, path.join(dataDir, 'temp'), log);
  const comfy = { bridge, device: () => modelStore.activeDevice() };
  const { app } = createApp({ registry, manager, security, limits, roots, editorDir, version: SERVER_VERSION, health, workflowsDir: path.join(dataDir, 'workflows'), plugins, comfy, ...(dispatcher ? { workers: () => dispatcher.workers() } : {}) });
  const http = createServer(app);
  http.requestTimeout = 60_000;
  const hub = new EventHub(manager, security, { limits: options.wsLimits });
  const comfyHub = new ComfyHub(bridge, options.wsLimits);
  hub.attach(http, { [COMFY_WS_PATH]: (req, socket, head) => comfyHub.handleUpgrade(req, socket, head) });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(options.port ?? 8188, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const port = (http.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  manager.start();
  let closing: Promise<void> | undefined;
  return {
    url, port, host, http, manager, hub, store, roots, device: modelStore.activeDevice(), plugins,
    get editorBuilt() { return existsSync(path.join(editorDir, 'index.html')); },
    close() {
      closing ??= (async () => {
        await manager.close();
        // Its runs go back to the queue for another worker (or for this node once it is back), not cancelled.
        worker?.handBack();
        await worker?.close();
        hub.close();
        comfyHub.close();
        bridge.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        store.close();
        await modelStore.close();
      })();
      return closing;
    },
  };
}

/** The built-in nodes and the packs of `dirs`, each pack loaded or skipped written to the log. */
async function loadNodeLibrary(dirs: string[], log: (line: string) => void): ReturnType<typeof buildRegistry> {
  const built = await buildRegistry(dirs);
  for (const pack of built.plugins.loaded) {
    log(`loaded node pack "${pack.name}"${pack.version ? ` ${pack.version}` : ''} (${pack.path}): ${pack.nodes.join(', ')}`);
  }
  for (const failure of built.plugins.failed) log(formatPackFailure(failure));
  return built;
}
