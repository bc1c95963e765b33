/**
 * Host services are a typed contract: an Executor over the built-in registry does not compile without
 * every member (the @ts-expect-error lines fail `tsc` if that ever stops being true), and a JavaScript
 * host that leaves them out gets a clear error instead of files in its working directory.
 */
import { describe, expect, it } from 'vitest';
import { Executor, type Workflow } from '@diffgraph/engine';
import { createRegistry, type HostServices } from '../src/index.ts';
import { isolatedServices } from './services.ts';

const saveZeros: Workflow = {
  format: 'diffgraph/workflow@1',
  nodes: {
    latent: { type: 'EmptyLatent', inputs: { batch: 1, shape: [3, 2, 2] } },
    save: { type: 'SaveTensor', inputs: { tensor: { from: 'latent', output: 'latent' }, filename: 'zeros' } },
  },
};

describe('host services', () => {
  it('the compiler refuses a run without every service', async () => {
    const executor = new Executor(createRegistry());
    const { workflow: _workflow, ...withoutWorkflow } = isolatedServices();
    const typeOnly = () => {
      // @ts-expect-error: no services at all
      void executor.run(saveZeros);
      // @ts-expect-error: options without services
      void executor.run(saveZeros, { outputs: ['save'] });
      // @ts-expect-error: the workflow (what SaveImage embeds) is missing
      void executor.run(saveZeros, { services: withoutWorkflow });
    };
    expect(typeOnly).toBeTypeOf('function');
    const services: HostServices = isolatedServices();
    expect((await executor.run(saveZeros, { services })).status).toBe('succeeded');
  });

  it('a host that passes no services anyway gets an error naming them, and nothing is written', async () => {
    const executor = new Executor(createRegistry());
    const run = executor.run as (w: unknown, o?: unknown) => ReturnType<typeof executor.run>;
    const result = await run.call(executor, saveZeros);
    expect(result.status).toBe('failed');
    const save = result.outputs.save;
    expect(save.status === 'failed' && save.error.message).toMatch(/services\.outputDir/);
  });
});
