/**
 * The model store a node uses: the host's (`services.modelStore`), or one shared per set of
 * `services.modelRoots`, so sessions are reused across nodes and runs.
 */
import path from 'node:path';
import type { NodeContext } from '@diffgraph/engine';
import type { HostServices } from './host-services.ts';
import { ModelStore } from './model-store.ts';

export type ModelServices = Partial<Pick<HostServices, 'modelStore' | 'modelRoots'>>;

const shared = new Map<string, ModelStore>();

export function storeOf(ctx: Pick<NodeContext, 'services'>): ModelStore {
  const { modelStore, modelRoots } = ctx.services as ModelServices;
  if (modelStore instanceof ModelStore) return modelStore;
  // No default folder: without roots, resolving a model says that none are configured.
  const roots = (modelRoots ?? []).map((r) => path.resolve(r));
  const key = JSON.stringify(roots);
  let store = shared.get(key);
  if (!store) {
    store = new ModelStore({ roots });
    shared.set(key, store);
  }
  return store;
}
