/**
 * Node packs from outside the repository (docs/custom-nodes.md): every ES module in a `--nodes`
 * folder, `DIFFGRAPH_NODES` or `<data>/nodes` whose default export is `{ name, version?, nodes }`.
 * A pack that cannot be loaded is reported and skipped, so one broken pack never takes the others
 * (or the built-in nodes) down with it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describeValue, NodeRegistry, PackConflictError, type NodeDefinition, type NodePack } from '@diffgraph/engine';
import { corePack, createRegistry, type HostServices } from '@diffgraph/nodes';

export interface LoadedPack {
  name: string;
  version?: string;
  /** The pack's file or package folder. */
  path: string;
  nodes: string[];
}

export interface PackFailure {
  /** The pack's file or package folder (or the folder given, when it cannot be read). */
  path: string;
  /** The pack's name, when it got far enough to have one. */
  pack?: string;
  error: string;
}

export interface PluginReport {
  loaded: LoadedPack[];
  failed: PackFailure[];
}

export interface BuiltRegistry {
  registry: NodeRegistry<HostServices>;
  plugins: PluginReport;
}

class PackError extends Error {
  constructor(message: string, readonly pack?: string) {
    super(message);
  }
}

const MODULE_FILE = /\.(?:m?js)$/;
const TYPESCRIPT_FILE = /(?<!\.d)\.(?:m|c)?ts$/;

/** `DIFFGRAPH_NODES`: folders separated like PATH (`:`, or `;` on Windows). */
export function nodeDirsFromEnv(value: string | undefined): string[] {
  return (value ?? '').split(path.delimiter).filter((dir) => dir.trim() !== '');
}

/**
 * The registry of a run or a server: the built-in nodes, then every pack found in `nodeDirs` in order
 * (a folder given twice is read once). Failures are in the report, never thrown.
 */
export async function buildRegistry(nodeDirs: readonly string[]): Promise<BuiltRegistry> {
  const registry = createRegistry();
  const plugins: PluginReport = { loaded: [], failed: [] };
  const pathOfPack = new Map<string, string>();
  const dirs = [...new Set(nodeDirs.map((dir) => path.resolve(dir)))];
  for (const candidate of dirs.flatMap((dir) => packCandidates(dir, plugins.failed))) {
    try {
      const pack = await importPack(candidate);
      registerPack(registry, pack, candidate, pathOfPack);
      pathOfPack.set(pack.name, candidate);
      plugins.loaded.push({ name: pack.name, ...(pack.version !== undefined ? { version: pack.version } : {}), path: candidate, nodes: pack.nodes.map((n) => n.type).sort() });
    } catch (e) {
      const pack = e instanceof PackError ? e.pack : undefined;
      plugins.failed.push({ path: candidate, ...(pack !== undefined ? { pack } : {}), error: e instanceof PackError ? e.message : describeImportError(e) });
    }
  }
  return { registry, plugins };
}

/** Every node definition as `diffgraph nodes --json` and `GET /api/nodes` show it: without run(), with its pack. */
export function nodeDescriptions(registry: NodeRegistry) {
  return registry.list().map(({ run: _run, ...def }) => ({ ...def, pack: registry.pack(def.type)! }));
}

/** One line per failed pack, for stderr or a server log. */
export function formatPackFailure(failure: PackFailure): string {
  return `node pack ${failure.pack !== undefined ? `"${failure.pack}" (${failure.path})` : failure.path} skipped: ${failure.error}`;
}

/** The packs in a folder: the folder itself when it is a package or a module file, else its entries. */
function packCandidates(dir: string, failed: PackFailure[]): string[] {
  let stat;
  let entries;
  try {
    stat = statSync(dir);
    if (stat.isFile()) {
      if (MODULE_FILE.test(dir)) return [dir];
      failed.push({ path: dir, error: 'not a folder of node packs, a package folder or a .js/.mjs file' });
      return [];
    }
    if (existsSync(path.join(dir, 'package.json'))) return [dir];
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    failed.push({ path: dir, error: `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` });
    return [];
  }
  const candidates: string[] = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
    const full = path.join(dir, entry.name);
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && statSync(full, { throwIfNoEntry: false })?.isDirectory());
    if (isDir) {
      if (existsSync(path.join(full, 'package.json')) || indexFile(full)) candidates.push(full);
      else failed.push({ path: full, error: 'a folder without package.json or index.js/index.mjs is not a node pack' });
    } else if (MODULE_FILE.test(entry.name)) {
      candidates.push(full);
    } else if (TYPESCRIPT_FILE.test(entry.name)) {
      failed.push({ path: full, error: 'TypeScript is not loaded as is: build the pack to JavaScript (docs/custom-nodes.md)' });
    }
  }
  return candidates;
}

function indexFile(dir: string): string | undefined {
  return ['index.mjs', 'index.js'].map((name) => path.join(dir, name)).find((file) => existsSync(file));
}

