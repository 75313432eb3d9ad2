/**
 * The experiment scripts' own pieces (scripts/experiments/lib): statistics
 * against scipy's values, the figure, the EXPERIMENTS.md section update and
 * the FLOP accounting; and each script end to end at toy scale.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';

/* eslint-disable @typescript-eslint/no-require-imports */
const stats = require('../scripts/experiments/lib/stats');
const svg = require('../scripts/experiments/lib/svg');
const report = require('../scripts/experiments/lib/report');
const budget = require('../scripts/experiments/lib/budget');
const runs = require('../scripts/experiments/lib/runs');

describe('experiment statistics', () => {
  // scipy.stats.ttest_ind(a, b, equal_var=False): statistic, pvalue, df
  const cases: [number[], number[], number, number, number][] = [
    [[0.71, 0.73, 0.72], [0.69, 0.7, 0.72], 1.5811388300842038, 0.20017303952050666, 3.4482758620689653],
    [[1, 2, 3, 4], [2, 4, 6, 8, 10], -2.2514363231593695, 0.06913359319239237, 5.520787746170677],
    [[0.5, 0.52], [0.4, 0.41, 0.39], 9.526279441628818, 0.018373564895516562, 1.6842105263157858],
  ];
  test.each(cases)("Welch's t-test of %j vs %j matches scipy", (a, b, t, p, df) => {
    const w = stats.welch(a, b);
    expect(w.t).toBeCloseTo(t, 10);
    expect(w.df).toBeCloseTo(df, 10);
    expect(Math.abs(w.p - p)).toBeLessThan(1e-8);
  });

  test('Student-t tail matches scipy (2 * t.sf(2.5, 7))', () => {
    expect(Math.abs(stats.studentTwoSidedP(2.5, 7) - 0.04099221858575289)).toBeLessThan(1e-9);
  });

  test('mean and sample standard deviation; no test without spread or with one seed', () => {
    expect(stats.mean([1, 2, 3])).toBe(2);
    expect(stats.sd([1, 2, 3])).toBeCloseTo(1, 12);
    expect(stats.sd([5])).toBe(0);
    expect(Number.isNaN(stats.welch([1], [2, 3]).p)).toBe(true);
    expect(Number.isNaN(stats.welch([1, 1], [1, 1]).p)).toBe(true);
  });
});

describe('experiment outputs', () => {
  test('the figure is one well-formed SVG with a line, error bars and a legend entry per series', () => {
    const doc: string = svg.lineChart(
      [
        { name: 'ELECTRA', points: [{ x: 1e13, mean: 0.7, sd: 0.01 }, { x: 4e13, mean: 0.75, sd: 0.02 }] },
        { name: 'masked LM', points: [{ x: 1e13, mean: 0.65, sd: 0 }, { x: 4e13, mean: 0.7, sd: 0.03 }] },
      ],
      { title: 'a <title>', xLabel: 'FLOPs', yLabel: 'score', logX: true },
    );
    expect(doc.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(doc.trim().endsWith('</svg>')).toBe(true);
    expect((doc.match(/<polyline /g) ?? []).length).toBe(2);
    expect((doc.match(/<circle /g) ?? []).length).toBe(4);
    expect(doc).toContain('a &lt;title&gt;');
    expect(doc).toContain('>masked LM</text>');
    // three error bars (one has sd 0), each a vertical line and two caps
    const bars = (doc.match(/<line [^>]*stroke="#(1f77b4|d62728)"\/>/g) ?? []).length;
    expect(bars).toBe(3 * 3);
  });

  test('EXPERIMENTS.md sections are replaced in place, other text kept', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exp-doc-'));
    const doc = path.join(dir, 'EXPERIMENTS.md');
    fs.writeFileSync(doc, '# Experiments\n\nintro\n\n<!-- a:begin -->\nold\n<!-- a:end -->\n\nafter\n');
    report.updateDoc('a', 'new table', doc);
    report.updateDoc('b', 'second', doc);
    report.updateDoc('b', 'second v2', doc);
    const text = fs.readFileSync(doc, 'utf8');
    expect(text).toBe('# Experiments\n\nintro\n\n<!-- a:begin -->\nnew table\n<!-- a:end -->\n\nafter\n\n<!-- b:begin -->\nsecond v2\n<!-- b:end -->\n');
  });

  test('a markdown table round-trips into an HTML table', () => {
    const md: string = report.markdownTable(['a', 'b'], [['1', '<2>']]);
    expect(md).toBe('| a | b |\n| --- | --- |\n| 1 | <2> |\n');
    expect(report.markdownToHtmlTable(md)).toBe('<table><tr><th>a</th><th>b</th></tr>\n<tr><td>1</td><td>&lt;2&gt;</td></tr></table>');
  });
});

