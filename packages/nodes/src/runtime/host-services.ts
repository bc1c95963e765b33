/**
 * What a host (the CLI, the server, a test, a benchmark) gives the built-in nodes on every run. The
 * registry createRegistry() returns carries this type, so `executor.run` over it does not compile
 * without every member: no host can silently leave out the workflow SaveImage embeds, or the folders
 * that input, output and model paths are confined to.
 */
import type { Workflow } from '@diffgraph/engine';
import type { FileServices } from '../io/services.ts';
import type { ModelStore } from './model-store.ts';

export interface HostServices extends FileServices {
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
