import { renderReport } from '../lib/report';

describe('run report', () => {
  test('renders self-contained SVG curves with evaluation points', () => {
    const train = Array.from({ length: 50 }, (_, i) => ({ step: i + 1, loss: 30 - i / 5, genLoss: 5 - i / 50, discLoss: 0.5 - i / 500, genAccuracy: i / 100, discAccuracy: 0.8 + i / 1000, lr: 1e-3 }));
    const evals = [{ step: 25, loss: 25, genLoss: 4.6, discLoss: 0.45, genAccuracy: 0.2, discAccuracy: 0.85 }];
    const html = renderReport(train, evals, { preset: 'tiny', 'run <dir>': '/tmp/x' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect((html.match(/<svg /g) ?? []).length).toBe(5);
    expect((html.match(/<circle /g) ?? []).length).toBe(5); // one eval point in 5 eval series
    expect(html).toContain('run &lt;dir&gt;');
    expect(html).toMatch(/<path d="M[\d.]+,[\d.]+L/);
  });

  test('empty metrics give a page that says so instead of failing', () => {
    expect(renderReport([], [], {})).toContain('no data');
  });
});
