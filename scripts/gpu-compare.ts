/**
 * Helpers of scripts/gpu-check.sh (run with tsx):
 *
 *   prepare <workflow> <pipeline> <steps> <batch> <out.json>
 *     The workflow with its LoadPipeline pointed at <pipeline>, Schedule steps and EmptyLatent batch
 *     set, and a SaveTensor of every Sample's latent (latent_<id>.npy) added to its outputs, so two
 *     runs can be compared before the 8-bit PNG rounding.
 *   compare <dirA> <labelA> <dirB> <labelB> <latentTolerance> <imageTolerance>
 *     Max |a − b| over the saved latents and over the decoded PNGs (in [0, 1], so 1/255 is one grey
 *     level), timings of the Sample and VAEDecode nodes from each run's events.jsonl; exit 1 when a
 *     difference is over its tolerance or the runs did not produce the same files.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeNpy, decodeRgba } from '../packages/nodes/src/index.ts';

type Node = { type: string; inputs: Record<string, unknown> };
type Workflow = { nodes: Record<string, Node>; outputs?: string[] };

function prepare(file: string, pipeline: string, steps: number, batch: number, out: string): void {
  const workflow = JSON.parse(readFileSync(file, 'utf8')) as Workflow;
  const added: string[] = [];
  for (const [id, node] of Object.entries(workflow.nodes)) {
    if (node.type === 'LoadPipeline') node.inputs.path = pipeline;
    if (node.type === 'Schedule' && steps > 0) node.inputs.steps = steps;
    if (node.type === 'EmptyLatent' && batch > 0) node.inputs.batch = batch;
    if (node.type === 'Sample') added.push(id);
  }
  if (added.length === 0) throw new Error(`${file} has no Sample node to compare`);
  for (const id of added) {
    workflow.nodes[`gpu_check_${id}`] = { type: 'SaveTensor', inputs: { tensor: { from: id, output: 'samples' }, filename: `latent_${id}` } };
  }
  workflow.outputs = [...(workflow.outputs ?? []), ...added.map((id) => `gpu_check_${id}`)];
  writeFileSync(out, JSON.stringify(workflow, null, 2));
}

function values(file: string): Float64Array {
  const bytes = readFileSync(file);
  if (file.endsWith('.npy')) return Float64Array.from(decodeNpy(bytes).data as ArrayLike<number>);
  const { rgba } = decodeRgba(bytes);
  return Float64Array.from(rgba, (v) => v / 255);
}

function maxAbsDiff(a: Float64Array, b: Float64Array, what: string): number {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} values against ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** Milliseconds each of the run's nodes took, by node id, from node.started → node.finished. */
function nodeTimes(dir: string): Map<string, number> {
  const started = new Map<string, number>();
  const took = new Map<string, number>();
  for (const line of readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    const e = JSON.parse(line) as { type: string; nodeId?: string; time: number };
    if (e.type === 'node.started') started.set(e.nodeId!, e.time);
    if (e.type === 'node.finished' && started.has(e.nodeId!)) took.set(e.nodeId!, e.time - started.get(e.nodeId!)!);
  }
  return took;
}

function compare(dirA: string, labelA: string, dirB: string, labelB: string, latentTolerance: number, imageTolerance: number): number {
  const outputs = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.npy') || f.endsWith('.png')).sort();
  const files = outputs(dirA);
  if (files.length === 0 || files.join() !== outputs(dirB).join()) {
    process.stdout.write(`  FAIL: the runs wrote different files (${labelA}: ${files.join(', ') || 'none'}; ${labelB}: ${outputs(dirB).join(', ') || 'none'})\n`);
    return 1;
  }
  let failed = 0;
  for (const file of files) {
    const diff = maxAbsDiff(values(path.join(dirA, file)), values(path.join(dirB, file)), file);
    const tolerance = file.endsWith('.npy') ? latentTolerance : imageTolerance;
    const ok = diff <= tolerance;
    if (!ok) failed = 1;
    process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'} ${file}: max |${labelA} − ${labelB}| = ${diff.toExponential(3)} (tolerance ${tolerance})\n`);
  }
  // The nodes that take time (model loading, sampling, decoding), slowest first.
  const [timesA, timesB] = [nodeTimes(dirA), nodeTimes(dirB)];
  const slow = [...timesA].filter(([id, ms]) => Math.max(ms, timesB.get(id) ?? 0) >= 20).sort((a, b) => b[1] - a[1]);
  for (const [id, ms] of slow) process.stdout.write(`  time ${id}: ${labelA} ${ms} ms, ${labelB} ${timesB.get(id) ?? '?'} ms\n`);
  return failed;
}

const [command, ...args] = process.argv.slice(2);
if (command === 'prepare' && args.length === 5) {
  prepare(args[0]!, args[1]!, Number(args[2]), Number(args[3]), args[4]!);
} else if (command === 'compare' && args.length === 6) {
  process.exitCode = compare(args[0]!, args[1]!, args[2]!, args[3]!, Number(args[4]), Number(args[5]));
} else {
  process.stderr.write('usage: gpu-compare.ts prepare <workflow> <pipeline> <steps> <batch> <out.json> | compare <dirA> <labelA> <dirB> <labelB> <latentTol> <imageTol>\n');
  process.exitCode = 2;
}
