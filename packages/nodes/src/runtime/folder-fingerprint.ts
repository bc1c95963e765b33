/**
 * A cheap identity of a model folder's files: name, device, inode, size and times of every entry two
 * levels deep (model_index.json, unet/model.onnx, tokenizer/tokenizer.json, …), links followed. An edit,
 * an added or removed file or a re-pointed link changes it, so what was parsed from the folder can be
 * reused until then.
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export function folderFingerprint(folder: string, depth = 2): string {
  const parts: string[] = [];
  const walk = (dir: string, level: number) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      const s = statSync(file, { throwIfNoEntry: false });
      if (!s) {
        parts.push(`${file} dangling`);
        continue;
      }
      parts.push(`${file} ${s.dev}:${s.ino} ${s.size} ${s.mtimeMs} ${s.ctimeMs}`);
      if (s.isDirectory() && level < depth) walk(file, level + 1);
    }
  };
  walk(folder, 1);
  return parts.join('\n');
}
