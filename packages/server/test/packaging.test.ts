/**
 * The packages as published: their package.json fields, exports that point at built files, a packed
 * engine and node library installed into an empty folder and used from plain Node (no TypeScript
 * loader) and from tsc, and a CLI whose --help and --version load none of the heavy libraries.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers.ts';
import { onPath, pnpmCommand, suitePnpm } from './pnpm.ts';

const run = promisify(execFile);
const PUBLISHED = ['engine', 'nodes', 'server', 'editor'];
const SOURCE_CONDITION = '@diffgraph/source';

const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));
const manifest = (name: string) => readJson(path.join(repoRoot, 'packages', name, 'package.json'));

/** Every file an exports map names, with the condition that leads to it (wildcard patterns left out). */
function exportTargets(exportsMap: Record<string, unknown>): Array<{ subpath: string; condition: string; target: string }> {
  const targets: Array<{ subpath: string; condition: string; target: string }> = [];
  for (const [subpath, value] of Object.entries(exportsMap)) {
    const entries = typeof value === 'string' ? [['default', value] as const] : Object.entries(value as Record<string, string>);
    for (const [condition, target] of entries) if (!target.includes('*')) targets.push({ subpath, condition, target });
  }
  return targets;
}

const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe('package.json of each package', () => {
  it('the root stays private; the packages are public, Apache-2.0, with files, engines and repository', () => {
    const root = readJson(path.join(repoRoot, 'package.json'));
    expect(root).toMatchObject({ private: true, license: 'Apache-2.0' });
    expect(readFileSync(path.join(repoRoot, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0, January 2004/);
    for (const name of PUBLISHED) {
      const pkg = manifest(name);
      expect(pkg.private, name).toBeUndefined();
      expect(pkg, name).toMatchObject({ name: `@diffgraph/${name}`, license: 'Apache-2.0', engines: { node: '>=20' }, repository: { directory: `packages/${name}` } });
      expect(pkg.files, name).toContain('dist');
      expect(Object.keys(pkg.dependencies ?? {}), `${name} must not need a TypeScript loader at run time`).not.toContain('tsx');
    }
  });

  it('every export points at a file that exists (dist/ after the build), with types beside the JavaScript', () => {
    for (const name of PUBLISHED) {
      const pkg = manifest(name);
      for (const { subpath, condition, target } of exportTargets(pkg.exports)) {
        expect(existsSync(path.join(repoRoot, 'packages', name, target)), `${pkg.name} exports["${subpath}"]["${condition}"] = ${target}`).toBe(true);
      }
      for (const [subpath, value] of Object.entries(pkg.exports as Record<string, unknown>)) {
        if (typeof value === 'string') continue;
        const conditions = Object.keys(value as object);
        // Plain Node and TypeScript take the first matching condition: the sources only under the custom one.
        expect(conditions, `${pkg.name} exports["${subpath}"]`).toEqual([SOURCE_CONDITION, 'types', 'default']);
        expect((value as Record<string, string>).default, `${pkg.name} exports["${subpath}"]`).toMatch(/^\.\/dist\/.*\.js$/);
      }
    }
  });
});

describe('the published declarations', () => {
  /** The packages a package's dist/**\/*.d.ts import (Node's built-ins left out). */
  function declarationImports(name: string): string[] {
    const dist = path.join(repoRoot, 'packages', name, 'dist');
    const files = readdirSync(dist, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.d.ts'));
    // Import statements and import("…") types only: a string literal type in a declaration (a node's
    // tooltip such as "… later than cycle_from") must not read as an import.
    const importPatterns = [/^(?:import|export)\b[^;]*?\bfrom\s+['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g];
    const specifiers = files.flatMap((f) => {
      const text = readFileSync(path.join(dist, f), 'utf8');
      return importPatterns.flatMap((pattern) => [...text.matchAll(pattern)].map((m) => m[1]!));
    });
    const packages = specifiers.filter((s) => !s.startsWith('.') && !s.startsWith('node:')).map((s) => s.split('/').slice(0, s.startsWith('@') ? 2 : 1).join('/'));
    return [...new Set(packages)];
  }

  it.each(['engine', 'nodes', 'server'])('@diffgraph/%s depends on every library its types name (or on its @types package)', (name) => {
    const dependencies = Object.keys(manifest(name).dependencies ?? {});
    /** A library without its own types has them in an @types package, installed beside it here. */
    const typesPackage = (pkg: string) => {
      const types = `@types/${pkg.startsWith('@') ? pkg.slice(1).replace('/', '__') : pkg}`;
      return existsSync(path.join(repoRoot, 'packages', name, 'node_modules', types)) ? types : undefined;
    };
    const missing = declarationImports(name).flatMap((pkg) => [pkg, typesPackage(pkg)]).filter((pkg): pkg is string => pkg !== undefined && !dependencies.includes(pkg));
    expect(missing).toEqual([]);
  });
});

describe('packed and installed into an empty folder', () => {
  it('@diffgraph/engine and @diffgraph/nodes import and run a workflow from plain Node, and typecheck with tsc', async () => {
    const pnpmPath = suitePnpm() ?? onPath('pnpm');
    expect(pnpmPath, 'this test packs with pnpm (rewrites workspace: dependencies): run it under pnpm or with pnpm on PATH').toBeDefined();
    const pnpm = (args: string[], cwd: string) => {
      const [cmd, argv] = pnpmCommand(pnpmPath!, args);
      return run(cmd, argv, { cwd, env: { ...process.env, FORCE_COLOR: '0' } });
    };
    const work = mkdtempSync(path.join(tmpdir(), 'diffgraph-pack-'));
    tempDirs.push(work);
    const tarballs = path.join(work, 'tarballs');
    for (const name of ['engine', 'nodes']) await pnpm(['pack', '--pack-destination', tarballs], path.join(repoRoot, 'packages', name));
    const tarball = (name: string) => path.join(tarballs, readdirSync(tarballs).find((f) => f.startsWith(`diffgraph-${name}-`))!);

    const listing = (await run('tar', ['-tzf', tarball('engine')])).stdout.split('\n');
    expect(listing).toEqual(expect.arrayContaining(['package/LICENSE', 'package/package.json', 'package/dist/index.js', 'package/dist/index.d.ts', 'package/dist/limits.js']));
    expect(listing.filter((f) => /\/test\/|tsbuildinfo/.test(f))).toEqual([]);
    const packedNodes = JSON.parse((await run('tar', ['-xOzf', tarball('nodes'), 'package/package.json'])).stdout);
    expect(packedNodes.dependencies['@diffgraph/engine']).toBe(manifest('engine').version);

    // A fresh project outside the workspace. Dependencies come from pnpm's store (the registry only for
    // what it lacks); the engine that nodes depends on is the packed one, not one from the registry.
    const consumer = path.join(work, 'consumer');
    mkdirSync(consumer);
    writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(path.join(consumer, 'pnpm-workspace.yaml'), [
      'overrides:', `  "@diffgraph/engine": ${JSON.stringify(`file:${tarball('engine')}`)}`,
      // onnxruntime-node's install script fetches CUDA binaries; the CPU build ships in the package.
      'allowBuilds:', '  onnxruntime-node: false', '',
    ].join('\n'));
    await pnpm(['add', tarball('engine'), tarball('nodes'), '--prefer-offline'], consumer);
    expect(existsSync(path.join(consumer, 'node_modules', '@diffgraph', 'nodes', 'dist', 'index.js'))).toBe(true);

    const workflow = readJson(path.join(repoRoot, 'workflows', 'gmm-solver-lab.json'));
    workflow.nodes.schedule.inputs.steps = 4;
    workflow.nodes.latent.inputs.batch = 8;
    writeFileSync(path.join(consumer, 'workflow.json'), JSON.stringify(workflow));
    writeFileSync(path.join(consumer, 'main.js'), `
      import { readFileSync } from 'node:fs';
      import { Executor, validateWorkflow } from '@diffgraph/engine';
      import { checkWorkflowShape } from '@diffgraph/engine/limits';
      import { createRegistry } from '@diffgraph/nodes';
      const workflow = JSON.parse(readFileSync('workflow.json', 'utf8'));
      const registry = createRegistry();
      const validation = validateWorkflow(workflow, registry);
      if (!validation.ok) throw new Error(JSON.stringify(validation.errors));
      const result = await new Executor(registry).run(validation.workflow, { outputs: validation.outputs, services: { outputDir: 'out', inputRoots: ['.'], modelRoots: [] } });
      console.log(JSON.stringify({ shape: checkWorkflowShape(workflow), status: result.status, nodes: registry.list().length }));
    `);
    const plain = await run(process.execPath, ['main.js'], { cwd: consumer });
    const report = JSON.parse(plain.stdout);
    expect(report).toMatchObject({ shape: [], status: 'succeeded' });
    expect(report.nodes).toBeGreaterThan(10);

    // The declarations (library checking on): a misspelt export does not compile, the right ones do. They
    // use Node's types (Buffer), as a Node project has them: the workspace's @types/node.
    writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true,
        types: ['node'], typeRoots: [path.join(repoRoot, 'node_modules', '@types')],
      },
      include: ['check.ts'],
    }));
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    writeFileSync(path.join(consumer, 'check.ts'), `
      import { NodeRegistry, type Workflow } from '@diffgraph/engine';
      import { createRegistry } from '@diffgraph/nodes';
      const registry: NodeRegistry = createRegistry();
      const empty: Workflow = { format: 'diffgraph/workflow@1', nodes: {} };
      export const count: number = registry.list().length + Object.keys(empty.nodes).length;
    `);
    await run(process.execPath, [tsc, '-p', '.'], { cwd: consumer });
    writeFileSync(path.join(consumer, 'check.ts'), `import { NoSuchExport } from '@diffgraph/engine';\nexport const x = NoSuchExport;\n`);
    const failed = await run(process.execPath, [tsc, '-p', '.'], { cwd: consumer }).then(() => '', (e: { stdout: string }) => e.stdout);
    expect(failed).toMatch(/NoSuchExport/);
  }, 180_000);
});

describe('diffgraph start-up', () => {
  /** The CommonJS libraries loaded while the built CLI ran `args` in this process. */
  async function librariesLoadedBy(args: string[]): Promise<{ stdout: string; libraries: string[] }> {
    const cli = pathToFileURL(path.join(repoRoot, 'packages', 'server', 'dist', 'cli.js')).href;
    const script = `
      import { createRequire } from 'node:module';
      const { main } = await import(${JSON.stringify(cli)});
      process.exitCode = await main(${JSON.stringify(args)});
      const loaded = Object.keys(createRequire(import.meta.url).cache);
      process.stdout.write('\\n' + JSON.stringify([...new Set(loaded.map((f) => /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\/(?!.*node_modules)/.exec(f)?.[1]).filter(Boolean))]));
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot });
    const lines = stdout.trimEnd().split('\n');
    return { stdout: lines.slice(0, -1).join('\n'), libraries: JSON.parse(lines.at(-1)!) };
  }

  const HEAVY = ['ajv', 'onnxruntime-node', 'express', 'better-sqlite3', 'pngjs', 'cli-progress'];

  it('--help and --version load none of the engine, node library and server dependencies', async () => {
    const help = await librariesLoadedBy(['--help']);
    expect(help.stdout).toMatch(/Usage: diffgraph/);
    expect(help.libraries.filter((l) => HEAVY.includes(l))).toEqual([]);
    const version = await librariesLoadedBy(['--version']);
    expect(version.stdout.trim()).toBe(manifest('server').version);
    expect(version.libraries.filter((l) => HEAVY.includes(l))).toEqual([]);
    const runHelp = await librariesLoadedBy(['run', '--help']);
    expect(runHelp.stdout).toMatch(/--models <dir>/);
    expect(runHelp.libraries.filter((l) => HEAVY.includes(l))).toEqual([]);
  });

  it('a command that needs them loads them (the check above sees loaded libraries)', async () => {
    const validate = await librariesLoadedBy(['validate', path.join(repoRoot, 'workflows', 'gmm-solver-lab.json')]);
    expect(validate.stdout).toMatch(/valid/);
    expect(validate.libraries).toEqual(expect.arrayContaining(['ajv', 'onnxruntime-node']));
  });
});
