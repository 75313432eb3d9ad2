/**
 * The fine-tuning run report: training loss and accuracy, the dev metrics
 * after each epoch and the learning rate, as inline SVG (report.ts's charts).
 */
import { chart, col, esc, MetricRow, smooth, thin } from '../report';
import type { TaskSpec } from './task';

const COLORS = ['#d62728', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b'];

export function renderFinetuneReport(train: MetricRow[], evals: MetricRow[], spec: TaskSpec, info: Record<string, string | number>): string {
  const w = Math.max(1, Math.round(train.length / 100));
  const s = (k: string) => thin(smooth(col(train, k), w), 600);
  const charts = [
    chart('Training loss', [{ name: 'train', color: '#1f77b4', points: s('loss') }], { log: true }),
    chart(`Dev metrics (${spec.name})`, spec.metrics.map((m, i) => ({ name: m, color: COLORS[i % COLORS.length], points: col(evals, m), dots: true }))),
    ...(spec.kind === 'regression' ? [] : [chart('Training accuracy (batch)', [{ name: 'train', color: '#2ca02c', points: s('accuracy') }])]),
    chart('Learning rate (head and top layer)', [{ name: 'lr', color: '#555', points: thin(col(train, 'lr'), 600) }]),
  ];
  const rows = Object.entries(info).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(String(v))}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>electra-native fine-tuning report</title>
<style>body{font-family:sans-serif;max-width:1340px;margin:24px auto;color:#222}figure{display:inline-block;margin:8px;border:1px solid #ddd;padding:8px}
figcaption{font-weight:600;margin-bottom:4px}table{border-collapse:collapse;margin-bottom:16px}th,td{padding:2px 10px;text-align:left;border-bottom:1px solid #eee}</style>
</head><body><h1>electra-native fine-tuning report</h1><table>${rows}</table>${charts.join('\n')}</body></html>
`;
}
