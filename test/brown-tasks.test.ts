import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { defaultCorpusPaths } from '../lib/data/default-corpus';
import { ElectraError } from '../lib/errors';
import {
  BROWN_GENRES,
  BROWN_POS_TAGS,
  BROWN_SPLITS,
  brownTaskFile,
  encodeExamples,
  loadBrownTask,
  TextExample,
  TokenExample,
} from '../lib/finetune/data';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const converter = require('../scripts/corpus/convert-brown-tasks.js') as {
  GENRES: [string, string][];
  UNIVERSAL_TAGS: string[];
  universalTag: (t: string) => string;
  assignSplits: (names: string[]) => Map<string, string>;
  buildTasks: (
    files: { name: string; text: string }[],
    caps?: unknown,
  ) => { out: Record<string, string>; counts: { docs: Record<string, number> } };
};

const docOf = (e: TextExample) => e.id.split('.')[0];

describe('the shipped Brown evaluation tasks (corpus/eval)', () => {
  // The sizes corpus/NOTICE documents.
  const EXPECTED = {
    'brown-pos': { train: [8000, 162212], dev: [1000, 20273], test: [2841, 58248] },
    'brown-genre': { train: 6000, dev: 1000, test: 939 },
  };

  test('the loader and the converter agree on the label sets: 12 universal tags, 15 genres', () => {
    expect(BROWN_POS_TAGS).toEqual(converter.UNIVERSAL_TAGS);
    expect(BROWN_POS_TAGS.length).toBe(12);
    expect(BROWN_GENRES).toEqual(converter.GENRES.map(([, name]) => name));
    expect(new Set(BROWN_GENRES).size).toBe(15);
  });

  test.each(BROWN_SPLITS)('brown-pos %s: sentences, words, tags', (split) => {
    const d = loadBrownTask('brown-pos', split);
    const [sentences, words] = EXPECTED['brown-pos'][split];
    expect(d.spec).toEqual({ name: 'brown-pos', kind: 'token', labels: BROWN_POS_TAGS, metrics: ['token_accuracy', 'token_macro_f1'] });
    expect(d.labeled).toBe(true);
    expect([d.rows, d.examples.length]).toEqual([sentences, sentences]);
    expect(d.examples.reduce((n, e) => n + e.words.length, 0)).toBe(words);
    const used = new Set(d.examples.flatMap((e) => e.tags!));
    expect(used.size).toBe(12); // every tag occurs in every split
  });

  test.each(BROWN_SPLITS)('brown-genre %s: passages and genres', (split) => {
    const d = loadBrownTask('brown-genre', split);
    expect(d.spec).toEqual({ name: 'brown-genre', kind: 'classification', labels: BROWN_GENRES, metrics: ['accuracy', 'macro_f1'] });
    expect(d.rows).toBe(EXPECTED['brown-genre'][split]);
    const genres = new Set(d.examples.map((e) => e.label));
    // No science-fiction document is among the 25 held out of pre-training (corpus/NOTICE).
    expect(genres.size).toBe(split === 'test' ? 14 : 15);
    for (const e of d.examples) expect(BROWN_GENRES[e.label!]).toBe(converter.GENRES.find(([c]) => c === docOf(e)[1])![1]);
  });

  test('splits are by document: disjoint, test = the documents held out of pre-training, as assignSplits says', () => {
    const docs = new Map<string, string>();
    for (const split of BROWN_SPLITS) {
      for (const e of loadBrownTask('brown-genre', split).examples) {
        const prev = docs.get(docOf(e));
        expect(prev === undefined || prev === split).toBe(true);
        docs.set(docOf(e), split);
      }
    }
    expect(docs.size).toBe(500);
    const assigned = converter.assignSplits([...docs.keys()].sort());
    expect(Object.fromEntries(docs)).toEqual(Object.fromEntries(assigned));
    const test = [...docs].filter(([, s]) => s === 'test').map(([d]) => d);
    expect(test.length).toBe(25);
    expect(test.slice(0, 4)).toEqual(['ca20', 'ca40', 'cb16', 'cc09']); // the 20th, 40th, 60th, 80th files
  });

  test('no test passage is in the pre-training corpus; each is in the held-out file', () => {
    const { train, heldout } = defaultCorpusPaths();
    // One sentence per line there, a passage joins 3 with spaces.
    const pre = zlib.gunzipSync(fs.readFileSync(train)).toString('utf8').replace(/\n/g, ' ');
    const heldLines = zlib.gunzipSync(fs.readFileSync(heldout)).toString('utf8');
    const held = heldLines.replace(/\n/g, ' ');
    const test = loadBrownTask('brown-genre', 'test').examples;
    for (const e of test) {
      expect({ id: e.id, inHeldout: held.includes(e.text), inPretraining: pre.includes(e.text) }).toEqual({ id: e.id, inHeldout: true, inPretraining: false });
    }
    // brown-pos test holds every sentence of the held-out documents.
    const heldSentences = heldLines.split('\n').filter((l) => l.trim() !== '').length;
    expect(loadBrownTask('brown-pos', 'test').rows).toBe(heldSentences);
  });

  test('limit keeps evenly spaced examples, deterministically', () => {
    const all = loadBrownTask('brown-genre', 'dev');
    const a = loadBrownTask('brown-genre', 'dev', { limit: 100 });
    const b = loadBrownTask('brown-genre', 'dev', { limit: 100 });
    expect(a.examples).toEqual(b.examples);
    expect(a.examples.length).toBe(100);
    expect(a.rows).toBe(all.rows);
    expect(a.examples[1]).toEqual(all.examples[10]);
    expect(loadBrownTask('brown-pos', 'test', { limit: 5000 }).examples.length).toBe(2841);
  });

  test('files are deterministic gzip (no time stamp, no name) within the size budget', () => {
    let total = 0;
    for (const task of ['brown-pos', 'brown-genre'] as const) {
      for (const split of BROWN_SPLITS) {
        const gz = fs.readFileSync(brownTaskFile(task, split));
        expect([gz[0], gz[1], gz[3]]).toEqual([0x1f, 0x8b, 0]); // FLG 0: no name
        expect(gz.readUInt32LE(4)).toBe(0); // MTIME 0
        total += gz.length;
      }
    }
    expect(total).toBeLessThan(3 * 1024 * 1024);
  });

  test('encodes at seqLen 128 with little truncation', () => {
    const pos = loadBrownTask('brown-pos', 'dev');
    const e = encodeExamples(pos.spec, pos.examples, { seqLen: 128 });
    expect(e.droppedWords! / pos.examples.reduce((n, x) => n + x.words.length, 0)).toBeLessThan(0.01);
    const g = loadBrownTask('brown-genre', 'dev', { limit: 200 });
    expect(encodeExamples(g.spec, g.examples, { seqLen: 128 }).truncated).toBeLessThan(40);
  });

  test('bad task, split or limit', () => {
    for (const f of [
      () => loadBrownTask('brown-ner' as 'brown-pos', 'dev'),
      () => loadBrownTask('brown-pos', 'valid' as 'dev'),
      () => loadBrownTask('brown-pos', 'dev', { limit: 0 }),
    ]) {
      expect(f).toThrow(ElectraError);
    }
  });
});

