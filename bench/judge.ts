/**
 * Judges every object of an image with the pack's attribute classifier, which describes only the
 * first object of a scene (the only one, or the left / top one of two) plus the object count.
 * The second object of a two-object scene is brought into the first object's place and classified
 * again: a left–right mirror for left/right scenes (the mirrored scene is a scene of the training
 * distribution: every shape is left–right symmetric), and rolling the image up by 14 rows for
 * top/bottom scenes (a vertical flip would turn the triangles upside down). How often this reads
 * both objects right is measured on drawn scenes of known content (`validateJudge`).
 */
import { Tensor } from '../packages/engine/src/tensor.ts';
import type { ModelStore } from '../packages/nodes/src/runtime/model-store.ts';
import { classifyImages, type Attributes } from './pack-common.ts';
import { drawScenes, randomScenes, type Scene } from './scenes.ts';

export interface ObjectReading { shape: string; colour: string; position: string; size: string }

export interface SceneReading {
  count: 'one' | 'two';
  /** One entry per object the classifier could read: both for a two-object left/right or top/bottom scene. */
  objects: ObjectReading[];
}

/** The left–right mirror of an IMAGE batch: a left/right scene's right-hand object becomes its first. */
export function mirror(image: Tensor): Tensor {
  const [b, c, h, w] = image.shape;
  const out = new Float32Array(image.size);
  for (let i = 0; i < b * c * h; i++) for (let x = 0; x < w; x++) out[i * w + x] = image.data[i * w + (w - 1 - x)];
  return new Tensor([b, c, h, w], out);
}

/**
 * An IMAGE batch rolled up by 14 rows (cyclically): a top/bottom scene's lower object (y ≈ 23) lands
 * where the upper one was (y ≈ 9) and becomes the first. Rolling by 16, a plain swap of the halves,
 * leaves both 2 px off their trained places and misreads ~2 % of the drawn scenes.
 */
export function rollUp(image: Tensor, rows = 14): Tensor {
  const [b, c, h, w] = image.shape;
  const out = new Float32Array(image.size);
  for (let i = 0; i < b * c; i++) for (let y = 0; y < h; y++) {
    const from = (y + rows) % h;
    out.set(image.data.subarray((i * h + from) * w, (i * h + from + 1) * w), (i * h + y) * w);
  }
  return new Tensor([b, c, h, w], out);
}

const object = (a: Attributes): ObjectReading => ({ shape: a.shape, colour: a.colour, position: a.position, size: a.size });

/** Reads every object of every image of an IMAGE batch [B, 3, 32, 32] in [0, 1]. */
export async function readScenes(store: ModelStore, image: Tensor): Promise<SceneReading[]> {
  const [direct, mirrored, rolled] = await Promise.all([image, mirror(image), rollUp(image)].map((t) => classifyImages(store, t)));
  return direct.map((a, b) => {
    if (a.count !== 'two') return { count: 'one', objects: [object(a)] };
    const second = a.position === 'left' ? { ...object(mirrored[b]), position: 'right' }
      : a.position === 'top' ? { ...object(rolled[b]), position: 'bottom' } : undefined;
    return { count: 'two', objects: second ? [object(a), second] : [object(a)] };
  });
}

/** A wanted object: the attributes a prompt or target names (others are free). */
export type WantedObject = Partial<ObjectReading>;

/** True when a read object has every wanted attribute (false when there is no object). */
export const fits = (o: ObjectReading | undefined, want: WantedObject) => !!o && Object.entries(want).every(([k, v]) => o[k as keyof ObjectReading] === v);

/**
 * True when the image holds exactly the wanted objects, each with the wanted attributes, in order
 * (first = left / top). A two-object scene whose second object could not be read never matches.
 */
export function matchesObjects(r: SceneReading, want: readonly WantedObject[]): boolean {
  return r.objects.length === want.length && r.count === (want.length === 1 ? 'one' : 'two') && want.every((w, i) => fits(r.objects[i], w));
}

/** True when every object of the image (however many) has the wanted attributes; unreadable second objects fail. */
export function everyObject(r: SceneReading, want: WantedObject): boolean {
  return r.objects.length === (r.count === 'one' ? 1 : 2) && r.objects.every((o) => fits(o, want));
}

/** Share of drawn scenes of known content whose objects readScenes reads all right, per layout. */
export async function validateJudge(store: ModelStore, n: number, seed: number): Promise<Record<'one' | 'left/right' | 'top/bottom', { right: number; n: number }>> {
  const scenes = randomScenes(n, seed);
  const readings = await readScenes(store, drawScenes(scenes));
  const out = { one: { right: 0, n: 0 }, 'left/right': { right: 0, n: 0 }, 'top/bottom': { right: 0, n: 0 } };
  scenes.forEach((s: Scene, i) => {
    const layout = s.objects.length === 1 ? 'one' : s.objects[0].position === 'left' ? 'left/right' : 'top/bottom';
    out[layout].n++;
    if (matchesObjects(readings[i], s.objects)) out[layout].right++;
  });
  return out;
}

/** Per-image outcomes of a judgement over a batch, with the count right. */
export interface Outcomes { right: boolean[]; k: number; n: number }

export function outcomes(right: boolean[]): Outcomes {
  return { right, k: right.filter(Boolean).length, n: right.length };
}

/** Per attribute of the first object (and the count), how many images have it as wanted. */
export function firstObjectHits(readings: readonly SceneReading[], wanted: (b: number) => readonly WantedObject[]): Record<string, number> {
  const hits: Record<string, number> = {};
  readings.forEach((r, b) => {
    const want = wanted(b);
    for (const [k, v] of Object.entries(want[0])) hits[k] = (hits[k] ?? 0) + (r.objects[0][k as keyof ObjectReading] === v ? 1 : 0);
    hits.count = (hits.count ?? 0) + (r.count === (want.length === 1 ? 'one' : 'two') ? 1 : 0);
  });
  return hits;
}
