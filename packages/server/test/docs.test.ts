/**
 * The docs a newcomer follows literally: every JSON workflow shown in README.md and docs/ validates, and
 * every command in the README's shell blocks runs as written (through pnpm when the suite itself runs
 * under pnpm, so `pnpm diffgraph …` is exercised exactly as a reader types it).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Executor, validateWorkflow } from '@diffgraph/engine';
import { createRegistry } from '@diffgraph/nodes';
import { repoRoot } from './helpers.ts';
import { pnpmCommand, suitePnpm } from './pnpm.ts';

interface Block {
  file: string;
  line: number;
  lang: string;
  text: string;
}

function codeBlocks(file: string): Block[] {
  const lines = readFileSync(path.join(repoRoot, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    blocks.push({ file, line: start + 1, lang: open[1] ?? '', text: body.join('\n') });
  }
  return blocks;
}

function markdownFiles(): string[] {
  const docs = readdirSync(path.join(repoRoot, 'docs'), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.md'))
    .map((f) => path.join('docs', f));
  return ['README.md', 'models/README.md', ...docs];
}

/** A JSON block that looks like a workflow: it names the format or has a `nodes` object of typed nodes. */
function isWorkflow(value: unknown): boolean {
  if (!value || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return v.format === 'diffgraph/workflow@1' || (typeof v.nodes === 'object' && v.nodes !== null && Object.values(v.nodes).some((n) => typeof (n as { type?: unknown })?.type === 'string'));
}

const allBlocks = markdownFiles().flatMap(codeBlocks);
const jsonBlocks = allBlocks.filter((b) => b.lang === 'json');

describe('JSON in README.md and docs/', () => {
  it('the README shows a workflow', () => {
    expect(jsonBlocks.filter((b) => b.file === 'README.md' && isWorkflow(JSON.parse(b.text)))).not.toHaveLength(0);
  });

  it.each(jsonBlocks.map((b) => [`${b.file}:${b.line}`, b] as const))('%s parses, and validates and runs if it is a workflow', async (_where, block) => {
    const value = JSON.parse(block.text);
    if (!isWorkflow(value)) return;
    const registry = createRegistry();
    const validation = validateWorkflow(value, registry);
    expect(validation.ok ? [] : validation.errors).toEqual([]);
    if (!validation.ok) return;
    const out = mkdtempSync(path.join(tmpdir(), 'diffgraph-docs-'));
    const result = await new Executor(registry).run(validation.workflow, {
      outputs: validation.outputs,
      services: { outputDir: out, inputRoots: [path.join(repoRoot, 'workflows')], modelRoots: [path.join(repoRoot, 'models')], workflow: validation.workflow },
    });
    expect(result.status).toBe('succeeded');
  });
});

/** Shell commands of the README's `sh` blocks: comments dropped, `\` continuations joined. */
function readmeCommands(): string[] {
  const commands: string[] = [];
  for (const block of codeBlocks('README.md').filter((b) => b.lang === 'sh')) {
    let pending = '';
    for (const raw of block.text.split('\n')) {
      const line = raw.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trimEnd();
      if (line.endsWith('\\')) {
        pending += `${line.slice(0, -1).trim()} `;
        continue;
      }
      const command = (pending + line.trim()).trim();
      pending = '';
      if (command) commands.push(command);
    }
  }
  return commands;
}

/** Splits a command line into words, honouring double quotes (the README uses no other shell syntax). */
function words(command: string): string[] {
  return [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

const scripts = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).scripts as Record<string, string>;
const PNPM_BUILTINS = new Set(['install', 'test', 'add', 'run', 'exec']);
/** Long-running or recursive commands: checked to exist, not run here (CI runs the install and the tests). */
const NOT_RUN = new Set(['install', 'test', 'start', 'bench', 'bench:server', 'bench:guidance', 'bench:pack', 'bench:pack-nfe', 'bench:models', 'bench:cli']);

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `pnpm <args>` the way the reader does: through the pnpm running this suite when there is one. */
function pnpm(args: string[], opts: { untilOutput?: RegExp; env?: Record<string, string> } = {}): Promise<Outcome> {
  // Without a pnpm running the suite (vitest started directly, or pnpm through npx, which is on no
  // PATH), the script's own command line runs, as pnpm would run it.
  const pnpmPath = suitePnpm();
  const quoted = args.slice(1).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const [cmd, argv]: [string, string[]] = !pnpmPath ? ['sh', ['-c', `${scripts[args[0]!]} ${quoted}`]] : pnpmCommand(pnpmPath, ['--silent', ...args]);
  const pathWithBins = `${path.join(repoRoot, 'node_modules/.bin')}${path.delimiter}${process.env.PATH}`;
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: repoRoot, env: { ...process.env, PATH: pathWithBins, FORCE_COLOR: '0', ...opts.env }, detached: true });
    let stdout = '';
    let stderr = '';
    const check = () => {
      // The whole process group: a shell or pnpm in between would not pass the signal on.
      if (opts.untilOutput?.test(stdout + stderr)) process.kill(-child.pid!, 'SIGTERM');
    };
    child.stdout.on('data', (d) => ((stdout += d), check()));
    child.stderr.on('data', (d) => ((stderr += d), check()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const commands = readmeCommands();
const tempDirs: string[] = [];
afterAll(() => {
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

describe('every command in the README', () => {
  it('the quickstart installs pnpm before any bare pnpm command', () => {
    const first = commands.findIndex((c) => c.startsWith('pnpm '));
    const install = commands.findIndex((c) => /^npm install -g pnpm@12\.4\.2$/.test(c));
    expect(install).toBeGreaterThanOrEqual(0);
    expect(install).toBeLessThan(first);
    expect(JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).packageManager).toBe('pnpm@12.4.2');
  });

  it.each(commands.map((c) => [c]))('%s', async (command) => {
    const argv = words(command);
    if (argv[0] === 'npm' || argv[0] === 'npx') return; // the quickstart's own install: what CI runs first
    // A leading VAR=$(...) assignment (the token example) is shell; the command after it is what we run.
    const env: Record<string, string> = {};
    while (/^[A-Z_]+=/.test(argv[0] ?? '')) {
      const [name] = argv.shift()!.split('=');
      env[name!] = 'a'.repeat(48);
    }
    expect(argv[0], `"${command}" is not a pnpm command`).toBe('pnpm');
    const script = argv[1]!;
    expect(PNPM_BUILTINS.has(script) || script in scripts, `pnpm ${script} is neither a package.json script nor a pnpm command`).toBe(true);
    if (NOT_RUN.has(script)) return;
    if (script === 'build' || script === 'demo') {
      const r = await pnpm([script]);
      expect(r.code, r.stderr).toBe(0);
      return;
    }
    expect(script).toBe('diffgraph');
    const args = argv.slice(2);
    if (args[0] === 'serve') {
      // A server runs until stopped: it must come up (on a free port, in a scratch data folder), then stop.
      const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-readme-'));
      tempDirs.push(data);
      const serveArgs = args.map((a, i) => (args[i - 1] === '--port' ? '0' : args[i - 1] === '--data' ? data : args[i - 1] === '--models' ? path.join(repoRoot, 'models') : a));
      if (!serveArgs.includes('--port')) serveArgs.push('--port', '0');
      if (!serveArgs.includes('--data')) serveArgs.push('--data', data);
      const r = await pnpm(['diffgraph', ...serveArgs], { untilOutput: /listening on http:\/\/\S+/i, env });
      expect(r.stdout + r.stderr).toMatch(/listening on http:\/\//i);
      return;
    }
    const serverAt = args.indexOf('--server');
    if (serverAt >= 0) {
      const data = mkdtempSync(path.join(tmpdir(), 'diffgraph-readme-'));
      tempDirs.push(data);
      const { tempServer } = await import('./helpers.ts');
      const server = await tempServer({ dataDir: data });
      try {
        args[serverAt + 1] = server.url;
        const r = await pnpm(['diffgraph', ...args]);
        expect(r.code, r.stderr).toBe(0);
      } finally {
        await server.close();
      }
      return;
    }
    const r = await pnpm(['diffgraph', ...args]);
    expect(r.code, r.stderr).toBe(0);
  });
});