describe('convert-brown-tasks.js', () => {
  test('universal tags: suffixes, negation, compounds (first component), foreign words', () => {
    const u = converter.universalTag;
    expect(['at', 'nn-tl', 'np$', 'bez*', 'ber*-nc', '*', '*-hl', 'pps+bez', 'md+hv', 'fw-nn', 'fw-in+at-tl', '---hl', '``', 'ppss+ber-n', 'nil']
      .map(u)).toEqual(['DET', 'NOUN', 'NOUN', 'VERB', 'VERB', 'ADV', 'ADV', 'PRON', 'VERB', 'X', 'X', '.', '.', 'PRON', 'X']);
    expect(() => u('zz')).toThrow(/no universal tag for the Brown tag 'zz'/);
  });

  test('on a synthetic corpus: splits by document, passages of 3 sentences, same output twice', () => {
    const files: { name: string; text: string }[] = [];
    const letters = 'abcdefghjklmnpr';
    for (let i = 0; i < 60; i++) {
      const name = `c${letters[i % 15]}${String(Math.floor(i / 15) + 1).padStart(2, '0')}`;
      const sents = Array.from({ length: 4 + (i % 3) }, (_, k) => `\n\n\tThe/at dog${i}_${k}/nn ran/vbd ./.\n`);
      files.push({ name, text: sents.join('') });
    }
    const a = converter.buildTasks(files, { pos: { train: 1e9, dev: 1e9, test: 1e9 }, genre: { train: 1e9, dev: 1e9, test: 1e9 } });
    const b = converter.buildTasks([...files].reverse(), { pos: { train: 1e9, dev: 1e9, test: 1e9 }, genre: { train: 1e9, dev: 1e9, test: 1e9 } });
    expect(b.out).toEqual(a.out);
    // Sorted names: every 20th (ce04, ck04, cr04) is test; per genre the 4th remaining document is dev,
    // so the 12 genres that keep 4 documents have one.
    expect(a.counts.docs).toEqual({ train: 45, dev: 12, test: 3 });
    const split = converter.assignSplits(files.map((f) => f.name).sort());
    expect(['ca03', 'ca04', 'ce03', 'ce04', 'cj04', 'ck04', 'cr04'].map((n) => split.get(n))).toEqual(['train', 'dev', 'train', 'test', 'dev', 'test', 'test']);
    const pos = a.out['brown-pos-train.conll'];
    expect(pos.startsWith('The\tDET\ndog0_0\tNOUN\nran\tVERB\n.\t.\n\nThe\tDET\ndog0_1\tNOUN\n')).toBe(true);
    const genre = a.out['brown-genre-test.tsv'].trim().split('\n');
    expect(genre[0]).toBe('id\ttext\tlabel');
    // Passages of 3 sentences; a last, shorter group is not one: ce04 has 5 sentences, ck04 4, cr04 6.
    expect(genre.slice(1).map((l) => l.split('\t')[0])).toEqual(['ce04.0', 'ck04.0', 'cr04.0', 'cr04.3']);
    expect(genre[1]).toMatch(/^c\w\d\d\.0\tThe dog\d+_0 ran\. The dog\d+_1 ran\. The dog\d+_2 ran\.\t\w+$/);
  });
});
