/**
 * What flows through the built-in pack's socket types, for the types `defineNode` gives `run()`.
 * Sockets owned by a higher folder (CLASSIFIER, OPERATOR, TPM, VAE, TEXT_ENCODER) are declared next to
 * the type that flows through them.
 */
import type { Tensor } from '@diffgraph/engine';
import type { ModelStatistics } from './model-statistics.ts';
import type { Potential } from './potential.ts';
import type { Conditioning, DiffusionModel, Guider, NoiseGenerator, Solver, TimeGrid } from './sampling.ts';

declare module '@diffgraph/engine' {
  interface SocketTypes {
    MODEL: DiffusionModel;
    CONDITIONING: Conditioning;
    /** A model-space latent batch [B, …]. */
    LATENT: Tensor;
    TENSOR: Tensor;
    /** [B, 3, H, W], RGB in [0, 1] (IMAGE_LAYOUT). */
    IMAGE: Tensor;
    /** [B, 1, H, W] in [0, 1], 1 = repaint. */
    MASK: Tensor;
    NOISE: NoiseGenerator;
    GUIDER: Guider;
    SIGMAS: TimeGrid;
    SOLVER: Solver;
    POTENTIAL: Potential;
    /** DPM-Solver-v3's empirical model statistics (ModelStatistics node). */
    STATISTICS: ModelStatistics;
  }
}
