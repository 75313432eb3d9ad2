/**
 * A self-contained HTML report of a training run: loss and accuracy curves as
 * inline SVG (no scripts, no network), with evaluation points marked.
 */

/** One row of metrics.jsonl (train steps) or eval.jsonl (evaluations). */
export interface MetricRow {
  step: number;
  [k: string]: number | string | undefined;
}

export interface Series {
  name: string;
  color: string;
  points: Array<[number, number]>;
  dots?: boolean;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Mean over a trailing window, so noisy per-step curves stay readable. */
export function smooth(points: Array<[number, number]>, window: number): Array<[number, number]> {
  if (window <= 1) return points;
  const out: Array<[number, number]> = [];
  let sum = 0;
  for (let i = 0; i < points.length; i++) {
    sum += points[i][1];
    if (i >= window) sum -= points[i - window][1];
    out.push([points[i][0], sum / Math.min(i + 1, window)]);
  }
  return out;
}

/** Keeps at most `max` points (evenly spaced) so a long run's SVG stays small. */
export function thin(points: Array<[number, number]>, max: number): Array<[number, number]> {
  if (points.length <= max) return points;
  const out: Array<[number, number]> = [];
  for (let i = 0; i < max; i++) out.push(points[Math.round((i * (points.length - 1)) / (max - 1))]);
  return out;
}

export function chart(title: string, series: Series[], opts: { log?: boolean } = {}): string {
  const W = 640, H = 280, L = 56, R = 12, T = 28, B = 32;
  const all = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y) && (!opts.log || y > 0));
  if (all.length === 0) return `<figure><figcaption>${esc(title)}</figcaption><p>no data</p></figure>`;
  const fy = (y: number) => (opts.log ? Math.log10(y) : y);
  const xs = all.map(([x]) => x), ys = all.map(([, y]) => fy(y));
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => T + (1 - (fy(y) - y0) / (y1 - y0)) * (H - T - B);
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const v = y0 + ((y1 - y0) * i) / 4;
    const y = T + (1 - i / 4) * (H - T - B);
    const label = opts.log ? Number((10 ** v).toPrecision(3)) : Number(v.toPrecision(3));
    ticks.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#eee"/><text x="${L - 6}" y="${y + 4}" text-anchor="end">${label}</text>`);
  }
  for (let i = 0; i <= 4; i++) {
    const v = Math.round(x0 + ((x1 - x0) * i) / 4);
    ticks.push(`<text x="${px(v)}" y="${H - 10}" text-anchor="middle">${v}</text>`);
  }
  const paths = series.map((s) => {
    const pts = s.points.filter(([, y]) => Number.isFinite(y) && (!opts.log || y > 0));
    if (s.dots) return pts.map(([x, y]) => `<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${s.color}"/>`).join('');
    const d = pts.map(([x, y], i) => `${i ? 'L' : 'M'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join('');
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.6"/>`;
  });
  const legend = series.map((s, i) => `<text x="${L + 8 + i * 150}" y="16" fill="${s.color}">${s.dots ? '●' : '—'} ${esc(s.name)}</text>`);
  return `<figure><figcaption>${esc(title)}</figcaption><svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-size="11" font-family="sans-serif">${ticks.join('')}${paths.join('')}${legend.join('')}<text x="${W - R}" y="${H - 10}" text-anchor="end" fill="#888">step</text></svg></figure>`;
}

export function col(rows: MetricRow[], key: string): Array<[number, number]> {
  return rows.filter((r) => typeof r[key] === 'number').map((r) => [r.step, r[key] as number]);
}

/** Builds the HTML page. `info` is shown as a key/value table at the top. */
export function renderReport(train: MetricRow[], evals: MetricRow[], info: Record<string, string | number>): string {
  const w = Math.max(1, Math.round(train.length / 100));
  const s = (k: string) => thin(smooth(col(train, k), w), 600);
  const e = (k: string) => col(evals, k);
  const charts = [
    chart('Total loss (gen + λ·disc)', [
      { name: 'train', color: '#1f77b4', points: s('loss') },
      { name: 'eval', color: '#d62728', points: e('loss'), dots: true },
    ], { log: true }),
    chart('Generator (MLM) loss', [
      { name: 'train', color: '#1f77b4', points: s('genLoss') },
      { name: 'eval', color: '#d62728', points: e('genLoss'), dots: true },
    ]),
    chart('Discriminator loss', [
      { name: 'train', color: '#1f77b4', points: s('discLoss') },
      { name: 'eval', color: '#d62728', points: e('discLoss'), dots: true },
    ]),
    chart('Accuracy', [
      { name: 'generator (masked)', color: '#2ca02c', points: s('genAccuracy') },
      { name: 'discriminator', color: '#9467bd', points: s('discAccuracy') },
      { name: 'eval gen', color: '#d62728', points: e('genAccuracy'), dots: true },
      { name: 'eval disc', color: '#ff7f0e', points: e('discAccuracy'), dots: true },
    ]),
    chart('Discriminator ROC-AUC of "replaced" (0.5 = chance)', [
      { name: 'train batch', color: '#9467bd', points: s('discAuc') },
      { name: 'held-out', color: '#d62728', points: e('discAuc'), dots: true },
    ]),
    chart('Learning rate', [{ name: 'lr', color: '#555', points: thin(col(train, 'lr'), 600) }]),
  ];
  const rows = Object.entries(info).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>electra-native run report</title>
<style>body{font-family:sans-serif;max-width:1340px;margin:24px auto;color:#222}figure{display:inline-block;margin:8px;border:1px solid #ddd;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}table{border-collapse:collapse;margin-bottom:16px}th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}</style>
</head><body><h1>electra-native run report</h1><table>${rows}</table>${charts.join('\n')}</body></html>
`;
}