interface PackageJson {
  name?: unknown;
  version?: unknown;
  exports?: unknown;
  module?: unknown;
  main?: unknown;
}

/** The ES entry of a package: `exports` (".", then the import/node/default conditions), `module`, `main`, index.js. */
function packageEntry(dir: string, pkg: PackageJson): string {
  const fromExports = exportTarget(isRecord(pkg.exports) && '.' in pkg.exports ? pkg.exports['.'] : pkg.exports);
  const entry = fromExports ?? [pkg.module, pkg.main].find((v): v is string => typeof v === 'string') ?? 'index.js';
  const file = path.resolve(dir, entry);
  if (!existsSync(file)) throw new PackError(`its package.json names the entry "${entry}", which does not exist${/dist|build|lib/.test(entry) ? ' (is the pack built?)' : ''}`, packageName(pkg));
  return file;
}

function exportTarget(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (!isRecord(value)) return undefined;
  for (const condition of ['import', 'node', 'default']) {
    const target = exportTarget(value[condition]);
    if (target !== undefined) return target;
  }
  return undefined;
}

function packageName(pkg: PackageJson): string | undefined {
  return typeof pkg.name === 'string' ? pkg.name : undefined;
}

/** Imports a pack and checks its default export; a package may leave name and version to its package.json. */
async function importPack(candidate: string): Promise<NodePack> {
  let entry = candidate;
  let pkg: PackageJson = {};
  if (statSync(candidate).isDirectory()) {
    const manifest = path.join(candidate, 'package.json');
    if (existsSync(manifest)) {
      try {
        pkg = JSON.parse(readFileSync(manifest, 'utf8')) as PackageJson;
      } catch (e) {
        throw new PackError(`its package.json is not valid JSON (${(e as Error).message})`);
      }
      if (!isRecord(pkg)) throw new PackError('its package.json is not a JSON object');
      entry = packageEntry(candidate, pkg);
    } else {
      entry = indexFile(candidate)!;
    }
  }
  const module = (await import(pathToFileURL(entry).href)) as { default?: unknown };
  return checkPack(module.default, pkg);
}

function checkPack(value: unknown, pkg: PackageJson): NodePack {
  if (value === undefined) throw new PackError('it has no default export: export default { name, version?, nodes: [...] }', packageName(pkg));
  if (!isRecord(value)) throw new PackError(`its default export must be { name, version?, nodes: [...] }, not ${describeValue(value)}`, packageName(pkg));
  const name = value.name ?? packageName(pkg);
  if (typeof name !== 'string' || name.trim() === '') throw new PackError(`its default export needs a name (a non-empty string), got ${describeValue(value.name)}`, packageName(pkg));
  const version = value.version ?? (typeof pkg.version === 'string' ? pkg.version : undefined);
  if (version !== undefined && typeof version !== 'string') throw new PackError(`version must be a string such as "1.0.0", got ${describeValue(version)}`, name);
  if (!Array.isArray(value.nodes)) throw new PackError(`nodes must be an array of node definitions, got ${describeValue(value.nodes)}`, name);
  return { name, ...(version !== undefined ? { version } : {}), nodes: value.nodes.map(withDefaults) };
}

/**
 * A plain-JavaScript node may leave out `description` (empty) and `version` (1). The copy keeps the
 * definition's prototype, so a node written as a class instance keeps its `run` method.
 */
function withDefaults(def: unknown): NodeDefinition {
  if (!isRecord(def) || (def.description !== undefined && def.version !== undefined)) return def as unknown as NodeDefinition;
  const filled = { ...def, description: def.description ?? '', version: def.version ?? 1 };
  return Object.setPrototypeOf(filled, Object.getPrototypeOf(def)) as NodeDefinition;
}

function registerPack(registry: NodeRegistry<HostServices>, pack: NodePack, where: string, pathOfPack: Map<string, string>): void {
  try {
    registry.registerPack(pack);
  } catch (e) {
    if (e instanceof PackConflictError) {
      const other = e.existingPack === corePack.name ? 'built in' : pathOfPack.get(e.existingPack);
      throw new PackError(`${e.message}${other !== undefined && other !== where ? ` (${other})` : ''}`, pack.name);
    }
    throw new PackError((e as Error).message, pack.name);
  }
}

/** An import failure in a line, with a hint where a `.js` file was read as CommonJS. */
function describeImportError(e: unknown): string {
  if (!(e instanceof Error)) return `importing it threw ${describeValue(e)}`;
  if (!(e instanceof SyntaxError)) return `importing it threw: ${e.message}`;
  const commonJs = /Cannot use import statement outside a module|Unexpected token 'export'/.test(e.message);
  return `syntax error: ${e.message}${commonJs ? ' (a .js file is an ES module only under a package.json with "type": "module": name it .mjs or add one)' : ''}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
