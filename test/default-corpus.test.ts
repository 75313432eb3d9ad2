import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

import { BROWN_VOCAB, BROWN_VOCAB_OPTIONS, datasetKey, defaultCorpusPaths, ensureDataset } from '../lib/data/default-corpus';
import { buildVocab } from '../lib/data/vocab-builder';
import { ShardDataset } from '../lib/data/shard-reader';
import { BERT_UNCASED_VOCAB } from '../lib/data/tokenizer';

const { detokenize, stripTag } = require('../scripts/corpus/convert-brown.js') as {
  detokenize: (words: string[]) => string;
  stripTag: (t: string) => string;
};

function documents(file: string): string[][] {
  const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
  return text
    .trimEnd()
    .split('\n\n')
    .map((d) => d.split('\n'));
}

describe('embedded Brown corpus', () => {
  test('ships as gzipped text: 475 training and 25 held-out documents, one sentence per line, tags stripped', () => {
    const { train, heldout } = defaultCorpusPaths();
    const tr = documents(train);
    const ho = documents(heldout);
    expect(tr).toHaveLength(475);
    expect(ho).toHaveLength(25);
    expect(tr[0][0]).toBe(
      'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.',
    );
    const lines = tr.flat();
    expect(lines.length).toBeGreaterThan(50000);
    expect(lines.every((l) => l.length > 0 && l === l.trim())).toBe(true);
    // No part-of-speech tags left (word/tag, e.g. "jury/nn").
    expect(lines.filter((l) => / [A-Za-z]+\/(at|nn|nns|vbd|in|jj|np)\b/.test(l))).toEqual([]);
    // Held-out documents are not in the training file.
    const trainSet = new Set(tr.map((d) => d.join('\n')));
    expect(ho.some((d) => trainSet.has(d.join('\n')))).toBe(false);
    expect(fs.readFileSync(path.join(path.dirname(train), 'NOTICE'), 'utf8')).toMatch(/Brown Corpus[\s\S]*redistribution permitted/);
  });

  test('converter detokenizes Brown tokens', () => {
    expect(stripTag('The/at')).toBe('The');
    expect(stripTag('1-1/2/cd')).toBe('1-1/2');
    expect(detokenize(['He', 'said', '``', 'no', "''", ',', 'then', '(', 'quietly', ')', 'left', '.'])).toBe('He said "no", then (quietly) left.');
    expect(detokenize(['Allen', 'Jr.', '.'])).toBe('Allen Jr.');
    expect(detokenize(['a', "'", 'b', "'", 'c', '?'])).toBe("a 'b' c?");
  });
});

describe('ensureDataset', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-ensure-'));
    const doc = 'The cat sat on the mat.\nIt was a sunny day in the city.\nBirds sang in the old trees.\n';
    fs.writeFileSync(path.join(dir, 'c.txt'), Array.from({ length: 30 }, () => doc).join('\n'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('builds once per (corpus, vocab, seq, seed) and reuses the finished build', async () => {
    const opts = { inputs: [path.join(dir, 'c.txt')], vocabFile: BERT_UNCASED_VOCAB, seqLen: 32, seed: 1, cacheDir: path.join(dir, 'cache'), workers: 0 };
    const a = await ensureDataset(opts);
    expect(a.reused).toBe(false);
    expect(path.basename(a.dir)).toMatch(/^dataset-[0-9a-f]{16}$/);
    expect(a.manifest.seq_len).toBe(32);
    const b = await ensureDataset(opts);
    expect(b.reused).toBe(true);
    expect(b.dir).toBe(a.dir);
    // Only the finished dataset is left in the cache (no temporary directories).
    expect(fs.readdirSync(opts.cacheDir)).toEqual([path.basename(a.dir)]);
    const ds = new ShardDataset(a.dir, { seed: 0, vocab: BERT_UNCASED_VOCAB });
    expect(ds.length).toBe(a.manifest.counts.examples);
    ds.close();
    // Anything the examples depend on changes the key.
    const k = datasetKey(opts);
    expect(datasetKey({ ...opts, seed: 2 })).not.toBe(k);
    expect(datasetKey({ ...opts, seqLen: 64 })).not.toBe(k);
    expect(datasetKey({ ...opts, lowercase: false })).not.toBe(k);
    fs.appendFileSync(path.join(dir, 'c.txt'), 'One more line.\n');
    expect(datasetKey(opts)).not.toBe(k);
  });

  test('a failed build leaves nothing behind', async () => {
    const cacheDir = path.join(dir, 'cache2');
    await expect(ensureDataset({ inputs: [path.join(dir, 'missing.txt')], vocabFile: BERT_UNCASED_VOCAB, seqLen: 32, seed: 0, cacheDir })).rejects.toMatchObject({
      code: 'ERR_IO',
    });
    const empty = path.join(dir, 'empty.txt');
    fs.writeFileSync(empty, '\n\n');
    await expect(ensureDataset({ inputs: [empty], vocabFile: BERT_UNCASED_VOCAB, seqLen: 32, seed: 0, cacheDir, workers: 0 })).rejects.toMatchObject({
      code: 'ERR_INVALID_ARGUMENT',
    });
    expect(fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []).toEqual([]);
  });
});

describe('the default run vocabulary (vocab/brown-2048.txt)', () => {
  test('is what the vocabulary learner makes from the embedded training corpus, byte for byte', async () => {
    const res = await buildVocab([defaultCorpusPaths().train], { ...BROWN_VOCAB_OPTIONS });
    const shipped = fs.readFileSync(BROWN_VOCAB, 'utf8');
    expect(res.tokens).toHaveLength(BROWN_VOCAB_OPTIONS.size);
    expect(res.tokens.join('\n') + '\n').toBe(shipped);
    expect(res.tokens.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  }, 60_000);
});
