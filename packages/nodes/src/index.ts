import { NodeRegistry, type NodePack } from '@diffgraph/engine';
import { EmptyLatent, LoadTensor, SaveTensor } from './io/tensor-nodes.ts';

export const corePack: NodePack = {
  name: 'diffgraph-core',
  nodes: [LoadTensor, SaveTensor, EmptyLatent],
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