describe('equal-compute accounting', () => {
  test('an MLM step of the discriminator size costs less than an ELECTRA step, so it gets more steps', () => {
    const e = budget.resolveConfig({ preset: 'tiny', objective: 'electra', vocabSize: 8192 });
    const m = budget.resolveConfig({ preset: 'tiny', objective: 'mlm', vocabSize: 8192, generator: { ...e.discriminator } });
    const shape = { batch: 16, seq: 128 };
    const fe = budget.stepFlops(e, shape);
    const fm = budget.stepFlops(m, shape);
    expect(fm).toBeLessThan(fe);
    // The MLM model is the discriminator: its encoder FLOPs equal the discriminator's.
    const { encoderForwardFlops } = require('../scripts/bench/flops');
    expect(encoderForwardFlops(m.generator, 128, m.embeddingSize)).toBe(encoderForwardFlops(e.discriminator, 128, e.embeddingSize));
    const budgetFlops = 1000 * fe;
    expect(budget.stepsFor(budgetFlops, fe)).toBe(1000);
    expect(budget.stepsFor(budgetFlops, fm)).toBe(Math.round(budgetFlops / fm));
    expect(budget.stepsFor(budgetFlops, fm)).toBeGreaterThan(1000);
  });

  test('latestStep reads LATEST (and -1 when there is no checkpoint)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exp-run-'));
    expect(runs.latestStep(dir)).toBe(-1);
    fs.mkdirSync(path.join(dir, 'checkpoints'));
    fs.writeFileSync(path.join(dir, 'checkpoints', 'LATEST'), 'step-000042\n');
    expect(runs.latestStep(dir)).toBe(42);
  });

  test('a score is cached per suite arguments: the same arguments reuse it, other arguments never read it', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'exp-score-'));
    const pos = ['--tasks', 'brown-pos', '--epochs', '3'];
    const both = ['--epochs', '2'];
    expect(runs.scoreFile(dir, pos)).not.toBe(runs.scoreFile(dir, both));
    const result = { tasks: [{ task: 'brown-pos', metrics: ['accuracy'], dev: { accuracy: 0.5 }, test: { accuracy: 0.6 } }] };
    fs.writeFileSync(runs.scoreFile(dir, pos), JSON.stringify({ args: pos, result }));
    // A cache hit: the directory holds no model, so scoring for real would throw.
    expect(runs.score(dir, pos, { quiet: true })).toEqual(result);
    expect(() => runs.score(dir, both, { quiet: true })).toThrow(/eval-suite/);
  });
});

describe('experiment scripts', () => {
  test.each(['electra-vs-mlm', 'generator-size'])('%s --help lists its options and an unknown option is an error', (name) => {
    const script = path.join(__dirname, '..', 'scripts', 'experiments', name);
    const help = spawnSync(process.execPath, [script, '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--scale');
    const bad = spawnSync(process.execPath, [script, '--sclae', '2'], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('unknown option --sclae');
  });
});

describe('experiment scripts end to end at toy scale (a pipeline check: the numbers mean nothing)', () => {
  const root = path.join(__dirname, '..');
  test.each([
    ['electra-vs-mlm', 8],
    ['generator-size', 2],
  ])('%s --toy pre-trains, scores with eval-suite, writes the table, figure and page, and skips finished runs on a re-run', (name, runs) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), `exp-${name}-`));
    const script = path.join(root, 'scripts', 'experiments', name as string);
    const first = spawnSync(process.execPath, [script, '--toy', '--out', out], { encoding: 'utf8', cwd: root });
    expect(first.stderr).not.toContain('failed');
    expect(first.status).toBe(0);
    const results = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    expect(results.results.length).toBe(runs);
    for (const r of results.results) {
      expect(r.test).toBeGreaterThan(0);
      expect(r.test).toBeLessThanOrEqual(1);
      expect(fs.readdirSync(path.join(out, r.name)).filter((f) => /^eval-suite-[0-9a-f]{12}\.json$/.test(f))).toHaveLength(1);
      if (r.objective === 'electra') expect(r.upstream).toEqual(expect.objectContaining({ genAccuracy: expect.any(Number) }));
    }
    // Every run was done by this first call (in the sweep or the results: a winning sweep run is listed in both).
    type Run = { name: string; ran: boolean };
    const listed: Run[] = [...(results.sweep ?? []), ...results.results];
    expect(new Set(listed.filter((r) => r.ran).map((r) => r.name)).size).toBe(new Set(listed.map((r) => r.name)).size);
    expect(fs.readFileSync(path.join(out, 'figure.svg'), 'utf8')).toMatch(/^<svg[\s\S]*<\/svg>\n$/);
    expect(fs.readFileSync(path.join(out, 'index.html'), 'utf8')).toContain('<table>');
    expect(first.stdout).toContain('| --- |');
    const again = spawnSync(process.execPath, [script, '--toy', '--out', out], { encoding: 'utf8', cwd: root });
    expect(again.status).toBe(0);
    expect(again.stderr).not.toContain('$ electra-native');
    const second = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8')).results;
    expect(second.map((r: { test: number }) => r.test)).toEqual(results.results.map((r: { test: number }) => r.test));
    expect(second.every((r: { ran: boolean }) => r.ran === false)).toBe(true);
  }, 600_000);
});
