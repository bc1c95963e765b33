/**
 * Tensor results made visible: `.npy` (NumPy format 1.0–3.0, little-endian float/int, C order) and
 * tensor JSON files parsed in the browser; 2-D point sets drawn as a scatter over a Gaussian mixture's
 * density (the solver lab), 1-D values as bars (one per particle: FK steering's rewards) or a line with
 * a histogram, anything else as a summary.
 */

export interface TensorData {
  shape: number[];
  data: Float64Array;
}

export interface Mixture {
  weights: number[];
  means: number[][];
  stds: number[];
}

const NPY_MAGIC = '\x93NUMPY';
const DTYPES: Record<string, (view: DataView, offset: number) => number> = {
  '<f4': (v, o) => v.getFloat32(o, true),
  '<f8': (v, o) => v.getFloat64(o, true),
  '<i4': (v, o) => v.getInt32(o, true),
  '<i8': (v, o) => Number(v.getBigInt64(o, true)),
  '|u1': (v, o) => v.getUint8(o),
  '<u1': (v, o) => v.getUint8(o),
};
const SIZES: Record<string, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8, '|u1': 1, '<u1': 1 };

export function parseNpy(buffer: ArrayBuffer): TensorData {
  const bytes = new Uint8Array(buffer);
  if (String.fromCharCode(...bytes.subarray(0, 6)) !== NPY_MAGIC) throw new Error('not a .npy file');
  const view = new DataView(buffer);
  const major = bytes[6];
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1] ?? '';
  if (/'fortran_order':\s*True/.test(header)) throw new Error('Fortran-ordered .npy is not supported');
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '').split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  const read = DTYPES[descr];
  if (!read) throw new Error(`unsupported dtype ${descr}`);
  const count = shape.reduce((a, b) => a * b, 1);
  const data = new Float64Array(count);
  const offset = start + headerLength;
  for (let i = 0; i < count; i++) data[i] = read(view, offset + i * SIZES[descr]);
  return { shape, data };
}

/** A tensor JSON file: `{ shape, dtype, data }` (flat or nested data) or nested arrays. */
export function parseTensorJson(value: unknown): TensorData {
  const flatten = (v: unknown, shape: number[], depth: number, out: number[]) => {
    if (Array.isArray(v)) {
      if (shape.length === depth) shape.push(v.length);
      for (const x of v) flatten(x, shape, depth + 1, out);
    } else out.push(Number(v));
  };
  const body = value as { shape?: number[]; data?: unknown };
  const out: number[] = [];
  const inferred: number[] = [];
  flatten(body && typeof body === 'object' && 'data' in body ? body.data : value, inferred, 0, out);
  const shape = Array.isArray(body?.shape) ? body.shape : inferred;
  return { shape, data: Float64Array.from(out) };
}

export function summarize(t: TensorData): { min: number; max: number; mean: number } {
  let [min, max, sum] = [Infinity, -Infinity, 0];
  for (const v of t.data) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  return { min, max, mean: t.data.length ? sum / t.data.length : NaN };
}

/** How a tensor is drawn: points, bars, a series, or only its summary. */
export function plotKind(t: TensorData): 'scatter' | 'bars' | 'series' | 'summary' {
  const dims = t.shape.filter((d) => d !== 1);
  if (dims.length === 2 && dims[1] === 2) return 'scatter';
  if (dims.length === 1) return dims[0] <= 64 ? 'bars' : 'series';
  return 'summary';
}

function mixtureDensity(m: Mixture, x: number, y: number): number {
  const total = m.weights.reduce((a, b) => a + b, 0) || 1;
  let p = 0;
  for (let k = 0; k < m.weights.length; k++) {
    const s2 = m.stds[k] ** 2;
    const d2 = (x - m.means[k][0]) ** 2 + (y - m.means[k][1]) ** 2;
    p += (m.weights[k] / total) * Math.exp(-d2 / (2 * s2)) / (2 * Math.PI * s2);
  }
  return p;
}

function frame(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext('2d')!;
  ctx.fillStyle = '#15171b';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  return ctx;
}

