/**
 * Model names are resolved inside the configured model roots only, after following symlinks, so a
 * workflow cannot load `../../somewhere` or a planted link that points out of the roots. Messages never
 * name where an escaping link points: that is a path outside every root.
 */
import { existsSync, realpathSync as jsRealpathSync } from 'node:fs';
import path from 'node:path';
import { isInside } from '../io/paths.ts';

// One realpath(3) call instead of an lstat per path component in JavaScript: a pipeline load confines
// a dozen files, each several folders deep.
const realpathSync = jsRealpathSync.native;

/** The real paths of the roots that exist (a missing root simply holds nothing). */
export function realRoots(roots: readonly string[]): string[] {
  return roots.filter((r) => existsSync(r)).map((r) => realpathSync(r));
}

/**
 * The real path of `name` inside the first root that holds it. Refuses names that lead outside every
 * root (lexically or through a symlink) and says which roots were searched when nothing is found.
 */
export function resolveModelPath(roots: readonly string[], name: string, what = 'model'): string {
  if (typeof name !== 'string' || name.trim() === '') throw new Error(`${what} path is empty`);
  if (name.includes('\0')) throw new Error(`${what} path "${name}" contains a NUL byte`);
  if (roots.length === 0) throw new Error(`no model roots are configured (services.modelRoots), so ${what} "${name}" cannot be resolved`);
  const list = roots.join(', ');
  let outside = false;
  for (const root of realRoots(roots)) {
    const lexical = path.resolve(root, name);
    if (!isInside(root, lexical)) {
      outside = true;
      continue;
    }
    if (!existsSync(lexical)) continue;
    const real = realpathSync(lexical);
    if (!isInside(root, real)) throw new Error(`${what} "${name}" leads outside the model roots (${list}) through a symlink`);
    return real;
  }
  if (outside) throw new Error(`${what} "${name}" is outside the model roots (${list})`);
  throw new Error(`${what} "${name}" was not found in the model roots (${list})`);
}

/**
 * Re-checks a file found inside a resolved model folder (`unet/model.onnx`, `scheduler/scheduler_config.json`)
 * after symlinks, before anything opens or reads it.
 */
export function confineToRoots(roots: readonly string[], file: string, what = 'model file'): string {
  if (!existsSync(file)) throw new Error(`${what} ${file} does not exist`);
  const real = realpathSync(file);
  if (!realRoots(roots).some((root) => isInside(root, real))) {
    throw new Error(`${what} ${file} leads outside the model roots (${roots.join(', ')}) through a symlink`);
  }
  return real;
}
