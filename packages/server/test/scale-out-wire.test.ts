import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EngineEvent } from '@diffgraph/engine';
import { eventFromWire, eventToWire, redisConnection } from '../src/scale-out/wire.ts';

describe('scale-out wire format', () => {
  it('moves file paths from the worker\'s staging folder to the API node\'s, describes tensors, keeps other strings', () => {
    const from = path.join(path.sep, 'mnt', 'worker', 'staging', 'r1');
    const to = path.join(path.sep, 'srv', 'api', 'staging', 'r1');
    const event = {
      type: 'run.finished', runId: 'r1', time: 1,
      outputs: {
        save: { status: 'succeeded', values: { path: path.join(from, 'x_00001.png'), list: [path.join(from, 'a', 'b.npy'), '/elsewhere/c.png'], tensor: { shape: [2, 3], dtype: 'float32', data: new Float32Array(6) } } },
        other: { status: 'failed', error: { nodeId: 'other', message: 'no' } },
      },
    } as unknown as EngineEvent;
    const wire = eventToWire(event, [from], to) as any;
    expect(wire.outputs.save.values).toEqual({
      path: path.join(to, 'x_00001.png'),
      list: [path.join(to, 'a', 'b.npy'), '/elsewhere/c.png'],
      tensor: { tensor: { shape: [2, 3], dtype: 'float32', bytes: 24 } },
    });
    expect(wire.outputs.other).toEqual({ status: 'failed', error: { nodeId: 'other', message: 'no' } });
    // A sibling folder whose name starts the same is not inside the staging folder.
    const sibling = eventToWire({ ...event, outputs: { save: { status: 'succeeded', values: { p: `${from}-2/x.png` } } } } as unknown as EngineEvent, [from], to) as any;
    expect(sibling.outputs.save.values.p).toBe(`${from}-2/x.png`);
    expect(JSON.parse(JSON.stringify(wire))).toEqual(wire);
  });

  it('a preview travels as base64 PNG bytes and comes back as bytes; a preview that is no image is not sent', () => {
    const png = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 8, 0, 0, 0, 6]);
    const event = { type: 'node.preview', runId: 'r1', nodeId: 'p', time: 2, image: { format: 'png', index: 1, data: png } } as unknown as EngineEvent;
    const wire = eventToWire(event, [], '/x')!;
    expect(typeof (wire.image as any).data).toBe('string');
    const back = eventFromWire(JSON.parse(JSON.stringify(wire))) as any;
    expect(back).toMatchObject({ type: 'node.preview', runId: 'r1', nodeId: 'p', time: 2, image: { format: 'png', index: 1 } });
    expect([...back.image.data]).toEqual([...png]);
    expect(eventToWire({ ...event, image: { nothing: true } } as unknown as EngineEvent, [], '/x')).toBeNull();
  });

  it('redis:// URLs become connection options; anything else is refused with the flag named', () => {
    expect(redisConnection('redis://:s%40cret@example.org:6380/2')).toMatchObject({ host: 'example.org', port: 6380, password: 's@cret', db: 2, maxRetriesPerRequest: null });
    expect(redisConnection('redis://127.0.0.1')).toMatchObject({ host: '127.0.0.1', port: 6379 });
    expect(() => redisConnection('http://127.0.0.1:6379')).toThrow(/--queue .*redis:\/\//);
    expect(() => redisConnection('nope')).toThrow(/--queue "nope" is not a URL/);
  });
});