/** Points (x, y) over the mixture's density (when known), in a square window around both. */
export function drawScatter(canvas: HTMLCanvasElement, t: TensorData, mixture?: Mixture): void {
  const ctx = frame(canvas);
  const n = t.data.length / 2;
  let [lo, hi] = [Infinity, -Infinity];
  for (const v of t.data) if (Number.isFinite(v)) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  for (const [k, mean] of (mixture?.means ?? []).entries()) for (const v of mean.slice(0, 2)) [lo, hi] = [Math.min(lo, v - 3 * mixture!.stds[k]), Math.max(hi, v + 3 * mixture!.stds[k])];
  if (!(hi > lo)) [lo, hi] = [lo - 1, lo + 1];
  const pad = (hi - lo) * 0.05;
  [lo, hi] = [lo - pad, hi + pad];
  const { width: w, height: hgt } = canvas;
  const px = (x: number) => ((x - lo) / (hi - lo)) * w;
  const py = (y: number) => hgt - ((y - lo) / (hi - lo)) * hgt;
  if (mixture && mixture.means.every((m) => m.length === 2)) {
    const cells = 64;
    const values: number[] = [];
    for (let j = 0; j < cells; j++) for (let i = 0; i < cells; i++) values.push(mixtureDensity(mixture, lo + ((i + 0.5) / cells) * (hi - lo), lo + ((j + 0.5) / cells) * (hi - lo)));
    const top = Math.max(...values) || 1;
    values.forEach((v, idx) => {
      const [i, j] = [idx % cells, Math.floor(idx / cells)];
      ctx.fillStyle = `rgba(66, 165, 245, ${(0.85 * Math.sqrt(v / top)).toFixed(3)})`;
      ctx.fillRect((i / cells) * w, hgt - ((j + 1) / cells) * hgt, w / cells + 1, hgt / cells + 1);
    });
  }
  ctx.fillStyle = 'rgba(255, 179, 0, 0.85)';
  const r = Math.max(1.5, Math.min(3, 600 / Math.sqrt(n + 1) / 10));
  for (let i = 0; i < n; i++) {
    ctx.beginPath();
    ctx.arc(px(t.data[2 * i]), py(t.data[2 * i + 1]), r, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/** One bar per value (FK steering's reward per particle), the zero line drawn. */
export function drawBars(canvas: HTMLCanvasElement, t: TensorData): void {
  const ctx = frame(canvas);
  const values = [...t.data];
  const { min, max } = summarize(t);
  const lo = Math.min(0, min);
  const hi = Math.max(0, max) || 1;
  const { width: w, height: hgt } = canvas;
  const y = (v: number) => hgt - 10 - ((v - lo) / (hi - lo || 1)) * (hgt - 20);
  const bw = w / values.length;
  ctx.fillStyle = '#66bb6a';
  values.forEach((v, i) => ctx.fillRect(i * bw + bw * 0.15, Math.min(y(v), y(0)), bw * 0.7, Math.abs(y(v) - y(0)) || 1));
  ctx.strokeStyle = '#9aa3ad';
  ctx.beginPath();
  ctx.moveTo(0, y(0));
  ctx.lineTo(w, y(0));
  ctx.stroke();
}

/** The values as a line (top) and their histogram (bottom). */
export function drawSeries(canvas: HTMLCanvasElement, t: TensorData): void {
  const ctx = frame(canvas);
  const { min, max } = summarize(t);
  const span = max - min || 1;
  const { width: w, height: hgt } = canvas;
  const half = hgt / 2;
  ctx.strokeStyle = '#ffb300';
  ctx.beginPath();
  t.data.forEach((v, i) => {
    const [x, y] = [(i / Math.max(1, t.data.length - 1)) * w, half - 6 - ((v - min) / span) * (half - 12)];
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.stroke();
  const bins = new Array(32).fill(0);
  for (const v of t.data) bins[Math.min(31, Math.floor(((v - min) / span) * 32))]++;
  const top = Math.max(...bins) || 1;
  ctx.fillStyle = '#42a5f5';
  bins.forEach((c, i) => ctx.fillRect((i / 32) * w + 1, hgt - 4 - (c / top) * (half - 12), w / 32 - 2, (c / top) * (half - 12)));
}

export function drawTensor(canvas: HTMLCanvasElement, t: TensorData, mixture?: Mixture): void {
  const kind = plotKind(t);
  if (kind === 'scatter') drawScatter(canvas, t, mixture);
  else if (kind === 'bars') drawBars(canvas, t);
  else if (kind === 'series') drawSeries(canvas, t);
  else frame(canvas);
}

export function describeTensor(t: TensorData): string {
  const { min, max, mean } = summarize(t);
  const f = (v: number) => (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(3) : v.toFixed(4));
  return `shape [${t.shape.join(', ')}] · min ${f(min)} · max ${f(max)} · mean ${f(mean)}`;
}
