import { afterAll, describe, expect, it } from 'vitest';
import { everyObject, matchesObjects, readScenes, validateJudge } from './judge.ts';
import { modelStore } from './pack-common.ts';
import { drawScenes, type Scene } from './scenes.ts';

describe('judge: every object of an image, read by the attribute classifier', () => {
  const store = modelStore(1);
  afterAll(() => store.close());

  it('reads both objects of drawn two-object scenes, left/right and top/bottom', async () => {
    const v = await validateJudge(store, 300, 7);
    for (const layout of ['one', 'left/right', 'top/bottom'] as const) {
      expect(v[layout].n).toBeGreaterThan(30);
      expect(v[layout].right).toBe(v[layout].n);
    }
  });

  it('a two-object image whose second object is wrong is wrong, though its first object is right', async () => {
    const scenes: Scene[] = [
      { objects: [{ shape: 'circle', colour: 'red', position: 'left', size: 'medium' }, { shape: 'square', colour: 'blue', position: 'right', size: 'medium' }] },
      { objects: [{ shape: 'triangle', colour: 'green', position: 'top', size: 'medium' }, { shape: 'circle', colour: 'yellow', position: 'bottom', size: 'medium' }] },
    ];
    const [lr, tb] = await readScenes(store, drawScenes(scenes));
    expect(matchesObjects(lr, scenes[0].objects)).toBe(true);
    expect(matchesObjects(lr, [scenes[0].objects[0], { shape: 'triangle', colour: 'blue' }])).toBe(false);
    expect(matchesObjects(lr, [scenes[0].objects[0]])).toBe(false);
    expect(matchesObjects(tb, scenes[1].objects)).toBe(true);
    expect(matchesObjects(tb, [scenes[1].objects[0], { colour: 'green' }])).toBe(false);
    expect(everyObject(tb, { colour: 'green' })).toBe(false);
    expect(everyObject(lr, { size: 'medium' })).toBe(true);
  });
});
