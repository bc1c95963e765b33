#!/usr/bin/env node
/**
 * diffgraph — run, validate and inspect workflows from the command line.
 * Exit codes: 0 success; 1 invalid workflow or a failed output; 2 unreadable input or bad usage;
 * 130 cancelled (Ctrl-C).
 */
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { Executor, InvalidWorkflowError, validateWorkflow, workflowSchema } from '@diffgraph/engine';
import { createRegistry } from '@diffgraph/nodes';
import { applySets, readWorkflowFile, UnreadableFileError } from './workflow-file.ts';
import { eventToJson, formatErrors, formatOutputs } from './format.ts';
import { terminalReporter } from './progress.ts';

class UsageError extends Error {}

const collect = (value: string, previous: string[]) => [...previous, value];

function load(file: string, sets: string[]): unknown {
  const read = readWorkflowFile(file);
  if (!read.ok) {
    process.stderr.write(`${formatErrors(file, read.errors)}\n`);
    process.exitCode = 1;
    return undefined;
  }
  try {
    return applySets(read.value, sets);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function buildProgram(): Command {
  const program = new Command('diffgraph')
    .description('A typed node-graph workflow engine for diffusion sampling')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('Validate and run a workflow, writing its outputs to --out')
    .argument('<workflow>', 'workflow JSON file')
    .option('--set <nodeId.input=value>', 'override a literal input (JSON, or a bare string); repeatable', collect, [])
    .option('--out <dir>', 'output folder', 'out')
    .option('--json', 'print one JSON event per line instead of progress bars')
    .option('--outputs <ids>', 'comma-separated node ids to compute instead of the workflow\'s outputs')
    .action(async (file: string, opts: { set: string[]; out: string; json?: boolean; outputs?: string }) => {
      const workflow = load(file, opts.set);
      if (workflow === undefined) return;
      const registry = createRegistry();
      const outputs = opts.outputs?.split(',').map((s) => s.trim()).filter(Boolean);
      const validation = validateWorkflow(workflow, registry, outputs);
      if (!validation.ok) {
        if (opts.json) for (const error of validation.errors) process.stdout.write(`${JSON.stringify({ type: 'validation.error', ...error })}\n`);
        else process.stderr.write(`${formatErrors(file, validation.errors)}\n`);
        process.exitCode = 1;
        return;
      }
      const executor = new Executor(registry, {
        services: { outputDir: path.resolve(opts.out), inputRoots: [process.cwd(), path.dirname(path.resolve(file))] },
      });
      executor.events.subscribe(opts.json ? (e) => process.stdout.write(`${eventToJson(e)}\n`) : terminalReporter(process.stderr));
      const controller = new AbortController();
      const onInterrupt = () => controller.abort(new Error('cancelled by the user (Ctrl-C)'));
      process.once('SIGINT', onInterrupt);
      const runId = `cli-${Date.now().toString(36)}`;
      executor.events.emit({ type: 'run.queued', runId });
      try {
        const result = await executor.run(validation.workflow, { runId, outputs: validation.outputs, signal: controller.signal });
        if (!opts.json) process.stdout.write(`${result.status}\n${formatOutputs(result.outputs)}\n`);
        process.exitCode = result.status === 'succeeded' ? 0 : result.status === 'cancelled' ? 130 : 1;
      } finally {
        process.off('SIGINT', onInterrupt);
      }
    });

  program
    .command('validate')
    .description('Check a workflow; exit 0 when valid, 1 when invalid (errors listed), 2 when unreadable')
    .argument('<workflow>', 'workflow JSON file')
    .option('--json', 'print the result as JSON')
    .action((file: string, opts: { json?: boolean }) => {
      const read = readWorkflowFile(file);
      const result = read.ok ? validateWorkflow(read.value, createRegistry()) : read;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(result.ok ? { valid: true, outputs: result.outputs } : { valid: false, errors: result.errors }, null, 2)}\n`);
      } else if (result.ok) {
        process.stdout.write(`${file}: valid (outputs: ${result.outputs.join(', ')})\n`);
      } else {
        process.stdout.write(`${formatErrors(file, result.errors)}\n`);
      }
      process.exitCode = result.ok ? 0 : 1;
    });

  program
    .command('nodes')
    .description('List the node library; --json prints every definition and the workflow JSON Schema')
    .option('--json', 'print definitions and schema as JSON')
    .action((opts: { json?: boolean }) => {
      const registry = createRegistry();
      const defs = registry.list().map(({ run: _run, ...def }) => ({ ...def, pack: registry.pack(def.type) }));
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ nodes: defs, schema: workflowSchema(registry) }, null, 2)}\n`);
        return;
      }
      for (const def of defs) {
        const inputs = Object.entries(def.inputs).map(([n, s]) => `${n}: ${s.type}${s.enum ? `{${s.enum.join('|')}}` : ''}${s.default !== undefined ? ` = ${JSON.stringify(s.default)}` : s.optional ? '?' : ''}`);
        const outputs = Object.entries(def.outputs).map(([n, s]) => `${n}: ${s.type}`);
        process.stdout.write(`${def.type}  [${def.category}]${def.output ? ' (output)' : ''}\n  ${def.description}\n  in:  ${inputs.join(', ') || '—'}\n  out: ${outputs.join(', ') || '—'}\n`);
      }
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof UnreadableFileError || e instanceof UsageError) {
      process.stderr.write(`diffgraph: ${e.message}\n`);
      return 2;
    }
    if (e instanceof InvalidWorkflowError) {
      process.stderr.write(`${formatErrors('workflow', e.errors)}\n`);
      return 1;
    }
    process.stderr.write(`diffgraph: unexpected error: ${(e as Error).message}\n${process.env.DIFFGRAPH_DEBUG ? (e as Error).stack : '(set DIFFGRAPH_DEBUG=1 for a stack trace)'}\n`);
    return 1;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.env.DIFFGRAPH_CLI === '1') {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
