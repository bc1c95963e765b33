/**
 * onnxruntime session options chosen by whoever runs the host (`--session-options` on `diffgraph run`
 * and `serve`), never by a workflow: thread counts and memory arenas are the machine's business. One
 * set applies to every model, and entries keyed by a model name (a folder or file inside the model
 * roots, as a loader's `path` names it) override it; the longest matching name wins, merged over the
 * shorter ones, so `"sd15": {…}` covers a whole pipeline and `"sd15/unet": {…}` just its UNet.
 */
import type * as ort from 'onnxruntime-node';

export interface ModelSessionOptions {
  /** onnxruntime's graph optimisation level (default "all"). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Threads inside one operator (default: the machine's available parallelism). */
  intraOpThreads?: number;
  /** Threads across independent operators (default 1: our graphs run sequentially). */
  interOpThreads?: number;
  /** onnxruntime's CPU memory arena (default true): faster repeated runs, memory held between them. */
  memoryArena?: boolean;
  /** Pre-planned memory reuse for static shapes (default true). */
  memoryPattern?: boolean;
  /** Which GPU the CUDA execution provider uses (default 0). */
  cudaDeviceId?: number;
}

export interface SessionOptionsConfig {
  default?: ModelSessionOptions;
  models?: Record<string, ModelSessionOptions>;
}

const LEVELS = ['disabled', 'basic', 'extended', 'all'] as const;
const KEYS: Record<keyof ModelSessionOptions, (v: unknown) => boolean> = {
  graphOptimizationLevel: (v) => (LEVELS as readonly unknown[]).includes(v),
  intraOpThreads: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 1024,
  interOpThreads: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 1024,
  memoryArena: (v) => typeof v === 'boolean',
  memoryPattern: (v) => typeof v === 'boolean',
  cudaDeviceId: (v) => Number.isInteger(v) && (v as number) >= 0,
};
const EXPECTED: Record<keyof ModelSessionOptions, string> = {
  graphOptimizationLevel: `one of ${LEVELS.join(', ')}`,
  intraOpThreads: 'a whole number from 0 (onnxruntime picks) to 1024',
  interOpThreads: 'a whole number from 0 (onnxruntime picks) to 1024',
  memoryArena: 'true or false',
  memoryPattern: 'true or false',
  cudaDeviceId: 'a whole number ≥ 0',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkOptions(value: unknown, where: string): ModelSessionOptions {
  if (!isObject(value)) throw new Error(`${where} must be an object of session options (${Object.keys(KEYS).join(', ')})`);
  for (const [key, v] of Object.entries(value)) {
    const check = KEYS[key as keyof ModelSessionOptions];
    if (!check) {
      const fp16 = key.toLowerCase().includes('fp16') ? ': precision is the exported model\'s (docs/gpu.md), not a session option' : '';
      throw new Error(`${where}: unknown session option "${key}"${fp16} (known: ${Object.keys(KEYS).join(', ')})`);
    }
    if (!check(v)) throw new Error(`${where}.${key} must be ${EXPECTED[key as keyof ModelSessionOptions]}, found ${JSON.stringify(v)}`);
  }
  return value as ModelSessionOptions;
}

/** Checks a parsed `--session-options` document; errors name the offending key. */
export function parseSessionOptions(value: unknown): SessionOptionsConfig {
  if (!isObject(value)) throw new Error('session options must be a JSON object: { "default": {…}, "models": { "<model name>": {…} } }');
  for (const key of Object.keys(value)) if (key !== 'default' && key !== 'models') throw new Error(`session options: unknown key "${key}" (expected "default" and "models")`);
  const config: SessionOptionsConfig = {};
  if (value.default !== undefined) config.default = checkOptions(value.default, 'session options "default"');
  if (value.models !== undefined) {
    if (!isObject(value.models)) throw new Error('session options "models" must map model names to session options');
    config.models = {};
    for (const [name, options] of Object.entries(value.models)) {
      if (name === '' || name.startsWith('/') || name.split('/').includes('..')) throw new Error(`session options "models": "${name}" is not a model name inside the model roots`);
      config.models[name.replace(/\/+$/, '')] = checkOptions(options, `session options "models"."${name}"`);
    }
  }
  return config;
}

/** The options of one model file, named relative to its root with `/` separators. */
export function sessionOptionsFor(config: SessionOptionsConfig | undefined, name: string | undefined): ModelSessionOptions {
  const matching = Object.entries(config?.models ?? {})
    .filter(([key]) => name !== undefined && (name === key || name.startsWith(`${key}/`)))
    .sort(([a], [b]) => a.length - b.length);
  return Object.assign({}, config?.default, ...matching.map(([, options]) => options));
}

/** onnxruntime's form of the options, with the providers planned for the session. */
export function toOrtSessionOptions(options: ModelSessionOptions, providers: readonly ('cuda' | 'cpu')[], defaults: { intraOpThreads: number; interOpThreads: number }): ort.InferenceSession.SessionOptions {
  const arena = options.memoryArena ?? true;
  return {
    executionProviders: providers.map((p) => (p === 'cuda' ? { name: 'cuda', deviceId: options.cudaDeviceId ?? 0 } : { name: 'cpu', useArena: arena })),
    intraOpNumThreads: options.intraOpThreads ?? defaults.intraOpThreads,
    interOpNumThreads: options.interOpThreads ?? defaults.interOpThreads,
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
    enableCpuMemArena: arena,
    enableMemPattern: options.memoryPattern ?? true,
    executionMode: 'sequential',
  };
}
