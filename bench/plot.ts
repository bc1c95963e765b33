/**
 * The log-log error-vs-NFE figure, written as SVG by hand and rasterised with @resvg/resvg-js.
 * Two panels (exponential integrators on logSNR grids; k-diffusion samplers on karras grids) sharing the
 * y axis, one line per solver, a legend beside each panel, and the DDIM-at-100-steps error as a reference.
 */
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';

export interface Series {
  label: string;
  points: { nfe: number; error: number }[];
}

export interface Panel {
  title: string;
  series: Series[];
  /** Horizontal reference lines. */
  hlines: { y: number; label: string; dash: string; color: string }[];
  /** Single marked points (e.g. DDIM at 100 steps). */
  marks: { x: number; y: number; label: string }[];
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#000000', '#6b8e23'];
const DASHES = ['', '', '', '', '', '', '', '', '7 4', '', '7 4', '7 4'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond'] as const;

const FONT = 'DejaVu Sans';
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const r = 3.6;
  switch (kind) {
    case 'circle':
      return `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="${r}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${(x - r).toFixed(1)}" y="${(y - r).toFixed(1)}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`;
    case 'triangle':
      return `<polygon points="${x.toFixed(1)},${(y - r * 1.2).toFixed(1)} ${(x - r * 1.1).toFixed(1)},${(y + r * 0.9).toFixed(1)} ${(x + r * 1.1).toFixed(1)},${(y + r * 0.9).toFixed(1)}" fill="${color}"/>`;
    case 'diamond':
      return `<polygon points="${x.toFixed(1)},${(y - r * 1.3).toFixed(1)} ${(x + r * 1.1).toFixed(1)},${y.toFixed(1)} ${x.toFixed(1)},${(y + r * 1.3).toFixed(1)} ${(x - r * 1.1).toFixed(1)},${y.toFixed(1)}" fill="${color}"/>`;
  }
}

function star(x: number, y: number, r: number, color: string): string {
  const pts: string[] = [];
  for (let i = 0; i < 10; i++) {
    const a = -Math.PI / 2 + (i * Math.PI) / 5;
    const rr = i % 2 === 0 ? r : r * 0.45;
    pts.push(`${(x + rr * Math.cos(a)).toFixed(1)},${(y + rr * Math.sin(a)).toFixed(1)}`);
  }
  return `<polygon points="${pts.join(' ')}" fill="${color}" stroke="#000" stroke-width="0.6"/>`;
}

export function errorPlotSvg(panels: Panel[], title: string): string {
  const plotW = 520, plotH = 500, legendW = 270, marginL = 78, marginT = 70, marginB = 70, gap = 40;
  const panelW = marginL + plotW + 16 + legendW;
  const width = panels.length * panelW + (panels.length - 1) * gap + 20;
  const height = marginT + plotH + marginB;

  const all = panels.flatMap((p) => [...p.series.flatMap((s) => s.points.map((q) => q.error)), ...p.hlines.map((h) => h.y), ...p.marks.map((m) => m.y)]);
  const finite = all.filter((v) => Number.isFinite(v) && v > 0);
  // y range in log10 units, padded a little past the data; gridlines and labels at the decades inside it.
  const yLo = Math.log10(Math.min(...finite)) - 0.15;
  const yHi = Math.min(2, Math.ceil(Math.log10(Math.max(...finite))));
  const xLo = Math.log10(4), xHi = Math.log10(120);
  const xTicks = [5, 10, 15, 20, 30, 40, 60, 80, 100];

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT}">`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="${width / 2}" y="28" font-size="19" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);

