/**
 * The run loop: validate, plan the ancestors of the requested outputs, then execute in a deterministic
 * topological order, serving unchanged nodes from the signature cache. A failing node fails only its
 * descendants; cancellation stops the run between nodes and interrupts a node that polls its signal.
 */
import { randomUUID } from 'node:crypto';
import type { NodeContext, NodeInputs, NodeOutputs, Workflow } from './types.ts';
import { isLink } from './types.ts';
import type { NodeRegistry, NoServices } from './registry.ts';
import { validateWorkflow, type ValidationError } from './validate.ts';
import { ancestors, topologicalOrder, upstreamOf } from './graph.ts';
import { nodeSignature } from './signature.ts';
import { OutputCache } from './cache.ts';
import { EventBus, type NodeFailure, type OutputResult } from './events.ts';

export class InvalidWorkflowError extends Error {
  constructor(readonly errors: ValidationError[]) {
    super(`The workflow is invalid (${errors.length} problem${errors.length === 1 ? '' : 's'}): ${errors.map((e) => e.message).join(' ')}`);
    this.name = 'InvalidWorkflowError';
  }
}

export interface ExecutorOptions {
  /** Byte budget of the output cache (default 1 GiB). */
  cacheBytes?: number;
}

export interface RunOptions<Services extends object = NoServices> {
  runId?: string;
  /** Overrides the workflow's own `outputs`. */
  outputs?: readonly string[];
  signal?: AbortSignal;
  /** What every node context of this run gets as `services` (the registry's services type, whole). */
  services?: Services;
}

/** `run`'s options: required, with every service, when the registry's nodes need any. */
type RunArguments<Services extends object> = NoServices extends Services
  ? [options?: RunOptions<Services>]
  : [options: RunOptions<Services> & { services: Services }];

export interface RunResult {
  runId: string;
  status: 'succeeded' | 'failed' | 'cancelled';
  outputs: Record<string, OutputResult>;
  /** Nodes whose `run` was called, in order. */
  executed: string[];
  /** Nodes served from the cache, in order. */
  cached: string[];
}

/** Lets timers, I/O and cancellation requests in while a long computation awaits only promises. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A yield for tight loops (a sampler's model calls): it lets the event loop in only once `everyMs` has
 * passed since the last time, so a fast model does not pay a macrotask per call while a cancel request
 * still lands within a few milliseconds.
 */
export function throttledYield(everyMs = 5): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < everyMs) return;
    await yieldToEventLoop();
    last = performance.now();
  };
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('The run was cancelled');
}

/** Settles with the node's result, or rejects as soon as the run is cancelled. */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

export class Executor<Services extends object = NoServices> {
  readonly events = new EventBus();
  readonly cache: OutputCache;

  constructor(readonly registry: NodeRegistry<Services>, options: ExecutorOptions = {}) {
    this.cache = new OutputCache(options.cacheBytes ?? 1024 ** 3);
  }

