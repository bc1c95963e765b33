/**
 * The prompt set and scoring of the pack's prompt-accuracy benchmarks (bench/pack-quality.ts,
 * bench/pack-nfe.ts): each image is classified by models/shapes-32/attribute_classifier. Two-object
 * prompts are all left/right, so the right-hand object is checked on the mirrored image.
 */
import type { Tensor } from '../packages/engine/src/tensor.ts';
import type { ModelStore } from '../packages/nodes/src/runtime/model-store.ts';
import { mirror } from './judge.ts';
import { classifyImages, type Attributes } from './pack-common.ts';
import { captionOf, COLOURS, POSITIONS, SHAPES, type Scene } from './scenes.ts';

// Every shape × colour pair once as a single object (positions and sizes cycle), and 12 left/right
// two-object prompts.
export const SINGLE: Scene[] = SHAPES.flatMap((shape, i) => COLOURS.map((colour, j) => ({
  objects: [{ shape, colour, position: POSITIONS[(i * 6 + j) % 5], size: (i + j) % 2 === 0 ? 'large' as const : 'small' as const }],
})));
export const TWO: Scene[] = Array.from({ length: 12 }, (_, k) => ({
  objects: [
    { shape: SHAPES[k % 3], colour: COLOURS[k % 6], position: 'left' as const, size: 'medium' as const },
    { shape: SHAPES[(k + 1 + Math.floor(k / 3)) % 3], colour: COLOURS[(k * 5 + 3) % 6], position: 'right' as const, size: 'medium' as const },
  ],
}));

/** Seeds of prompt i's images (items seed … seed + batch − 1 of the Philox generator). */
export const singleSeed = (i: number) => 1000 + 10 * i;
export const twoSeed = (i: number) => 5000 + 10 * i;

/** The images of one prompt at one seed (a batch of them). */
export type Generate = (prompt: string, seed: number) => Promise<Tensor>;

export interface SingleScore { shape: number; colour: number; position: number; size: number; count: number; all: number; n: number }
export interface TwoScore { shape: number; colour: number; position: number; count: number; first: number; second: number; both: number; n: number }

export const pct = (k: number, n: number) => (n === 0 ? 0 : (100 * k) / n);

export async function scoreSingle(store: ModelStore, generate: Generate, keep?: Tensor[]): Promise<SingleScore> {
  const s = { shape: 0, colour: 0, position: 0, size: 0, count: 0, all: 0, n: 0 };
  for (const [i, scene] of SINGLE.entries()) {
    const image = await generate(captionOf(scene), singleSeed(i));
    keep?.push(image);
    const want = scene.objects[0];
    for (const a of await classifyImages(store, image)) {
      const ok = { shape: a.shape === want.shape, colour: a.colour === want.colour, position: a.position === want.position, size: a.size === want.size, count: a.count === 'one' };
      for (const k of Object.keys(ok) as (keyof typeof ok)[]) s[k] += ok[k] ? 1 : 0;
      s.all += Object.values(ok).every(Boolean) ? 1 : 0;
      s.n++;
    }
  }
  return s;
}

const objectOk = (a: Attributes, o: Scene['objects'][number]) => a.shape === o.shape && a.colour === o.colour && a.position === 'left' && a.count === 'two';

export async function scoreTwo(store: ModelStore, generate: Generate, keep?: Tensor[]): Promise<TwoScore> {
  const s = { shape: 0, colour: 0, position: 0, count: 0, first: 0, second: 0, both: 0, n: 0 };
  for (const [i, scene] of TWO.entries()) {
    const image = await generate(captionOf(scene), twoSeed(i));
    keep?.push(image);
    const left = await classifyImages(store, image);
    const right = await classifyImages(store, mirror(image));
    const [a, b] = scene.objects;
    left.forEach((l, k) => {
      s.shape += l.shape === a.shape ? 1 : 0;
      s.colour += l.colour === a.colour ? 1 : 0;
      s.position += l.position === 'left' ? 1 : 0;
      s.count += l.count === 'two' ? 1 : 0;
      const first = objectOk(l, a), second = objectOk(right[k], b);
      s.first += first ? 1 : 0;
      s.second += second ? 1 : 0;
      s.both += first && second ? 1 : 0;
      s.n++;
    });
  }
  return s;
}
