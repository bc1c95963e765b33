/**
 * Chow–Liu structure: the maximum spanning tree of pairwise mutual information between variable
 * groups (the tree that maximises the likelihood of a tree-shaped model of the data). Continuous
 * groups are discretised first: each group's mean value, cut into quantile bins.
 */

/** Quantile-bin codes (0..bins−1) of a per-sample summary, one Int32Array per group, [n] each. */
export function quantileCodes(summary: Float64Array, bins: number): Int32Array {
  const sorted = Float64Array.from(summary).sort();
  const cuts = Array.from({ length: bins - 1 }, (_, i) => sorted[Math.floor(((i + 1) * sorted.length) / bins)]);
  return Int32Array.from(summary, (v) => {
    let b = 0;
    while (b < cuts.length && v >= cuts[b]) b++;
    return b;
  });
}

/** Mutual information (nats) of two code vectors with `bins` levels each. */
export function mutualInformation(a: Int32Array, b: Int32Array, bins: number): number {
  const n = a.length;
  const joint = new Float64Array(bins * bins), pa = new Float64Array(bins), pb = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    joint[a[i] * bins + b[i]]++;
    pa[a[i]]++;
    pb[b[i]]++;
  }
  let mi = 0;
  for (let x = 0; x < bins; x++) {
    for (let y = 0; y < bins; y++) {
      const j = joint[x * bins + y];
      if (j > 0) mi += (j / n) * Math.log((j * n) / (pa[x] * pb[y]));
    }
  }
  return mi;
}

/** Parent array (−1 at `root`) of the max-MI spanning tree over the groups' codes (Prim, O(G²)). */
export function chowLiuTree(codes: readonly Int32Array[], bins: number, root = 0): Int32Array {
  const G = codes.length;
  const parent = new Int32Array(G).fill(-1);
  const inTree = new Uint8Array(G);
  const best = new Float64Array(G).fill(-Infinity);
  inTree[root] = 1;
  for (let g = 0; g < G; g++) {
    if (g === root) continue;
    best[g] = mutualInformation(codes[root], codes[g], bins);
    parent[g] = root;
  }
  for (let added = 1; added < G; added++) {
    let next = -1;
    for (let g = 0; g < G; g++) if (!inTree[g] && (next < 0 || best[g] > best[next])) next = g;
    inTree[next] = 1;
    for (let g = 0; g < G; g++) {
      if (inTree[g]) continue;
      const mi = mutualInformation(codes[next], codes[g], bins);
      if (mi > best[g]) {
        best[g] = mi;
        parent[g] = next;
      }
    }
  }
  return parent;
}
