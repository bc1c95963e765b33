/**
 * Reading a model pack's files (JSON configs, tokenizer files), with errors that name the file. Each
 * file is confined to the model roots after symlinks before it is read, as ONNX files are: a planted
 * link must not leak the start of a file elsewhere through a parse error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { confineToRoots } from '../../runtime/model-paths.ts';

export type Json = Record<string, unknown>;

/** The folders a pack's files must lie in (the model store's roots). */
export type ModelRoots = readonly string[];

export function readText(roots: ModelRoots, file: string, what: string): string {
  if (!existsSync(file)) throw new Error(`${what}: ${file} is missing`);
  return readFileSync(confineToRoots(roots, file, `${what}: file`), 'utf8');
}

export function readJson(roots: ModelRoots, file: string, what: string): Json {
  const text = readText(roots, file, what);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${what}: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: ${file} must hold a JSON object`);
  return value as Json;
}

/** The config if the file exists, else an empty object (diffusers configs are all optional extras). */
export function readOptionalJson(roots: ModelRoots, file: string, what: string): Json {
  return existsSync(file) ? readJson(roots, file, what) : {};
}

export function numberField(cfg: Json, key: string, file: string, fallback: number): number {
  const v = cfg[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: "${key}" must be a number, found ${JSON.stringify(v)}`);
  return v;
}

export function stringField(cfg: Json, key: string, file: string): string | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${file}: "${key}" must be a string, found ${JSON.stringify(v)}`);
  return v;
}
