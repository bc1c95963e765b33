/** The example pack's own tests: each node on its own, then the pack in an engine registry. */
import { describe, expect, it } from 'vitest';
import { Executor, NodeRegistry, Tensor, type NodeContext, type NodeDefinition } from '@diffgraph/engine';
import pack, { ImageInvert, LatentScale } from '../src/index.js';

/** A node context that records progress, as the executor's would report it. */
function context(signal = new AbortController().signal): NodeContext & { progressed: [number, number][] } {
  const progressed: [number, number][] = [];
  return { runId: 'test', nodeId: 'node', signal, services: {}, progressed, progress: (v, m) => progressed.push([v, m]), preview: () => {}, log: () => {} };
}

describe('ImageInvert', () => {
  it('turns every channel value v into 1 − v, batch item by batch item, and leaves its input alone', async () => {
    const images = Tensor.from([2, 3, 1, 2], [0, 1, 0.25, 0.75, 0.5, 0.5, 1, 0, 0.1, 0.9, 0.2, 0.8]);
    const ctx = context();
    const { images: out } = (await ImageInvert.run({ images }, ctx)) as { images: Tensor };
    expect(out.shape).toEqual([2, 3, 1, 2]);
    expect(Array.from(out.data)).toEqual(Array.from(images.data, (v) => Math.fround(1 - v)));
    expect(images.data[0]).toBe(0);
    expect(ctx.progressed).toEqual([[1, 2], [2, 2]]);
  });

  it('refuses a tensor that is not a batch of RGB images, naming the node and the input', () => {
    expect(() => ImageInvert.run({ images: Tensor.zeros([1, 4, 2, 2]) }, context())).toThrow('ImageInvert: input "images" must be [batch, 3, height, width], got [1, 4, 2, 2]');
  });

  it('stops when the run is cancelled', () => {
    const controller = new AbortController();
    controller.abort(new Error('cancelled'));
    expect(() => ImageInvert.run({ images: Tensor.zeros([1, 3, 2, 2]) }, context(controller.signal))).toThrow('cancelled');
  });
});

describe('LatentScale', () => {
  it('multiplies every value by the factor, in the latent\'s own dtype', async () => {
    const latent = Tensor.from([1, 2], [1.5, -2], 'float64');
    const { latent: out } = (await LatentScale.run({ latent, factor: -2 }, context())) as { latent: Tensor };
    expect(out.dtype).toBe('float64');
    expect(Array.from(out.data)).toEqual([-3, 4]);
  });
});

describe('the pack', () => {
  it('registers in an engine registry and runs in a workflow, its defaults filled in', async () => {
    // A test-only source of a latent, standing in for what a real workflow's EmptyLatent or Sample gives.
    const Ones: NodeDefinition = {
      type: 'Ones', category: 'test', description: '', version: 1, inputs: {}, outputs: { latent: { type: 'LATENT' } },
      run: () => ({ latent: Tensor.from([1, 3], [1, 1, 1]) }),
    };
    const registry = new NodeRegistry();
    registry.registerPack(pack);
    registry.register(Ones, 'test');
    expect(registry.pack('LatentScale')).toBe('diffgraph-example-nodes');
    const result = await new Executor(registry).run(
      { format: 'diffgraph/workflow@1', nodes: { ones: { type: 'Ones' }, half: { type: 'LatentScale', inputs: { latent: { from: 'ones', output: 'latent' }, factor: 0.5 } }, same: { type: 'LatentScale', inputs: { latent: { from: 'ones', output: 'latent' } } } } },
      { outputs: ['half', 'same'], services: {} },
    );
    const value = (id: string) => {
      const output = result.outputs[id]!;
      if (output.status !== 'succeeded') throw new Error(`${id} did not succeed`);
      return Array.from((output.values.latent as Tensor).data);
    };
    expect(value('half')).toEqual([0.5, 0.5, 0.5]);
    expect(value('same')).toEqual([1, 1, 1]);
  });
});