  panels.forEach((panel, pi) => {
    const ox = 10 + pi * (panelW + gap) + marginL, oy = marginT;
    const X = (nfe: number) => ox + ((Math.log10(nfe) - xLo) / (xHi - xLo)) * plotW;
    const Y = (err: number) => oy + ((yHi - Math.log10(Math.max(err, 10 ** (yLo - 1)))) / (yHi - yLo)) * plotH;
    out.push(`<text x="${ox + plotW / 2}" y="${oy - 14}" font-size="15" text-anchor="middle">${esc(panel.title)}</text>`);
    out.push(`<defs><clipPath id="clip${pi}"><rect x="${ox}" y="${oy}" width="${plotW}" height="${plotH}"/></clipPath></defs>`);
    // Grid: decades and minor ticks on y; chosen NFE values on x.
    for (let e = Math.floor(yLo); e <= yHi; e++) {
      if (e >= yLo) {
        const y = Y(10 ** e);
        out.push(`<line x1="${ox}" y1="${y.toFixed(1)}" x2="${ox + plotW}" y2="${y.toFixed(1)}" stroke="#d0d0d0" stroke-width="1"/>`);
        out.push(`<text x="${ox - 8}" y="${(y + 5).toFixed(1)}" font-size="13" text-anchor="end">10<tspan dy="-6" font-size="10">${e}</tspan></text>`);
      }
      if (e < yHi) {
        for (let m = 2; m <= 9; m++) {
          if (Math.log10(m) + e < yLo) continue;
          const ym = Y(m * 10 ** e);
          out.push(`<line x1="${ox}" y1="${ym.toFixed(1)}" x2="${ox + plotW}" y2="${ym.toFixed(1)}" stroke="#f0f0f0" stroke-width="1"/>`);
        }
      }
    }
    for (const t of xTicks) {
      const x = X(t);
      out.push(`<line x1="${x.toFixed(1)}" y1="${oy}" x2="${x.toFixed(1)}" y2="${oy + plotH}" stroke="#e4e4e4" stroke-width="1"/>`);
      out.push(`<text x="${x.toFixed(1)}" y="${oy + plotH + 20}" font-size="13" text-anchor="middle">${t}</text>`);
    }
    out.push(`<rect x="${ox}" y="${oy}" width="${plotW}" height="${plotH}" fill="none" stroke="#333" stroke-width="1.2"/>`);
    out.push(`<text x="${ox + plotW / 2}" y="${oy + plotH + 48}" font-size="14" text-anchor="middle">NFE (model evaluations, log scale)</text>`);
    out.push(`<text transform="translate(${ox - 56},${oy + plotH / 2}) rotate(-90)" font-size="14" text-anchor="middle">mean L2 error vs exact ODE solution (log scale)</text>`);

    out.push(`<g clip-path="url(#clip${pi})">`);
    for (const h of panel.hlines) {
      const y = Y(h.y);
      out.push(`<line x1="${ox}" y1="${y.toFixed(1)}" x2="${ox + plotW}" y2="${y.toFixed(1)}" stroke="${h.color}" stroke-width="1.6" stroke-dasharray="${h.dash}"/>`);
    }
    panel.series.forEach((s, si) => {
      const color = PALETTE[si % PALETTE.length];
      const pts = [...s.points].filter((p) => Number.isFinite(p.error) && p.error > 0).sort((a, b) => a.nfe - b.nfe);
      if (pts.length === 0) return;
      const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${X(p.nfe).toFixed(1)},${Y(p.error).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8" stroke-dasharray="${DASHES[si % DASHES.length]}" stroke-linejoin="round"/>`);
      for (const p of pts) out.push(marker(MARKERS[si % MARKERS.length], X(p.nfe), Y(p.error), color));
    });
    for (const m of panel.marks) out.push(star(X(m.x), Y(m.y), 9, '#ffd700'));
    out.push(`</g>`);

    // Legend to the right of the plot.
    const lx = ox + plotW + 16;
    let ly = oy + 8;
    panel.series.forEach((s, si) => {
      const color = PALETTE[si % PALETTE.length];
      out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 30}" y2="${ly}" stroke="${color}" stroke-width="1.8" stroke-dasharray="${DASHES[si % DASHES.length]}"/>`);
      out.push(marker(MARKERS[si % MARKERS.length], lx + 15, ly, color));
      out.push(`<text x="${lx + 38}" y="${ly + 4.5}" font-size="12.5">${esc(s.label)}</text>`);
      ly += 21;
    });
    ly += 8;
    for (const h of panel.hlines) {
      out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 30}" y2="${ly}" stroke="${h.color}" stroke-width="1.6" stroke-dasharray="${h.dash}"/>`);
      const lines = h.label.split('\n');
      lines.forEach((line, li) => out.push(`<text x="${lx + 38}" y="${ly + 4.5 + li * 15}" font-size="12">${esc(line)}</text>`));
      ly += 15 * lines.length + 8;
    }
    for (const m of panel.marks) {
      out.push(star(lx + 15, ly, 7, '#ffd700'));
      const lines = m.label.split('\n');
      lines.forEach((line, li) => out.push(`<text x="${lx + 38}" y="${ly + 4.5 + li * 15}" font-size="12">${esc(line)}</text>`));
      ly += 15 * lines.length + 8;
    }
  });
  out.push(`</svg>`);
  return out.join('\n');
}

const FONT_FILES = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf'];

/** Rasterise with resvg (fonts: DejaVu Sans where the system has it, else whatever system font resvg finds). */
export function svgToPng(svg: string, scale = 1.25): Buffer {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: scale },
    background: '#ffffff',
    font: { loadSystemFonts: true, fontFiles: FONT_FILES.filter((f) => existsSync(f)), defaultFontFamily: FONT },
  });
  return resvg.render().asPng();
}
