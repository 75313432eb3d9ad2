import * as fs from 'node:fs';
import * as path from 'node:path';

import { ElectraError } from '../lib/errors';
import type { TaskSpec } from '../lib/finetune/task';
import { accuracy, averageRanks, computeMetrics, f1, macroF1, matthews, METRICS, pearson, spearman } from '../lib/metrics';

interface Case {
  name: string;
  pred: number[];
  gold: number[];
  [metric: string]: unknown;
}
// Values from numpy/scipy (scripts/reference/make_metrics_golden.py).
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'metrics.json'), 'utf8')) as { cases: Case[] };

describe('metrics vs numpy/scipy (test/golden/metrics.json)', () => {
  const fns: Record<string, (p: number[], g: number[]) => number> = {
    accuracy,
    f1: (p, g) => f1(p, g, 1),
    macro_f1: macroF1,
    mcc: matthews,
    pearson,
    spearman,
  };
  for (const c of golden.cases) {
    test(c.name, () => {
      let checked = 0;
      for (const [name, fn] of Object.entries(fns)) {
        if (!(name in c)) continue;
        expect({ metric: name, value: fn(c.pred, c.gold) }).toEqual({ metric: name, value: expect.closeTo(c[name] as number, 12) });
        checked++;
      }
      expect(checked).toBeGreaterThanOrEqual(2);
    });
  }
  test('the golden file covers every metric function and both tied and untied ranks', () => {
    const seen = new Set(golden.cases.flatMap((c) => Object.keys(c)));
    for (const k of Object.keys(fns)) expect(seen.has(k)).toBe(true);
  });
});

describe('metric details', () => {
  test('hand-checked binary case: TP 3, FP 1, FN 1, TN 3', () => {
    const p = [1, 0, 1, 1, 0, 1, 0, 0];
    const g = [1, 0, 0, 1, 0, 1, 1, 0];
    expect(accuracy(p, g)).toBe(0.75);
    expect(f1(p, g)).toBe(0.75); // 2*3 / (2*3 + 1 + 1)
    expect(matthews(p, g)).toBe(0.5); // (3*3 - 1*1) / sqrt(4*4*4*4)
  });
  test('average ranks for ties (scipy rankdata)', () => {
    expect(Array.from(averageRanks([10, 20, 20, 5, 20]))).toEqual([2, 4, 4, 1, 4]);
  });
  test('constant inputs: correlations are NaN (scipy), MCC is 0 (sklearn)', () => {
    expect(pearson([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(spearman([1, 2, 3], [4, 4, 4])).toBeNaN();
    expect(matthews([1, 1, 1], [0, 1, 0])).toBe(0);
  });
  test('a -1 prediction is always wrong and is not a class for macro-F1', () => {
    expect(accuracy([-1, 1], [0, 1])).toBe(0.5);
    // class 0: tp 0, fn 1 -> 0; class 1: tp 1 -> 1; mean 0.5 (no third class for -1)
    expect(macroF1([-1, 1], [0, 1])).toBe(0.5);
  });
});

describe('computeMetrics', () => {
  const cls: TaskSpec = { name: 'mrpc', kind: 'classification', labels: ['0', '1'], metrics: ['accuracy', 'f1', 'mcc'] };
  const reg: TaskSpec = { name: 'stsb', kind: 'regression', labels: [], metrics: ['spearman', 'pearson'] };
  const tok: TaskSpec = { name: 'pos', kind: 'token', labels: ['A', 'B', 'C'], metrics: ['token_accuracy', 'token_macro_f1'] };

  test('returns exactly the spec metrics, in its order', () => {
    const m = computeMetrics(cls, [1, 0, 1, 1], [1, 0, 0, 1]);
    expect(Object.keys(m)).toEqual(['accuracy', 'f1', 'mcc']);
    expect(m.accuracy).toBe(0.75);
    expect(m.f1).toBeCloseTo(0.8, 12);
    const r = computeMetrics(reg, Float32Array.from([0.1, 0.5, 0.4]), [1, 3, 2]);
    expect(r.spearman).toBeCloseTo(1, 12);
    expect(r.pearson).toBeCloseTo(pearson([0.1, 0.5, 0.4].map(Math.fround), [1, 3, 2]), 12);
  });

  test('token tasks skip gold -1 (pieces after the first of a word) and count a -1 prediction as wrong', () => {
    const gold = Int32Array.from([-1, 0, -1, 1, 2, -1, 2, -1]);
    const pred = Int32Array.from([2, 0, 1, 1, -1, 0, 2, 0]);
    const m = computeMetrics(tok, pred, gold);
    expect(m.token_accuracy).toBe(0.75); // words: 0 ok, 1 ok, 2 missed, 2 ok
    // A: 1, B: 1, C: tp 1 fn 1 -> 2/3
    expect(m.token_macro_f1).toBeCloseTo((1 + 1 + 2 / 3) / 3, 12);
  });

  test('every declared metric runs on its kind', () => {
    for (const [name, def] of Object.entries(METRICS)) {
      for (const kind of def.kinds) {
        const spec: TaskSpec = { name: 't', kind, labels: kind === 'regression' ? [] : ['a', 'b'], metrics: [name] };
        const v = computeMetrics(spec, [0, 1, 1], [0, 1, 0])[name];
        expect(Number.isFinite(v)).toBe(true);
      }
    }
  });

  test.each([
    [cls, [1, 0], [1], /2 predictions for 1 gold/],
    [cls, [], [], /nothing to score/],
    [cls, [2], [1], /prediction 2 at 0 is not a class index/],
    [cls, [1], [-1], /gold label -1/],
    [reg, [NaN, 1], [1, 2], /non-finite/],
    [{ ...cls, metrics: ['pearson'] }, [1], [1], /'pearson' does not apply to a classification task/],
    [{ ...cls, metrics: ['bleu'] }, [1], [1], /unknown metric 'bleu'/],
    [tok, [0, 1], [-1, -1], /nothing to score/],
  ] as [TaskSpec, number[], number[], RegExp][])('bad input: %#', (spec, p, g, msg) => {
    let err: unknown;
    try {
      computeMetrics(spec, p, g);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ElectraError);
    expect((err as ElectraError).code).toBe('ERR_INVALID_ARGUMENT');
    expect((err as ElectraError).message).toMatch(msg);
  });
});
