/**
 * What a host (the CLI, the server, a test, a benchmark) gives the built-in nodes on every run. The
 * registry createRegistry() returns carries this type, so `executor.run` over it does not compile
 * without every member: no host can silently leave out the workflow SaveImage embeds, or the folders
 * that input, output and model paths are confined to.
 */
import type { Workflow } from '@diffgraph/engine';
import type { ModelStore } from '../runtime/model-store.ts';

export interface HostServices {
  /** Where output nodes write (on the server, the run's own folder). */
  outputDir: string;
  /** Folders input paths are resolved in; the first that holds the file wins. */
  inputRoots: readonly string[];
  /** Folders model paths are resolved in. */
  modelRoots: readonly string[];
  /**
   * The workflow as the host received it (before defaults are filled in), which SaveImage embeds so
   * the image opens back in the editor; null to embed none.
   */
  workflow: Workflow | null;
  /** Loaded models shared across runs; absent: one store per set of modelRoots. */
  modelStore?: ModelStore;
}
