import { NodeRegistry, type NodePack } from '@diffgraph/engine';
import { EmptyLatent, LoadTensor, SaveTensor } from './io/tensor-nodes.ts';
import { GaussianMixtureModel, MixtureComponents } from './models/gmm-node.ts';
import { DisableNoise, RandomNoise } from './noise/noise-nodes.ts';
import { BasicGuider } from './sampling/guiders.ts';
import { Sample } from './sampling/sample-node.ts';
import { Schedule } from './schedules/schedule-node.ts';
import { SolverNode } from './solvers/solver-node.ts';

export const corePack: NodePack = {
  name: 'diffgraph-core',
  nodes: [LoadTensor, SaveTensor, EmptyLatent, GaussianMixtureModel, MixtureComponents, RandomNoise, DisableNoise, BasicGuider, Schedule, SolverNode, Sample],
};

/** A registry with every built-in pack, and the socket-type relations they rely on. */
export function createRegistry(): NodeRegistry {
  const registry = new NodeRegistry();
  registry.declareSubtype('LATENT', 'TENSOR');
  registry.declareSubtype('TENSOR', 'LATENT');
  registry.registerPack(corePack);
  return registry;
}

export * from './io/npy.ts';
export * from './io/tensor-json.ts';
export type * from './sampling/contracts.ts';
export { GaussianMixture } from './models/gmm.ts';
export { gaussianMixtureModel } from './models/gmm-node.ts';
export { makeNoiseSchedule } from './schedules/noise-schedules.ts';
export { buildGrid } from './schedules/schedule-node.ts';
export { makeSolver, SOLVER_KINDS } from './solvers/catalog.ts';
export { sample } from './sampling/sample-node.ts';
export { seededNoise, zeroNoise } from './noise/noise-nodes.ts';
export { basicGuider } from './sampling/guiders.ts';
