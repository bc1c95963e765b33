/**
 * Pixel-space geometry of the editing nodes, on one plane (H×W) at a time: moving an object by an
 * offset and a scale about its centroid, and morphology of masks. Planes are Float64Array rows.
 */

export interface Plane {
  height: number;
  width: number;
}

export interface Placement {
  /** Offset of the object's centroid, in pixels (right / down positive). */
  dx: number;
  dy: number;
  /** Scale about the centroid (1 = same size). */
  scale: number;
}

/** The mask-weighted centroid (x, y) of a plane; null when the mask is empty. */
export function centroid(mask: ArrayLike<number>, { height, width }: Plane): [number, number] | null {
  let sum = 0, sx = 0, sy = 0;
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const m = mask[y * width + x];
    sum += m;
    sx += m * (x + 0.5);
    sy += m * (y + 0.5);
  }
  return sum > 0 ? [sx / sum, sy / sum] : null;
}

/**
 * Bilinear sample of `plane` at the source point of every target pixel: target p comes from
 * c + (p − c − d)/scale. Points outside the plane read 0 (nothing is moved in from outside). An
 * integer offset with scale 1 is an exact copy (the weights are 1 and 0).
 */
export function movePlane(plane: ArrayLike<number>, dims: Plane, center: [number, number], at: Placement): Float64Array {
  const { height, width } = dims;
  const out = new Float64Array(height * width);
  const read = (x: number, y: number) => (x < 0 || y < 0 || x >= width || y >= height ? 0 : plane[y * width + x]);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    const sx = center[0] + (x + 0.5 - center[0] - at.dx) / at.scale - 0.5;
    const sy = center[1] + (y + 0.5 - center[1] - at.dy) / at.scale - 0.5;
    const x0 = Math.floor(sx), y0 = Math.floor(sy);
    const fx = sx - x0, fy = sy - y0;
    let v = 0;
    if (fx < 1 && fy < 1) v += (1 - fx) * (1 - fy) * read(x0, y0);
    if (fx > 0) v += fx * (1 - fy) * read(x0 + 1, y0);
    if (fy > 0) v += (1 - fx) * fy * read(x0, y0 + 1);
    if (fx > 0 && fy > 0) v += fx * fy * read(x0 + 1, y0 + 1);
    out[y * width + x] = v;
  }
  return out;
}

/** Max filter over a (2r+1)² square: the mask grown by r pixels (soft values keep their maximum). */
export function dilate(mask: ArrayLike<number>, { height, width }: Plane, radius: number): Float64Array {
  const r = Math.max(0, Math.round(radius));
  const rows = new Float64Array(height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    let m = 0;
    for (let k = Math.max(0, x - r); k <= Math.min(width - 1, x + r); k++) m = Math.max(m, mask[y * width + k]);
    rows[y * width + x] = m;
  }
  const out = new Float64Array(height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
    let m = 0;
    for (let k = Math.max(0, y - r); k <= Math.min(height - 1, y + r); k++) m = Math.max(m, rows[k * width + x]);
    out[y * width + x] = m;
  }
  return out;
}

/** Element-wise max of planes. */
export function union(...planes: ArrayLike<number>[]): Float64Array {
  const out = new Float64Array(planes[0].length);
  for (const p of planes) for (let i = 0; i < out.length; i++) out[i] = Math.max(out[i], p[i]);
  return out;
}
