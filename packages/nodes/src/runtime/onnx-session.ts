/**
 * A loaded ONNX model as wrappers see it: declared inputs/outputs and `run`. It holds no session
 * itself; each run borrows the shared one from the store, so the store may evict it between runs
 * (LRU) and a later run simply reloads it.
 */
import type * as ort from 'onnxruntime-node';
import type { Tensor } from '@diffgraph/engine';
import { floatTensor } from './ort-tensors.ts';
import { contractProblems, declaredTensors, OnnxContractError, type DeclaredTensor, type IoContract } from './io-contract.ts';

export interface SessionSource {
  /** The shared session of `file`, loaded if it was evicted; `done` must be called after the run. */
  borrow(file: string): Promise<{ session: ort.InferenceSession; done: () => void }>;
}

export class OnnxSession {
  /** Number of completed `run` calls (tests count them to check batching). */
  runs = 0;
  readonly inputs: Map<string, DeclaredTensor | null>;
  readonly outputs: Map<string, DeclaredTensor | null>;
  /** Small on purpose: the session's memory belongs to the store, not to the executor's output cache. */
  readonly byteSize = 64;

  constructor(private readonly source: SessionSource, readonly file: string, session: ort.InferenceSession) {
    this.inputs = declaredTensors(session.inputMetadata);
    this.outputs = declaredTensors(session.outputMetadata);
  }

  input(name: string): DeclaredTensor {
    const d = this.inputs.get(name);
    if (!d) throw new Error(`${this.file}: no tensor input '${name}'`);
    return d;
  }

  output(name: string): DeclaredTensor {
    const d = this.outputs.get(name);
    if (!d) throw new Error(`${this.file}: no tensor output '${name}'`);
    return d;
  }

  /** `value` as input `name` takes it: converted to the element type the model declares (float16 or float32). */
  feed(name: string, value: Tensor): ort.Tensor {
    return floatTensor(value.data, value.shape, this.input(name).dtype, `${this.file}: input '${name}'`);
  }

  /** Throws one error listing every way the model differs from what `role` (e.g. "UNet") needs. */
  check(contract: IoContract, role: string): this {
    const problems = contractProblems(contract, this.inputs, this.outputs);
    if (problems.length > 0) throw new OnnxContractError(this.file, problems, role);
    return this;
  }

  async run(feeds: Record<string, ort.Tensor>, fetch: readonly string[]): Promise<Record<string, ort.Tensor>> {
    const { session, done } = await this.source.borrow(this.file);
    try {
      const result = await session.run(feeds, [...fetch]);
      this.runs++;
      return result as Record<string, ort.Tensor>;
    } catch (e) {
      throw new Error(`${this.file}: inference failed: ${(e as Error).message}`);
    } finally {
      done();
    }
  }
}
