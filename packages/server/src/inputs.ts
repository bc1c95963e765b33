/**
 * The inputs folder as the editor sees it: the files a workflow can name there (listed for the
 * LoadImage / LoadMask / LoadTensor dropdowns), and the example workflows' own inputs, copied in at
 * start so that the bundled examples run from a fresh data folder.
 */
import { constants, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { isInside } from '@diffgraph/nodes';

export type InputType = 'image/png' | 'image/jpeg' | 'application/x-npy' | 'application/json';

export interface InputFile {
  /** Relative to the inputs folder, `/`-separated: what a loader's `path` input takes. */
  name: string;
  bytes: number;
  type: InputType;
  /** Last modification, ms since the epoch. */
  mtime: number;
}

const TYPES: Record<string, InputType> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.npy': 'application/x-npy', '.json': 'application/json' };
const MAX_DEPTH = 4;
const MAX_ENTRIES = 20_000;

/** The type of an input file by its name (uploads are named by their content's type), or undefined. */
export function inputTypeOf(name: string): InputType | undefined {
  return TYPES[path.extname(name).toLowerCase()];
}

/**
 * Files a loader can open in `root`, newest first. Hidden entries and unfinished uploads are left
 * out; a link whose real path leaves the folder is neither listed nor followed, as the loaders refuse it.
 */
export function listInputs(root: string): InputFile[] {
  const out: InputFile[] = [];
  if (!existsSync(root)) return out;
  const realRoot = realpathSync(root);
  let seen = 0;
  const walk = (dir: string, prefix: string, depth: number) => {
    for (const entry of readdirSync(dir).sort()) {
      if (++seen > MAX_ENTRIES) return;
      if (entry.startsWith('.') || entry.endsWith('.part')) continue;
      const full = path.join(dir, entry);
      let real: string;
      try {
        real = realpathSync(full);
      } catch {
        continue; // A dangling link.
      }
      if (!isInside(realRoot, real)) continue;
      const stat = statSync(real);
      const name = prefix ? `${prefix}/${entry}` : entry;
      if (stat.isDirectory()) {
        if (depth < MAX_DEPTH) walk(full, name, depth + 1);
        continue;
      }
      const type = inputTypeOf(entry);
      if (stat.isFile() && type) out.push({ name, bytes: stat.size, type, mtime: Math.round(stat.mtimeMs) });
    }
  };
  walk(root, '', 1);
  return out.sort((a, b) => b.mtime - a.mtime || a.name.localeCompare(b.name));
}

/**
 * Copies the files of `from` (the examples' `data` folder) into `<inputs>/data`, where the example
 * workflows name them (`data/red-circle.png`). A file already there is left alone, so nothing a user
 * put or changed there is overwritten; links are not followed. Returns the names copied.
 */
export function seedExampleInputs(from: string, inputsRoot: string): string[] {
  const copied: string[] = [];
  if (!existsSync(from)) return copied;
  const copy = (src: string, dest: string, rel: string) => {
    for (const entry of readdirSync(src)) {
      if (entry.startsWith('.')) continue;
      const s = path.join(src, entry);
      const d = path.join(dest, entry);
      const stat = lstatSync(s);
      if (stat.isDirectory()) copy(s, d, `${rel}/${entry}`);
      else if (stat.isFile() && inputTypeOf(entry) && !lstatSync(d, { throwIfNoEntry: false })) {
        mkdirSync(dest, { recursive: true });
        copyFileSync(s, d, constants.COPYFILE_EXCL);
        copied.push(`${rel}/${entry}`);
      }
    }
  };
  copy(from, path.join(inputsRoot, 'data'), 'data');
  return copied;
}