  async run(input: unknown, ...[options = {}]: RunArguments<Services>): Promise<RunResult> {
    const validation = validateWorkflow(input, this.registry, options.outputs);
    if (!validation.ok) throw new InvalidWorkflowError(validation.errors);
    const { workflow, outputs: targets } = validation;
    const runId = options.runId ?? randomUUID();
    // Without a caller's signal nothing can cancel the run: nodes get one of their own (nodes may leave
    // listeners on it), and the executor does not race each node against it.
    const cancellable = options.signal !== undefined;
    const signal = options.signal ?? new AbortController().signal;
    const services: Readonly<Record<string, unknown>> = { ...options.services };
    const definitionOf = (type: string) => this.registry.get(type);
    const bus = this.events;
    const emit = bus.emit.bind(bus);

    const deps = upstreamOf(workflow);
    const planned = ancestors(deps, targets);
    const order = topologicalOrder(deps, planned, (id) => (this.registry.get(workflow.nodes[id].type)?.output ? 0 : 1));
    const consumers = countConsumers(workflow, planned);
    const keep = new Set(targets);

    const values = new Map<string, NodeOutputs>();
    const signatures = new Map<string, string>();
    const failures = new Map<string, NodeFailure>();
    const executed: string[] = [];
    const cached: string[] = [];
    let cancelled = false;

    emit({ type: 'run.started', runId, nodes: order });
    for (const nodeId of order) {
      if (signal.aborted) { cancelled = true; break; }
      const node = workflow.nodes[nodeId];
      const def = this.registry.get(node.type)!;
      const nodeType = def.type;
      const links = Object.values(node.inputs ?? {}).filter(isLink);
      const upstreamFailure = links.map((l) => failures.get(l.from)).find((f) => f !== undefined);
      if (upstreamFailure) {
        failures.set(nodeId, upstreamFailure);
        emit({ type: 'node.failed', runId, nodeId, nodeType, error: { nodeId: upstreamFailure.nodeId, message: `Not run: upstream node "${upstreamFailure.nodeId}" failed.` } });
        continue;
      }
      const signature = nodeSignature(def, node, (id) => signatures.get(id)!);
      signatures.set(nodeId, signature);

      const hit = this.cache.get(signature);
      if (hit) {
        values.set(nodeId, hit);
        cached.push(nodeId);
        emit({ type: 'node.cached', runId, nodeId, nodeType });
      } else {
        emit({ type: 'node.started', runId, nodeId, nodeType });
        const started = performance.now();
        const ctx: NodeContext = {
          runId, nodeId, signal, services, definitionOf,
          progress: (value, max) => emit({ type: 'node.progress', runId, nodeId, value, max }),
          preview: (image) => emit({ type: 'node.preview', runId, nodeId, image }),
          get previewing() {
            return bus.wants('node.preview');
          },
          log: (message) => emit({ type: 'node.log', runId, nodeId, message }),
        };
        try {
          const inputs = resolveInputs(node.inputs ?? {}, values);
          executed.push(nodeId);
          const work = Promise.resolve().then(() => def.run(inputs, ctx));
          const result = await (cancellable ? untilAborted(work, signal) : work);
          checkOutputs(nodeType, def.outputs, result);
          values.set(nodeId, result);
          this.cache.set(signature, result);
          emit({ type: 'node.finished', runId, nodeId, nodeType, seconds: (performance.now() - started) / 1000 });
        } catch (e) {
          if (signal.aborted) { cancelled = true; break; }
          const failure = { nodeId, message: e instanceof Error ? e.message : String(e) };
          failures.set(nodeId, failure);
          emit({ type: 'node.failed', runId, nodeId, nodeType, error: failure });
          continue;
        }
        await yieldToEventLoop();
      }
      // Free what no later node reads, so a long graph holds only live tensors.
      for (const link of links) {
        const left = consumers.get(link.from)! - 1;
        consumers.set(link.from, left);
        if (left === 0 && !keep.has(link.from)) values.delete(link.from);
      }
    }

    const outputs: Record<string, OutputResult> = {};
    for (const id of targets) {
      const failure = failures.get(id);
      const value = values.get(id);
      outputs[id] = failure ? { status: 'failed', error: failure } : value ? { status: 'succeeded', values: value } : { status: 'cancelled' };
    }
    if (cancelled) {
      emit({ type: 'run.cancelled', runId, outputs });
      return { runId, status: 'cancelled', outputs, executed, cached };
    }
    const failed = Object.entries(outputs).filter(([, r]) => r.status === 'failed');
    if (failed.length > 0) {
      const message = `${failed.length} of ${targets.length} output${targets.length === 1 ? '' : 's'} failed: ${failed.map(([id]) => id).join(', ')}`;
      emit({ type: 'run.failed', runId, outputs, message });
      return { runId, status: 'failed', outputs, executed, cached };
    }
    emit({ type: 'run.finished', runId, outputs });
    return { runId, status: 'succeeded', outputs, executed, cached };
  }
}

function resolveInputs(inputs: Record<string, unknown>, values: Map<string, NodeOutputs>): NodeInputs {
  const resolved: NodeInputs = {};
  for (const [name, value] of Object.entries(inputs)) {
    // Literal objects are cloned so a node that mutates its input cannot alter the workflow or the
    // cache key; numbers, strings and booleans are immutable already.
    resolved[name] = isLink(value) ? values.get(value.from)![value.output] : typeof value === 'object' && value !== null ? structuredClone(value) : value;
  }
  return resolved;
}

function checkOutputs(nodeType: string, declared: Record<string, unknown>, result: unknown): asserts result is NodeOutputs {
  if (typeof result !== 'object' || result === null) {
    throw new Error(`${nodeType} returned ${String(result)} instead of an object of outputs`);
  }
  for (const name of Object.keys(declared)) {
    if (!(name in result)) throw new Error(`${nodeType} returned no value for its output "${name}"`);
  }
}

function countConsumers(workflow: Workflow, planned: Set<string>): Map<string, number> {
  const counts = new Map<string, number>([...planned].map((id) => [id, 0]));
  for (const id of planned) {
    for (const value of Object.values(workflow.nodes[id].inputs ?? {})) {
      if (isLink(value)) counts.set(value.from, (counts.get(value.from) ?? 0) + 1);
    }
  }
  return counts;
}
