/**
 * An example node pack. The default export is what diffgraph loads from `--nodes`; the imports from
 * @diffgraph/engine are types only, so the built JavaScript imports nothing from diffgraph.
 */
import type { NodePack } from '@diffgraph/engine';
import { ImageInvert } from './image-invert.js';
import { LatentScale } from './latent-scale.js';

export { ImageInvert, LatentScale };

// No version here: diffgraph takes it from package.json, so there is one place to bump.
const pack: NodePack = {
  name: 'diffgraph-example-nodes',
  nodes: [ImageInvert, LatentScale],
};

export default pack;
