/**
 * The model store (DESIGN §7): resolves names inside the model roots, loads each ONNX file once and
 * shares the session between nodes and runs, evicts least recently used sessions beyond a count or
 * byte budget, and picks the execution provider (CUDA when installed, else CPU, logged once).
 */
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { planProviders, type ProviderChoice, type ProviderPlan } from './execution-providers.ts';
import { isInside } from '../io/paths.ts';
import { confineToRoots, realRoots, resolveModelPath } from './model-paths.ts';
import { OnnxSession, type SessionSource } from './onnx-session.ts';
import { sessionOptionsFor, toOrtSessionOptions, type SessionOptionsConfig } from './session-options.ts';

export interface ModelStoreOptions {
  /** Folders model names are resolved in (first match wins). */
  roots: readonly string[];
  /** Sessions kept loaded (default 8). */
  maxSessions?: number;
  /** Bytes of model files kept loaded (default 8 GiB). */
  maxBytes?: number;
  /** Threads inside one operator (default: the machine's available parallelism). */
  intraOpThreads?: number;
  /** Threads across independent operators (default 1: our graphs run sequentially). */
  interOpThreads?: number;
  executionProvider?: ProviderChoice;
  /** Per-model onnxruntime options (session-options.ts); their thread counts override the two above. */
  sessionOptions?: SessionOptionsConfig;
  /** Where load and provider notices go (in addition to the per-call logger). */
  log?: (message: string) => void;
}

type Log = (message: string) => void;

interface Entry {
  file: string;
  bytes: number;
  loading: Promise<ort.InferenceSession>;
  session?: ort.InferenceSession;
  inUse: number;
  evicted: boolean;
}

/**
 * External weights live beside the graph (SD's UNet: weights.pb); count them in the byte budget. They
 * are confined like the graph, since onnxruntime reads them too.
 */
function modelBytes(roots: readonly string[], file: string): number {
  const dir = path.dirname(file);
  const base = path.basename(file);
  let bytes = statSync(file).size;
  for (const extra of ['weights.pb', `${base}.data`, `${base}_data`]) {
    const p = path.join(dir, extra);
    if (existsSync(p)) bytes += statSync(confineToRoots(roots, p, 'external weights')).size;
  }
  return bytes;
}

function explainLoadError(file: string, e: unknown): Error {
  const message = (e as Error)?.message ?? String(e);
  const hint = /protobuf parsing failed|parse/i.test(message) ? ' (the file is not a valid ONNX model: corrupt, truncated or another format?)' : '';
  return new Error(`cannot load ONNX model ${file}: ${message}${hint}`);
}

export class ModelStore implements SessionSource {
  readonly roots: readonly string[];
  /** Sessions created (a reload after eviction counts again); tests check sharing with it. */
  loads = 0;
  private readonly entries = new Map<string, Entry>();
  private readonly parsed = new Map<string, { fingerprint: string; value: Promise<unknown> }>();
  private readonly options: Required<Omit<ModelStoreOptions, 'log' | 'roots' | 'sessionOptions'>>;
  private readonly perModel?: SessionOptionsConfig;
  private readonly log?: Log;
  private plan?: ProviderPlan;
  /** The plan's notice goes out with the first load (into that run's log), not when a host checks it. */
  private announced = false;
  private cudaFailed = false;

  constructor(options: ModelStoreOptions) {
    this.roots = [...options.roots];
    this.log = options.log;
    this.perModel = options.sessionOptions;
    this.options = {
      maxSessions: options.maxSessions ?? 8,
      maxBytes: options.maxBytes ?? 8 * 2 ** 30,
      intraOpThreads: options.intraOpThreads ?? availableParallelism(),
      interOpThreads: options.interOpThreads ?? 1,
      executionProvider: options.executionProvider ?? 'auto',
    };
  }

  /**
   * The execution providers sessions will use, decided once. Throws when CUDA was asked for and is
   * not installed, so a host can refuse at start-up rather than on the first model it loads.
   */
  providerPlan(): ProviderPlan {
    this.plan ??= planProviders(this.options.executionProvider);
    return this.plan;
  }

  /** The device sessions run on now (cpu after a CUDA failure made the store fall back). */
  activeDevice(): 'cuda' | 'cpu' {
    return this.providerPlan().providers.includes('cuda') && !this.cudaFailed ? 'cuda' : 'cpu';
  }

  /** The real path of a model name (file or folder) inside the roots. */
  resolve(name: string, what = 'model'): string {
    return resolveModelPath(this.roots, name, what);
  }

  /** Loads (or shares) the session of a file that must lie inside the roots. */
  async open(file: string, log?: Log): Promise<OnnxSession> {
    const real = confineToRoots(this.roots, file, 'ONNX model');
    const session = await this.entryOf(real, log).loading;
    return new OnnxSession(this, real, session);
  }

