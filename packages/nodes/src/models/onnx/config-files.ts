/** Reading a pipeline's JSON config files, with errors that name the file. */
import { existsSync, readFileSync } from 'node:fs';

export type Json = Record<string, unknown>;

export function readJson(file: string, what: string): Json {
  if (!existsSync(file)) throw new Error(`${what}: ${file} is missing`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${what}: ${file} is not valid JSON (${(e as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what}: ${file} must hold a JSON object`);
  return value as Json;
}

/** The config if the file exists, else an empty object (diffusers configs are all optional extras). */
export function readOptionalJson(file: string, what: string): Json {
  return existsSync(file) ? readJson(file, what) : {};
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
