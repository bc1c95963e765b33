/**
 * The model store a node uses: the host's (`services.modelStore`), or one shared per set of
 * `services.modelRoots` (default: ./models), so sessions are reused across nodes and runs.
 */
import path from 'node:path';
import type { NodeContext } from '@diffgraph/engine';
import { ModelStore } from './model-store.ts';

export interface ModelServices {
  modelStore?: ModelStore;
  modelRoots?: string[];
}

const shared = new Map<string, ModelStore>();

export function storeOf(ctx: Pick<NodeContext, 'services'>): ModelStore {
  const { modelStore, modelRoots } = ctx.services as ModelServices;
  if (modelStore instanceof ModelStore) return modelStore;
  const roots = (modelRoots ?? ['models']).map((r) => path.resolve(r));
  const key = JSON.stringify(roots);
  let store = shared.get(key);
  if (!store) {
    store = new ModelStore({ roots });
    shared.set(key, store);
  }
  return store;
}
