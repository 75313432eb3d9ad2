'use strict';
/**
 * A dependency-free SVG line chart with error bars: one line per series,
 * points at (x, mean) with a bar of +-sd. The x axis may be logarithmic
 * (pre-training FLOPs span orders of magnitude). Used for the experiments'
 * figures, which go into EXPERIMENTS.md and an HTML page as plain files.
 */

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** "Nice" tick values covering [lo, hi]. */
function linearTicks(lo, hi, n = 5) {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function fmt(v) {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-2) return v.toExponential(1).replace('e+', 'e');
  return Number(v.toPrecision(3)).toString();
}

/**
 * series: [{ name, points: [{ x, mean, sd }] }]; opts: { title, xLabel, yLabel, logX }.
 * Returns the SVG document as a string.
 */
function lineChart(series, opts = {}) {
  const W = 640, H = 400, L = 70, R = 150, T = 40, B = 55;
  const pts = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.mean));
  const tx = (x) => (opts.logX ? Math.log10(x) : x);
  let x0 = Math.min(...pts.map((p) => tx(p.x)));
  let x1 = Math.max(...pts.map((p) => tx(p.x)));
  let y0 = Math.min(...pts.map((p) => p.mean - (p.sd || 0)));
  let y1 = Math.max(...pts.map((p) => p.mean + (p.sd || 0)));
  if (!pts.length) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x1 === x0) { x0 -= 0.5; x1 += 0.5; }
  if (y1 === y0) { y0 -= 0.01; y1 += 0.01; }
  const padX = (x1 - x0) * 0.06, padY = (y1 - y0) * 0.1;
  x0 -= padX; x1 += padX; y0 -= padY; y1 += padY;
  const px = (x) => L + ((tx(x) - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  if (opts.title) out.push(`<text x="${L}" y="22" font-size="14" font-weight="bold">${esc(opts.title)}</text>`);
  // axes and ticks
  out.push(`<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`);
  const xt = opts.logX
    ? linearTicks(x0, x1, 4).map((e) => 10 ** e)
    : linearTicks(x0, x1, 5);
  for (const v of xt) {
    const X = px(v);
    if (X < L - 0.5 || X > W - R + 0.5) continue;
    out.push(`<line x1="${X.toFixed(1)}" y1="${H - B}" x2="${X.toFixed(1)}" y2="${H - B + 5}" stroke="black"/><text x="${X.toFixed(1)}" y="${H - B + 18}" text-anchor="middle">${esc(fmt(v))}</text>`);
  }
  for (const v of linearTicks(y0, y1, 5)) {
    const Y = py(v);
    if (Y < T - 0.5 || Y > H - B + 0.5) continue;
    out.push(`<line x1="${L - 5}" y1="${Y.toFixed(1)}" x2="${W - R}" y2="${Y.toFixed(1)}" stroke="#ddd"/><text x="${L - 8}" y="${(Y + 4).toFixed(1)}" text-anchor="end">${esc(fmt(v))}</text>`);
  }
  if (opts.xLabel) out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(opts.xLabel)}</text>`);
  if (opts.yLabel) out.push(`<text transform="translate(16 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(opts.yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const ps = s.points.filter((p) => Number.isFinite(p.mean)).sort((a, b) => a.x - b.x);
    if (ps.length > 1) out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${ps.map((p) => `${px(p.x).toFixed(1)},${py(p.mean).toFixed(1)}`).join(' ')}"/>`);
    for (const p of ps) {
      const X = px(p.x).toFixed(1);
      if (p.sd > 0) {
        const a = py(p.mean - p.sd).toFixed(1), b = py(p.mean + p.sd).toFixed(1);
        out.push(`<line x1="${X}" y1="${a}" x2="${X}" y2="${b}" stroke="${color}"/><line x1="${+X - 4}" y1="${a}" x2="${+X + 4}" y2="${a}" stroke="${color}"/><line x1="${+X - 4}" y1="${b}" x2="${+X + 4}" y2="${b}" stroke="${color}"/>`);
      }
      out.push(`<circle cx="${X}" cy="${py(p.mean).toFixed(1)}" r="3.5" fill="${color}"/>`);
    }
    const ly = T + 10 + i * 20;
    out.push(`<line x1="${W - R + 15}" y1="${ly}" x2="${W - R + 35}" y2="${ly}" stroke="${color}" stroke-width="2"/><text x="${W - R + 40}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

module.exports = { lineChart, linearTicks };
