/**
 * Output file names for SaveImage: a sanitized prefix plus a 5-digit counter, created exclusively so
 * that no existing file (or planted symlink) is ever overwritten, even by two runs saving at once.
 */
import { openSync, closeSync, readdirSync, writeSync, mkdirSync } from 'node:fs';
import path from 'node:path';

const MAX_PREFIX = 80;

/**
 * A file-name prefix safe on every OS: only letters, digits, '-', '_' and single inner dots; path
 * separators and any other character become '_' (runs collapsed, none at the ends), so a prefix can
 * never name another folder ("..", "a/b", "C:\x") or a hidden file. Empty results fall back to `fallback`.
 */
export function sanitizePrefix(prefix: string, fallback = 'diffgraph'): string {
  let s = prefix.normalize('NFKC').replace(/[^A-Za-z0-9._-]/g, '_');
  s = s.replace(/\.{2,}/g, '_').replace(/_{2,}/g, '_').replace(/^[._-]+|[._-]+$/g, '');
  s = s.slice(0, MAX_PREFIX).replace(/[._-]+$/, '');
  return s === '' ? fallback : s;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Writes `bytes` to `<dir>/<prefix>_<NNNNN><ext>` with the next free counter (one past the largest
 * already there), creating the file with O_EXCL so nothing is overwritten; on a collision it tries
 * the next number. Returns the path written.
 */
export function writeNumbered(dir: string, prefix: string, ext: string, bytes: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  const pattern = new RegExp(`^${escapeRegExp(prefix)}_(\\d{5,})${escapeRegExp(ext)}$`);
  let counter = 1;
  for (const name of readdirSync(dir)) {
    const m = pattern.exec(name);
    if (m) counter = Math.max(counter, Number(m[1]) + 1);
  }
  for (let attempt = 0; attempt < 1000; attempt++, counter++) {
    const file = path.join(dir, `${prefix}_${String(counter).padStart(5, '0')}${ext}`);
    let fd: number;
    try {
      fd = openSync(file, 'wx'); // O_CREAT | O_EXCL: fails on any existing entry, links included
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    try {
      writeSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    return file;
  }
  throw new Error(`no free file name for "${prefix}" in ${dir} after 1000 tries`);
}
