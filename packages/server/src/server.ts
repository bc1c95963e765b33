/** Starting and stopping the server: folders, SQLite, the run manager, HTTP and WebSocket. */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeRegistry } from '@diffgraph/engine';
import { createRegistry, cudaProviderInstalled, ModelStore, type HostServices, type ProviderChoice, type SessionOptionsConfig } from '@diffgraph/nodes';
import { createApp } from './app.ts';
import { DEFAULT_LIMITS, type Limits, type RootKind } from './guard.ts';
import { RunManager } from './runs.ts';
import { isLoopbackHost, LOOPBACK_NAMES, type SecurityOptions } from './security.ts';
import { RunStore } from './store.ts';
import { EventHub } from './ws.ts';
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
  /** The built editor to serve at `/` (default: dist/ of the @diffgraph/editor package, packages/editor/dist here). */
  editorDir?: string;
  /** The node library (default: every built-in pack); its nodes may read the services a run gets. */
  registry?: NodeRegistry<HostServices>;
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
  for (const dir of [dataDir, roots.inputs, roots.outputs]) mkdirSync(dir, { recursive: true });
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const registry = options.registry ?? createRegistry();
  const configured = options.executionProvider ?? 'auto';
  const modelStore = new ModelStore({ roots: [roots.models], executionProvider: configured, sessionOptions: options.sessionOptions, log });
  try {
    modelStore.providerPlan();
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  const store = new RunStore(path.join(dataDir, 'diffgraph.db'));
  const cacheBytes = options.cacheBytes ?? 1024 ** 3;
  const manager = new RunManager({
    registry, store, limits, roots, stagingDir: path.join(dataDir, 'staging'), cacheBytes, maxRequeues: options.maxRequeues ?? 1, log, modelStore,
  });
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
      queue: { queued: counts.queued, running: counts.running },
      runs: counts,
      cache: manager.cacheStats,
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      limits: { ...limits },
      uptimeSeconds: (Date.now() - started) / 1000,
      auth: token !== undefined,
    };
  };
  const { app } = createApp({ registry, manager, security, limits, roots, editorDir: options.editorDir ?? editorBundleDir(), version: SERVER_VERSION, health, workflowsDir: path.join(dataDir, 'workflows') });
  const http = createServer(app);
  http.requestTimeout = 60_000;
  const hub = new EventHub(manager, security, { limits: options.wsLimits });
  hub.attach(http);
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
    url, port, host, http, manager, hub, store, roots, device: modelStore.activeDevice(),
    close() {
      closing ??= (async () => {
        await manager.close();
        hub.close();
        http.closeAllConnections();
        await new Promise<void>((resolve) => http.close(() => resolve()));
        store.close();
        await modelStore.close();
      })();
      return closing;
    },
  };
}
