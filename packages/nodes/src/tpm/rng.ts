/** A small seeded PRNG (mulberry32) for EM initialisation and circuit sampling: reproducible, no deps. */
export interface Rng {
  uniform(): number;
  normal(): number;
  /** An index drawn with probability w[i]/total. */
  categorical(w: ArrayLike<number>, total: number): number;
}

export function makeRng(seed: number): Rng {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  const uniform = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    uniform,
    normal: () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform()),
    categorical(w, total) {
      let u = uniform() * total;
      for (let i = 0; i < w.length; i++) {
        u -= w[i];
        if (u < 0) return i;
      }
      return w.length - 1;
    },
  };
}
