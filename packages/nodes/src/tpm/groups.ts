/**
 * Variable groups of a circuit: pixels (patch = 1) or p×p latent patches. For items with ≥ 2 dims the
 * last two are spatial and every leading dim (channels) joins the group, so a group is "all channels
 * of one p×p patch"; a flat [D] item is cut into runs of `patch` values.
 */
export function patchGroups(itemShape: readonly number[], patch: number): number[][] {
  if (!Number.isInteger(patch) || patch < 1) throw new Error(`TPM: patch must be a positive integer, got ${patch}`);
  if (itemShape.length === 0) throw new Error('TPM: items need at least one dim');
  if (itemShape.length === 1) {
    const D = itemShape[0];
    if (D % patch !== 0) throw new Error(`TPM: ${D} values are not divisible into runs of ${patch}`);
    return Array.from({ length: D / patch }, (_, g) => Array.from({ length: patch }, (_, j) => g * patch + j));
  }
  const H = itemShape[itemShape.length - 2], W = itemShape[itemShape.length - 1];
  const planes = itemShape.slice(0, -2).reduce((a, b) => a * b, 1);
  if (H % patch !== 0 || W % patch !== 0) throw new Error(`TPM: spatial size ${H}×${W} is not divisible by patch ${patch}`);
  const groups: number[][] = [];
  for (let pi = 0; pi < H / patch; pi++) {
    for (let pj = 0; pj < W / patch; pj++) {
      const members: number[] = [];
      for (let c = 0; c < planes; c++) {
        for (let i = 0; i < patch; i++) for (let j = 0; j < patch; j++) members.push(c * H * W + (pi * patch + i) * W + pj * patch + j);
      }
      groups.push(members);
    }
  }
  return groups;
}
