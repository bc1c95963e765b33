/**
 * Every path a workflow names is resolved inside a configured root, after following symlinks, so a
 * workflow cannot read or write elsewhere (`../../etc/passwd`, an absolute path, a planted link).
 */
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import path from 'node:path';

/**
 * Whether `target` is `root` itself or lies below it (both absolute and already resolved). Only a
 * `..` path segment leaves the root: a name inside it that merely starts with dots (`..x`) does not.
 */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/** The real path of the deepest existing ancestor, with the rest appended. */
export function realpathOfNearest(target: string): string {
  let existing = target;
  const rest: string[] = [];
  while (!existsSync(existing)) {
    rest.unshift(path.basename(existing));
    const parent = path.dirname(existing);
    if (parent === existing) break;
    existing = parent;
  }
  return path.join(realpathSync(existing), ...rest);
}

export function resolveInside(root: string, name: string, what = 'path'): string {
  if (name.includes('\0')) throw new Error(`${what} "${name}" contains a NUL byte`);
  mkdirSync(root, { recursive: true });
  const realRoot = realpathSync(root);
  const target = realpathOfNearest(path.resolve(realRoot, name));
  if (!isInside(realRoot, target)) throw new Error(`${what} "${name}" is outside the allowed folder ${root}`);
  return target;
}
