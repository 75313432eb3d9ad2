import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

import { ElectraError } from '../lib/errors';
import { bertPreTokenize, buildVocab, learnWordPiece, SPECIAL_TOKENS } from '../lib/data/vocab-builder';
import { WordPieceTokenizer } from '../lib/data/tokenizer';

const ROOT = path.join(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'electra-native.js');
const BROWN = path.join(ROOT, 'corpus', 'brown.txt.gz');

const CORPUS = `The quick brown fox jumps over the lazy dog.
A lazy dog sleeps; the quick fox runs away!
Jumping foxes and sleeping dogs are common in stories.

Naïve café owners serve crème brûlée, don't they?
The owners' dogs, the foxes' dens: stories about running and jumping.
Dogs run quickly; foxes jump quickly; owners serve quickly.
`;

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-vocab-'));
  fs.writeFileSync(path.join(dir, 'a.txt'), CORPUS);
  fs.mkdirSync(path.join(dir, 'sub'));
  fs.writeFileSync(path.join(dir, 'sub', 'b.txt.gz'), zlib.gzipSync(CORPUS.toUpperCase()));
  fs.writeFileSync(path.join(dir, 'empty.txt'), '\n  \n\n');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A straightforward recount-every-merge reference with the same rules and tie-breaking. */
function naiveWordPiece(counts: Map<string, number>, size: number, minFrequency: number): string[] {
  const words = [...counts.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const chars = new Set<string>();
  const inner = new Set<string>();
  for (const w of words) {
    [...w].forEach((c, i) => {
      chars.add(c);
      if (i > 0) inner.add(c);
    });
  }
  const cp = (a: string, b: string) => a.codePointAt(0)! - b.codePointAt(0)!;
  const tokens = [...SPECIAL_TOKENS, ...[...chars].sort(cp), ...[...inner].sort(cp).map((c) => '##' + c)];
  const split = words.map((w) => [...w].map((c, i) => (i === 0 ? c : '##' + c)));
  while (tokens.length < size) {
    const id = (t: string) => tokens.indexOf(t);
    const pairs = new Map<string, { a: string; b: string; n: number }>();
    split.forEach((s, wi) => {
      for (let i = 0; i + 1 < s.length; i++) {
        const k = s[i] + '\u0000' + s[i + 1];
        const e = pairs.get(k) ?? { a: s[i], b: s[i + 1], n: 0 };
        e.n += counts.get(words[wi])!;
        pairs.set(k, e);
      }
    });
    let best: { a: string; b: string; n: number } | undefined;
    for (const e of pairs.values()) {
      if (!best || e.n > best.n || (e.n === best.n && (id(e.a) < id(best.a) || (id(e.a) === id(best.a) && id(e.b) < id(best.b))))) best = e;
    }
    if (!best || best.n < minFrequency) break;
    const merged = best.a + best.b.replace(/^##/, '');
    if (!tokens.includes(merged)) tokens.push(merged);
    for (const s of split) {
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === best.a && s[i + 1] === best.b) s.splice(i, 2, merged);
    }
  }
  return tokens;
}

describe('bertPreTokenize', () => {
  test('splits like BERT BasicTokenizer', () => {
    expect(bertPreTokenize("Hello, World! Don't")).toEqual(['hello', ',', 'world', '!', 'don', "'", 't']);
    expect(bertPreTokenize('Crème Brûlée  naïve\tCAFÉ')).toEqual(['creme', 'brulee', 'naive', 'cafe']);
    expect(bertPreTokenize('Crème Brûlée', false)).toEqual(['Crème', 'Brûlée']);
    expect(bertPreTokenize('abc中文def')).toEqual(['abc', '中', '文', 'def']);
    expect(bertPreTokenize('x\u0000y\u200bz — ok…')).toEqual(['xyz', '—', 'ok', '…']);
    expect(bertPreTokenize('$5.00 (a+b)')).toEqual(['$', '5', '.', '00', '(', 'a', '+', 'b', ')']);
  });
});

describe('vocabulary builder', () => {
  test('specials first, size respected, files/dirs/.gz read, deterministic and order independent', async () => {
    const a = await buildVocab([path.join(dir, 'a.txt'), path.join(dir, 'sub')], { size: 120, minFrequency: 1 });
    expect(a.tokens.slice(0, 5)).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    expect(a.tokens).toHaveLength(120);
    expect(new Set(a.tokens).size).toBe(120);
    expect(a.stoppedBy).toBe('size');
    // The upper-cased .gz copy lowercases to the same words: every count doubles.
    const plain = await buildVocab([path.join(dir, 'a.txt')], { size: 120, minFrequency: 1 });
    expect(a.words).toBe(2 * plain.words);
    const again = await buildVocab([path.join(dir, 'a.txt'), path.join(dir, 'sub')], { size: 120, minFrequency: 1 });
    expect(again.tokens).toEqual(a.tokens);
    const reordered = await buildVocab([path.join(dir, 'sub'), path.join(dir, 'a.txt')], { size: 120, minFrequency: 1 });
    expect(reordered.tokens).toEqual(a.tokens);
    const cased = await buildVocab([dir], { size: 150, lowercase: false, minFrequency: 1 });
    expect(cased.tokens).toContain('T');
    expect(cased.tokens).toContain('é');
  });

  test('incremental pair counts give exactly the merges of a full recount', async () => {
    const counts = new Map<string, number>();
    for (const w of bertPreTokenize(CORPUS + 'aaaa aaa abab bababa ab ' + CORPUS)) counts.set(w, (counts.get(w) ?? 0) + 1);
    for (const minFrequency of [1, 2]) {
      const ref = naiveWordPiece(counts, 400, minFrequency);
      const got = learnWordPiece(counts, { size: 400, minFrequency }).tokens;
      expect(got).toEqual(ref);
    }
  });

  test('a tokenizer built from the learned vocabulary round-trips the corpus words', async () => {
    const res = await buildVocab([dir], { size: 400, minFrequency: 1 });
    expect(res.stoppedBy).toBe('min-frequency'); // every word became one token before reaching 400
    const tok = WordPieceTokenizer.fromTokens(res.tokens);
    const words = bertPreTokenize(CORPUS);
    for (const w of words) {
      const pieces = tok.tokenize(w);
      expect(pieces).toEqual([w]);
    }
    // Our pre-tokenizer splits the text exactly as the tokenizer's BasicTokenizer does.
    expect(tok.tokenize(CORPUS)).toEqual(words);
    // A smaller vocabulary still covers every word, in pieces, without [UNK].
    const small = WordPieceTokenizer.fromTokens((await buildVocab([dir], { size: 80 })).tokens);
    for (const w of words) {
      const pieces = small.tokenize(w);
      expect(pieces).not.toContain('[UNK]');
      expect(pieces.map((p, i) => (i > 0 ? p.replace(/^##/, '') : p)).join('')).toBe(w);
    }
  });

  // No time bound here: timings belong in `bench`, not in tests on a shared machine.
  test('the Brown corpus: 30522 tokens, with progress through both phases', async () => {
    const phases = new Set<string>();
    const res = await buildVocab([BROWN], { size: 30522, onProgress: (p) => phases.add(p.phase) });
    expect(res.tokens).toHaveLength(30522);
    expect([...phases]).toEqual(['count', 'merge']);
    expect(res.tokens).toEqual(expect.arrayContaining(['the', 'of', 'jury', '##s', '##ing']));
  });

  test('errors: missing file, empty corpus, size below the alphabet, bad options', async () => {
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        expect(e).toBeInstanceOf(ElectraError);
        return `${(e as ElectraError).code}: ${(e as Error).message}`;
      }
      return 'no error';
    };
    expect(await code(buildVocab([path.join(dir, 'nope.txt')], { size: 100 }))).toMatch(/^ERR_IO: .*nope\.txt.*no such file/);
    expect(await code(buildVocab([path.join(dir, 'empty.txt')], { size: 100 }))).toMatch(/^ERR_INVALID_ARGUMENT: the corpus is empty/);
    expect(await code(buildVocab([dir], { size: 20 }))).toMatch(/^ERR_INVALID_ARGUMENT: vocabulary size 20 is smaller than the 5 special tokens plus the corpus alphabet/);
    expect(await code(buildVocab([dir], { size: 100, minFrequency: 0 }))).toMatch(/^ERR_INVALID_ARGUMENT: min frequency/);
    const bad = path.join(dir, 'bad.gz');
    fs.writeFileSync(bad, 'not gzip');
    try {
      expect(await code(buildVocab([bad], { size: 100 }))).toMatch(/^ERR_IO: cannot read .*bad\.gz/);
    } finally {
      fs.rmSync(bad);
    }
  });

  test('electra-native vocab writes vocab.txt', () => {
    const out = path.join(dir, 'out', 'vocab.txt');
    const r = spawnSync(process.execPath, [BIN, 'vocab', '--corpus', path.join(dir, 'a.txt'), '--size', '90', '--min-frequency', '1', '--out', out], { encoding: 'utf8' });
    expect(r.stderr).toMatch(/merging: \d+\/\d+ merges/);
    expect(r.stderr).toMatch(/wrote 90 tokens to/);
    expect(r.status).toBe(0);
    expect(fs.readFileSync(out, 'utf8').split('\n').slice(0, 5)).toEqual([...SPECIAL_TOKENS]);
    const missing = spawnSync(process.execPath, [BIN, 'vocab', '--corpus', path.join(dir, 'nope'), '--size', '90', '--out', out], { encoding: 'utf8' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/ERR_IO: cannot read corpus .*nope/);
  });
});
