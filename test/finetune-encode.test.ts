import * as fs from 'node:fs';
import * as path from 'node:path';

import * as api from '../lib';
import { ElectraError } from '../lib/errors';
import { encodeExamples, readConll, readGlue, wordGold, wordPredictions } from '../lib/finetune/data';
import type { TaskSpec } from '../lib/finetune/task';
import { computeMetrics } from '../lib/metrics';

// HF transformers' BERT tokenizer on the shipped vocab (scripts/reference/make_finetune_encode_golden.py).
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'finetune_encode.json'), 'utf8')) as {
  tags: string[];
  pairs: { text: string; pair: string; seqLen: number; inputIds: number[]; tokenTypeIds: number[]; attentionMask: number[] }[];
  words: { words: string[]; tags: number[]; seqLen: number; inputIds: number[]; attentionMask: number[]; labels: number[] }[];
};

const cls: TaskSpec = { name: 'rte', kind: 'classification', labels: ['entailment', 'not_entailment'], metrics: ['accuracy'] };
const reg: TaskSpec = { name: 'stsb', kind: 'regression', labels: [], metrics: ['spearman'] };
const tok: TaskSpec = { name: 'pos', kind: 'token', labels: golden.tags, metrics: ['token_accuracy'] };

describe('encodeExamples vs HF transformers', () => {
  test.each(golden.pairs.map((p) => [p.text.slice(0, 30), p] as const))('pair: %s', (_, p) => {
    const e = encodeExamples(cls, [{ line: 1, id: '0', text: p.text, pair: p.pair, label: 1 }], { seqLen: p.seqLen });
    expect(Array.from(e.inputIds)).toEqual(p.inputIds);
    expect(Array.from(e.tokenTypeIds)).toEqual(p.tokenTypeIds);
    expect(Array.from(e.attentionMask)).toEqual(p.attentionMask);
    expect(Array.from(e.labels)).toEqual([1]);
  });

  test.each(golden.words.map((w) => [w.words.join(' '), w] as const))('words: %s', (_, w) => {
    const e = encodeExamples(tok, [{ line: 1, id: '0', words: w.words, tags: w.tags }], { seqLen: w.seqLen });
    expect(Array.from(e.inputIds)).toEqual(w.inputIds);
    expect(Array.from(e.attentionMask)).toEqual(w.attentionMask);
    expect(Array.from(e.tokenTypeIds)).toEqual(new Array(w.seqLen).fill(0));
    expect(Array.from(e.labels)).toEqual(w.labels);
  });
});

describe('encodeExamples layout', () => {
  test('a batch is row-major [count, seqLen]; truncated rows are counted', () => {
    const p = golden.pairs;
    const ex = p.map((c, i) => ({ line: i + 1, id: String(i), text: c.text, pair: c.pair, label: i % 2 }));
    const e = encodeExamples(cls, ex, { seqLen: 12 });
    expect([e.kind, e.count, e.seqLen, e.inputIds.length, e.labels.length]).toEqual(['classification', p.length, 12, 12 * p.length, p.length]);
    expect(e.labels).toBeInstanceOf(Int32Array);
    for (let i = 0; i < p.length; i++) {
      const one = encodeExamples(cls, [ex[i]], { seqLen: 12 });
      expect(Array.from(e.inputIds.subarray(i * 12, i * 12 + 12))).toEqual(Array.from(one.inputIds));
    }
    // Untruncated lengths: 15, 23, 20, 20, 6, 19 ids -> all but "exactly fits" exceed 12.
    expect(e.truncated).toBe(5);
  });

  test('regression labels are Float32Array; unlabelled examples get -1 / NaN', () => {
    const r = encodeExamples(reg, [{ line: 1, id: '0', text: 'a', pair: 'b', label: 4.75 }, { line: 2, id: '1', text: 'c', pair: 'd' }], { seqLen: 8 });
    expect(r.labels).toBeInstanceOf(Float32Array);
    expect(r.labels[0]).toBe(4.75);
    expect(r.labels[1]).toBeNaN();
    const c = encodeExamples(cls, [{ line: 1, id: '0', text: 'a' }], { seqLen: 4 });
    expect(Array.from(c.labels)).toEqual([-1]);
    expect(Array.from(c.tokenTypeIds)).toEqual([0, 0, 0, 0]);
  });

  test('read -> encode end to end on a GLUE sample', () => {
    const d = readGlue('rte', 'index\tsentence1\tsentence2\tlabel\n0\tThe cat sat.\tA cat.\tnot_entailment\n', 'dev.tsv');
    const e = encodeExamples(d.spec, d.examples, { seqLen: 16 });
    expect(Array.from(e.labels)).toEqual([1]);
    expect(Array.from(e.attentionMask).reduce((a, b) => a + b, 0)).toBe(10); // [CLS] the cat sat . [SEP] a cat . [SEP]
  });

  test('bad seqLen and mismatched tags are ERR_INVALID_ARGUMENT', () => {
    const bad = (fn: () => unknown, re: RegExp) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(ElectraError);
        expect((e as ElectraError).message).toMatch(re);
        return;
      }
      throw new Error('no error');
    };
    bad(() => encodeExamples(cls, [{ line: 1, id: '0', text: 'a', pair: 'b' }], { seqLen: 2 }), /seqLen must be an integer >= 3/);
    bad(() => encodeExamples(tok, [{ line: 1, id: '0', words: ['a'], tags: [0, 1] }], { seqLen: 8 }), /1 words but 2 tags/);
  });
});

describe('word-level predictions', () => {
  const d = readConll('The DET\nFulton NOUN\nelectroencephalography NOUN\nsaid VERB\n\n\u200b X\nran VERB\n', 'p.conll', { labels: ['DET', 'NOUN', 'VERB', 'X'] });

  test('every word maps to its first piece, or to -1 when cut off or pieceless', () => {
    const e = encodeExamples(d.spec, d.examples, { seqLen: 6 });
    // Sentence 0: [CLS] the fulton electro ##ence [SEP]: "said" is cut off. Sentence 1: U+200B has no piece.
    expect(e.truncated).toBe(1);
    expect(e.droppedWords).toBe(2);
    expect(Array.from(e.words!.offsets)).toEqual([0, 4, 6]);
    expect(Array.from(e.words!.positions)).toEqual([1, 2, 3, -1, -1, 7]);
    const gold = wordGold(d.examples);
    expect(Array.from(gold)).toEqual([0, 1, 1, 2, 3, 2]);
    // A perfect per-piece prediction scores 4/6 at word level: the two position-less words count as wrong.
    const wp = wordPredictions(e.words!, Array.from(e.labels).map((l) => Math.max(l, 0)));
    expect(Array.from(wp)).toEqual([0, 1, 1, -1, -1, 2]);
    expect(computeMetrics(d.spec, wp, gold).token_accuracy).toBeCloseTo(4 / 6, 12);
    // The per-piece view (encoded labels as gold) scores only the words that fit.
    expect(computeMetrics(d.spec, Array.from(e.labels).map((l) => Math.max(l, 0)), e.labels).token_accuracy).toBe(1);
  });
});

describe('public API', () => {
  test('the data and metrics functions are exported from the package root', () => {
    expect(api.encodeExamples).toBe(encodeExamples);
    expect(api.computeMetrics).toBe(computeMetrics);
    expect(typeof api.loadBrownTask).toBe('function');
    expect(typeof api.readGlueFile).toBe('function');
  });
});