  async borrow(file: string): Promise<{ session: ort.InferenceSession; done: () => void }> {
    const entry = this.entryOf(file);
    entry.inUse++;
    let session: ort.InferenceSession;
    try {
      session = await entry.loading;
    } catch (e) {
      entry.inUse--;
      throw e;
    }
    let released = false;
    return {
      session,
      done: () => {
        if (released) return;
        released = true;
        entry.inUse--;
        if (entry.evicted && entry.inUse === 0) void entry.session?.release();
      },
    };
  }

  /**
   * What `load` builds from a model folder's files (a pipeline's configs, tokenizer and session
   * wrappers), shared across runs and executors while the folder's `fingerprint` stays the same, so a
   * fresh executor does not re-read and re-parse them. A failed load is not kept; at most `maxSessions`
   * are, least recently used dropped first.
   */
  shared<T>(key: string, fingerprint: string, load: () => Promise<T>): Promise<T> {
    const hit = this.parsed.get(key);
    this.parsed.delete(key);
    if (hit && hit.fingerprint === fingerprint) {
      this.parsed.set(key, hit);
      return hit.value as Promise<T>;
    }
    const entry = { fingerprint, value: load() };
    this.parsed.set(key, entry);
    entry.value.catch(() => this.parsed.get(key) === entry && this.parsed.delete(key));
    for (const oldest of this.parsed.keys()) {
      if (this.parsed.size <= this.options.maxSessions) break;
      this.parsed.delete(oldest);
    }
    return entry.value;
  }

  /** Files loaded now, least recently used first. */
  loaded(): string[] {
    return [...this.entries.keys()];
  }

  /** Releases every session that is not running (the host calls this on shutdown). */
  async close(): Promise<void> {
    this.parsed.clear();
    const entries = [...this.entries.values()];
    this.entries.clear();
    for (const e of entries) {
      e.evicted = true;
      if (e.inUse === 0) await (await e.loading.catch(() => undefined))?.release();
    }
  }

  private entryOf(file: string, log?: Log): Entry {
    let entry = this.entries.get(file);
    if (entry) {
      // Map order is recency: move to the end.
      this.entries.delete(file);
      this.entries.set(file, entry);
    } else {
      entry = { file, bytes: modelBytes(this.roots, file), loading: this.create(file, log), inUse: 0, evicted: false };
      this.entries.set(file, entry);
      const e = entry;
      e.loading.then((s) => (e.session = s), () => this.entries.get(file) === e && this.entries.delete(file));
      this.evict(file);
    }
    return entry;
  }

  private say(message: string, log?: Log): void {
    this.log?.(message);
    if (log && log !== this.log) log(message);
  }

  /** The file's name relative to the root that holds it: what per-model session options are keyed by. */
  private modelName(file: string): string | undefined {
    const root = realRoots(this.roots).find((r) => isInside(r, file));
    return root === undefined ? undefined : path.relative(root, file).split(path.sep).join('/');
  }

  private sessionOptions(file: string, providers: readonly ('cuda' | 'cpu')[]): ort.InferenceSession.SessionOptions {
    return toOrtSessionOptions(sessionOptionsFor(this.perModel, this.modelName(file)), providers, this.options);
  }

  private async create(file: string, log?: Log): Promise<ort.InferenceSession> {
    const plan = this.providerPlan();
    if (!this.announced) {
      this.announced = true;
      this.say(plan.notice, log);
    }
    const started = Date.now();
    const useCuda = plan.providers.includes('cuda') && !this.cudaFailed;
    let session: ort.InferenceSession;
    try {
      // By path, never by buffer: SD's UNet keeps its weights in a separate weights.pb beside the graph.
      session = await ort.InferenceSession.create(file, this.sessionOptions(file, useCuda ? ['cuda', 'cpu'] : ['cpu']));
    } catch (e) {
      if (!useCuda || this.options.executionProvider === 'cuda') throw explainLoadError(file, e);
      this.cudaFailed = true;
      this.say(`onnxruntime: the CUDA execution provider failed for ${file} (${(e as Error).message.split('\n')[0]}); falling back to CPU`, log);
      try {
        session = await ort.InferenceSession.create(file, this.sessionOptions(file, ['cpu']));
      } catch (e2) {
        throw explainLoadError(file, e2);
      }
    }
    this.loads++;
    this.say(`loaded ${file} on ${useCuda && !this.cudaFailed ? 'cuda' : 'cpu'} in ${Date.now() - started} ms`, log);
    return session;
  }

  /** Drops least recently used sessions (never `keep`) until within budget; busy ones close when idle. */
  private evict(keep: string): void {
    let bytes = [...this.entries.values()].reduce((s, e) => s + e.bytes, 0);
    for (const [file, e] of this.entries) {
      if (this.entries.size <= this.options.maxSessions && bytes <= this.options.maxBytes) break;
      if (file === keep) continue;
      this.entries.delete(file);
      bytes -= e.bytes;
      e.evicted = true;
      if (e.inUse === 0) void e.loading.then((s) => s.release(), () => undefined);
    }
  }
}
