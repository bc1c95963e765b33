/**
 * The model catalog (GET /api/models, `diffgraph models`): what lies under the model roots and which
 * loader opens it. Confined like the loaders: a symlink whose real path leaves its root is neither
 * listed nor followed, and names are relative to the root (what the loaders take), so the answer
 * holds no server path. The walk only stats files and reads small JSON configs; ONNX precisions come
 * from the graph's input headers (onnx-graph-inputs.ts), cached by file, size and mtime, so a
 * changed folder is seen on the next call without any refresh.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import { isInside } from '../../io/paths.ts';
import { realRoots } from '../../runtime/model-paths.ts';
import { onnxGraphInputTypes } from '../../runtime/onnx-graph-inputs.ts';

export type CatalogKind = 'pipeline' | 'onnx-model' | 'classifier' | 'onnx';
export type CatalogLayout = 'diffusers-onnx-sd' | 'diffusers-onnx-sdxl' | 'single' | 'classifier';

export interface CatalogEntry {
  /** Relative to its model root with `/` separators: the value a loader's `path` input takes. */
  name: string;
  kind: CatalogKind;
  layout: CatalogLayout;
  /** The node that opens it (null: an ONNX file without the sidecar LoadOnnxModel needs). */
  loader: 'LoadPipeline' | 'LoadOnnxModel' | 'LoadClassifier' | null;
  /** diffusers' prediction_type (epsilon, v_prediction, sample, flow) or the sidecar's parameterization. */
  predictionType: string | null;
  latentChannels: number | null;
  /** [height, width] in pixels for pipelines (sample_size × the VAE's scale), in latent cells for single models. */
  nativeSize: [number, number] | null;
  /** Element type of the denoiser's (or classifier's) `sample` input: float32, float16, bfloat16. */
  precision: string | null;
  scheduler: string | null;
  sizeBytes: number;
  /** What could not be read (the entry is still listed so the user sees why it will not load). */
  problems: string[];
}

