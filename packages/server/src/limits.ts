/** The server's limits on what it accepts; no imports, so the CLI can show the defaults without loading the server. */
export interface Limits {
  /** Largest JSON request body (bytes). */
  bodyBytes: number;
  /** Largest upload (bytes). */
  uploadBytes: number;
  /** Largest workflow, as JSON text (bytes). */
  workflowBytes: number;
  /** Most nodes in one workflow. */
  maxNodes: number;
  /** Any literal input with the role `steps`. */
  maxSteps: number;
  /** Any literal input with the role `batch`. */
  maxBatch: number;
  /** Any literal input with the role `width` / `height`, and each dimension of one with the role `shape`. */
  maxResolution: number;
  /** Any literal input with the role `particles`. */
  maxParticles: number;
  /** Runs waiting in the queue; a submit beyond this is refused with 503. */
  maxQueued: number;
}

export const DEFAULT_LIMITS: Limits = {
  bodyBytes: 2 * 1024 ** 2,
  uploadBytes: 32 * 1024 ** 2,
  workflowBytes: 1024 ** 2,
  maxNodes: 256,
  maxSteps: 1000,
  maxBatch: 4096,
  maxResolution: 2048,
  maxParticles: 64,
  maxQueued: 100_000,
};