const MAX_DEPTH = 4;
const MAX_ENTRIES = 20_000;
/** Components a pipeline's loader reads itself; other sub-folders (a pack's classifier) are listed. */
const PIPELINE_PARTS = new Set(['unet', 'text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'scheduler', 'vae_decoder', 'vae_encoder', 'feature_extractor', 'safety_checker']);

type Json = Record<string, unknown>;

const precisionCache = new Map<string, { key: string; types: Map<string, string> }>();

function inputTypes(file: string, stats: Stats): Map<string, string> {
  const key = `${stats.size}:${stats.mtimeMs}`;
  const hit = precisionCache.get(file);
  if (hit?.key === key) return hit.types;
  const types = onnxGraphInputTypes(file);
  precisionCache.set(file, { key, types });
  return types;
}

/**
 * One root's walk: every path checked after symlinks. A folder reached again through a link to one of
 * its ancestors is not entered (no loops); an alias elsewhere is listed under its own name too, since
 * the loaders open it by that name.
 */
class RootWalk {
  readonly entries: CatalogEntry[] = [];
  private seen = 0;
  constructor(readonly root: string) {}

  /** The real path of `file` if it exists inside the root, else undefined (links out are skipped). */
  inside(file: string): string | undefined {
    try {
      const real = realpathSync(file);
      return isInside(this.root, real) ? real : undefined;
    } catch {
      return undefined;
    }
  }

  /** Messages name files relative to the root, never where the server keeps them. */
  relative(file: string): string {
    return path.relative(this.root, file).split(path.sep).join('/');
  }

  children(dir: string): { name: string; real: string; stats: Stats }[] {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return [];
    }
    const out = [];
    for (const name of names) {
      if (name.startsWith('.') || ++this.seen > MAX_ENTRIES) continue;
      const real = this.inside(path.join(dir, name));
      if (!real) continue;
      try {
        out.push({ name, real, stats: statSync(real) });
      } catch {
        // Removed while we looked: not there.
      }
    }
    return out;
  }

  /** Bytes of the regular files under a folder that stay inside the root, each file counted once. */
  sizeOf(top: string): number {
    const counted = new Set<string>();
    const measure = (dir: string, depth: number): number => {
      let bytes = 0;
      for (const child of this.children(dir)) {
        if (counted.has(child.real)) continue;
        counted.add(child.real);
        if (child.stats.isFile()) bytes += child.stats.size;
        // A link back to the folder or above it would count the whole root.
        else if (child.stats.isDirectory() && depth < MAX_DEPTH && !isInside(child.real, top)) bytes += measure(child.real, depth + 1);
      }
      return bytes;
    };
    return measure(top, 0);
  }

  walk(dir: string, name: string, depth: number, ancestors: readonly string[] = []): void {
    if (ancestors.includes(dir) || depth > MAX_DEPTH) return;
    if (name !== '' && existsSync(path.join(dir, 'model_index.json'))) {
      this.entries.push(this.pipeline(dir, name));
    } else if (name !== '' && this.isClassifierFolder(dir)) {
      this.entries.push(this.classifier(dir, name));
      return;
    }
    const isPipeline = name !== '' && existsSync(path.join(dir, 'model_index.json'));
    for (const child of this.children(dir)) {
      const childName = name === '' ? child.name : `${name}/${child.name}`;
      if (child.stats.isDirectory()) {
        if (!(isPipeline && PIPELINE_PARTS.has(child.name))) this.walk(child.real, childName, depth + 1, [...ancestors, dir]);
      } else if (child.stats.isFile() && child.name.endsWith('.onnx') && !isPipeline) {
        this.entries.push(this.single(child.real, childName, child.stats));
      }
    }
  }

  /** A classifier folder as LoadClassifier opens it: config.json with heads, and grad.onnx. */
  private isClassifierFolder(dir: string): boolean {
    const config = this.inside(path.join(dir, 'config.json'));
    if (!config || !this.inside(path.join(dir, 'grad.onnx'))) return false;
    try {
      return Array.isArray(JSON.parse(readFileSync(config, 'utf8')).heads);
    } catch {
      return false;
    }
  }

  private readConfig(file: string, problems: string[], required = false): Json {
    const real = this.inside(file);
    if (!real) {
      if (required || existsSync(file)) problems.push(`${this.relative(file)} is missing or leads outside the model root`);
      return {};
    }
    try {
      const value = JSON.parse(readFileSync(real, 'utf8'));
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Json;
      problems.push(`${this.relative(file)} does not hold a JSON object`);
    } catch (e) {
      problems.push(`${this.relative(file)} is not valid JSON (${(e as Error).message})`);
    }
    return {};
  }

  private precisionOf(file: string, input: string, problems: string[]): string | null {
    const real = this.inside(file);
    if (!real) {
      problems.push(`${this.relative(file)} is missing or leads outside the model root`);
      return null;
    }
    try {
      const types = inputTypes(real, statSync(real));
      return types.get(input) ?? [...types.values()].find((t) => t.startsWith('float') || t === 'bfloat16') ?? null;
    } catch (e) {
      problems.push(`${this.relative(file)}: ${(e as Error).message.replace(real, this.relative(file))}`);
      return null;
    }
  }

  private pipeline(dir: string, name: string): CatalogEntry {
    const problems: string[] = [];
    const index = this.readConfig(path.join(dir, 'model_index.json'), problems, true);
    const scheduler = this.readConfig(path.join(dir, 'scheduler', 'scheduler_config.json'), problems, true);
    const unet = this.readConfig(path.join(dir, 'unet', 'config.json'), problems);
    const vae = { ...this.readConfig(path.join(dir, 'vae_encoder', 'config.json'), problems), ...this.readConfig(path.join(dir, 'vae_decoder', 'config.json'), problems) };
    const sdxl = 'text_encoder_2' in index || /XL/.test(String(index._class_name ?? '')) || existsSync(path.join(dir, 'text_encoder_2'));
    const blocks = Array.isArray(vae.block_out_channels) ? vae.block_out_channels.length : undefined;
    const vaeScale = blocks ? 2 ** (blocks - 1) : 8;
    const sample = unet.sample_size;
    const [h, w] = typeof sample === 'number' ? [sample, sample] : Array.isArray(sample) && sample.length === 2 ? (sample as number[]) : [];
    const channels = unet.in_channels ?? vae.latent_channels;
    return {
      name,
      kind: 'pipeline',
      layout: sdxl ? 'diffusers-onnx-sdxl' : 'diffusers-onnx-sd',
      loader: 'LoadPipeline',
      predictionType: str(scheduler.prediction_type) ?? str(unet.prediction_type) ?? (/FlowMatch/.test(String(scheduler._class_name)) ? 'flow' : null),
      latentChannels: typeof channels === 'number' ? channels : null,
      nativeSize: typeof h === 'number' && typeof w === 'number' ? [h * vaeScale, w * vaeScale] : null,
      precision: this.precisionOf(path.join(dir, 'unet', 'model.onnx'), 'sample', problems),
      scheduler: str(scheduler._class_name),
      sizeBytes: this.sizeOf(dir),
      problems,
    };
  }

  private classifier(dir: string, name: string): CatalogEntry {
    const problems: string[] = [];
    const file = existsSync(path.join(dir, 'grad.onnx')) ? 'grad.onnx' : 'model.onnx';
    return {
      name, kind: 'classifier', layout: 'classifier', loader: 'LoadClassifier', predictionType: null, latentChannels: null, nativeSize: null,
      precision: this.precisionOf(path.join(dir, file), 'sample', problems), scheduler: null, sizeBytes: this.sizeOf(dir), problems,
    };
  }

  private single(file: string, name: string, stats: Stats): CatalogEntry {
    const problems: string[] = [];
    const sidecarFile = file.replace(/\.onnx$/, '.json');
    const sidecarReal = this.inside(sidecarFile);
    const sidecar = existsSync(sidecarFile) ? this.readConfig(sidecarFile, problems) : undefined;
    const usable = sidecar !== undefined && typeof sidecar.parameterization === 'string';
    const shape = Array.isArray(sidecar?.sample_shape) ? (sidecar.sample_shape as number[]) : undefined;
    const schedule = sidecar?.schedule as Json | undefined;
    return {
      name,
      kind: usable ? 'onnx-model' : 'onnx',
      layout: 'single',
      loader: usable ? 'LoadOnnxModel' : null,
      predictionType: usable ? (sidecar.parameterization as string) : null,
      latentChannels: shape && shape.length === 3 ? shape[0]! : null,
      nativeSize: shape && shape.length === 3 ? [shape[1]!, shape[2]!] : null,
      precision: this.precisionOf(file, 'sample', problems),
      scheduler: typeof schedule?.kind === 'string' ? schedule.kind : null,
      sizeBytes: stats.size + (sidecarReal ? statSync(sidecarReal).size : 0),
      problems,
    };
  }
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/**
 * Every pipeline, single model and classifier under the roots, sorted by name. A name found in two
 * roots is listed once, from the first root (the one the loaders would open).
 */
export function modelCatalog(roots: readonly string[]): CatalogEntry[] {
  const byName = new Map<string, CatalogEntry>();
  for (const root of realRoots(roots)) {
    const walk = new RootWalk(root);
    walk.walk(root, '', 0);
    for (const entry of walk.entries) if (!byName.has(entry.name)) byName.set(entry.name, entry);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}
