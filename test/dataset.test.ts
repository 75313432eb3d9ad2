import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

import { ExampleBuilder, buildDataset, documentRng, BuildDatasetOptions } from '../lib/data/dataset-builder';
import { DatasetManifest, SHARD_HEADER_BYTES, decodeShardHeader } from '../lib/data/dataset-format';
import { ShardDataset, epochPermutation } from '../lib/data/shard-reader';
import { WordPieceTokenizer } from '../lib/data/tokenizer';
import { ElectraError } from '../lib/errors';

const ROOT = path.resolve(__dirname, '..');
const BIN = path.join(ROOT, 'bin', 'electra-native.js');
const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const N_DOCS = 300;
const N_WORDS = 40;
// Token ids: specials 0-4, doc markers d0.. 5.., words after them.
const VOCAB = [...SPECIALS, ...Array.from({ length: N_DOCS }, (_, i) => `d${i}`), ...Array.from({ length: N_WORDS }, (_, i) => `w${i}`)];
const DOC0 = SPECIALS.length;
const CLS = 2;
const SEP = 3;

let tmp: string;
let vocabFile: string;

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

/** Documents whose every sentence starts with the doc's marker token; returns the text and each doc's first-line offset. */
function synthCorpus(nDocs: number, seed: number, docBase = 0, maxSentences = 25): { text: string; docs: { offset: number; sentences: string[] }[] } {
  const r = lcg(seed);
  let text = '';
  const docs: { offset: number; sentences: string[] }[] = [];
  for (let d = 0; d < nDocs; d++) {
    if (d > 0) text += r() < 0.2 ? '\n  \n' : '\n'; // sometimes two separator lines, one of them whitespace
    const sentences: string[] = [];
    const n = 1 + Math.floor(r() * maxSentences);
    for (let s = 0; s < n; s++) {
      const len = 1 + Math.floor(r() * 14);
      const words = [`d${docBase + d}`];
      for (let k = 0; k < len; k++) words.push(`w${Math.floor(r() * N_WORDS)}`);
      sentences.push(words.join(' '));
    }
    docs.push({ offset: Buffer.byteLength(text), sentences });
    text += sentences.join('\n') + '\n';
  }
  return { text, docs };
}

function write(name: string, data: string | Buffer): string {
  const p = path.join(tmp, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, data);
  return p;
}

let outCounter = 0;
function build(opts: Partial<BuildDatasetOptions> & { inputs: string[] }) {
  return buildDataset({ vocabFile, outDir: path.join(tmp, `out-${outCounter++}`), seqLen: 32, workers: 0, ...opts });
}

interface Ex {
  ids: number[];
  lenA: number;
}

/** Every example of a built dataset, in order, read straight from the shards. */
function readAll(dir: string): Ex[] {
  const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as DatasetManifest;
  const out: Ex[] = [];
  for (const s of m.shards) {
    const b = fs.readFileSync(path.join(dir, s.file));
    const h = decodeShardHeader(b, s.file, b.length);
    expect(h.count).toBe(s.examples);
    for (let i = 0; i < h.count; i++) {
      const o = SHARD_HEADER_BYTES + i * h.recordBytes;
      const v = (k: number) => (h.dtypeBytes === 2 ? b.readUInt16LE(o + 2 * k) : b.readUInt32LE(o + 4 * k));
      const total = v(h.seqLen + 1);
      const ids: number[] = [];
      for (let k = 0; k < h.seqLen; k++) ids.push(v(k));
      expect(ids.slice(total).every((t) => t === 0)).toBe(true); // padding
      out.push({ ids: ids.slice(0, total), lenA: v(h.seqLen) });
    }
  }
  return out;
}

function dirBytes(dir: string): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (const f of fs.readdirSync(dir).sort()) m.set(f, fs.readFileSync(path.join(dir, f)));
  return m;
}

/**
 * A literal transliteration of the reference's ExampleBuilder.add_line /
 * _create_example (build_pretraining_dataset.py), with the generator reseeded
 * per document the way the builder does.
 */
class ReferenceBuilder {
  current: number[][] = [];
  currentLength = 0;
  target: number;
  examples: Ex[] = [];
  constructor(
    readonly maxLength: number,
    public random: () => number,
  ) {
    this.target = maxLength;
  }
  startDoc(random: () => number) {
    this.random = random;
    this.target = this.random() < 0.05 ? 5 + Math.floor(this.random() * (this.maxLength - 4)) : this.maxLength;
  }
  addLine(ids: number[] | null) {
    if (ids === null && this.currentLength !== 0) return this.create();
    this.current.push(ids ?? []);
    this.currentLength += (ids ?? []).length;
    if (this.currentLength >= this.target) this.create();
  }
  create() {
    const firstTarget = this.random() < 0.1 ? 100000 : Math.floor((this.target - 3) / 2);
    let first: number[] = [];
    let second: number[] = [];
    for (const s of this.current) {
      if (first.length === 0 || first.length + s.length < firstTarget || (second.length === 0 && first.length < firstTarget && this.random() < 0.5)) first = first.concat(s);
      else second = second.concat(s);
    }
    first = first.slice(0, this.maxLength - 2);
    second = second.slice(0, Math.max(0, this.maxLength - first.length - 3));
    this.current = [];
    this.currentLength = 0;
    this.target = this.random() < 0.05 ? 5 + Math.floor(this.random() * (this.maxLength - 4)) : this.maxLength;
    let ids = [CLS, ...first, SEP];
    const lenA = ids.length;
    if (second.length) ids = ids.concat(second, [SEP]);
    this.examples.push({ ids, lenA });
  }
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-ds-'));
  vocabFile = path.join(tmp, 'vocab.txt');
  fs.writeFileSync(vocabFile, VOCAB.join('\n') + '\n');
  // The worker threads run the compiled builder: build dist/ when it is missing or older than the source.
  const src = path.join(ROOT, 'lib', 'data', 'dataset-builder.ts');
  const built = path.join(ROOT, 'dist', 'data', 'dataset-builder.js');
  if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(src).mtimeMs) {
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
  }
});

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('ExampleBuilder (reference rules)', () => {
  test('single-segment and short-target rates, lengths and layout over many examples', () => {
    const max = 64;
    const out: Ex[][] = [];
    let cur: Ex[] = [];
    const b = new ExampleBuilder(max, CLS, SEP, (ids, lenA) => cur.push({ ids: [...ids], lenA }));
    for (let d = 0; d < 2000; d++) {
      cur = [];
      b.startDocument(documentRng(7, 0, d * 1000));
      for (let s = 0; s < 150; s++) b.addSentence([10, 11, 12, 13]);
      b.endDocument();
      out.push(cur);
    }
    // Leave out each document's last example (the remainder, often one sentence).
    const inner = out.flatMap((exs) => exs.slice(0, -1));
    expect(inner.length).toBeGreaterThan(15000);
    const badLayout = inner.filter((e) => e.ids.length > max || e.ids[0] !== CLS || e.ids[e.lenA - 1] !== SEP || e.ids[e.ids.length - 1] !== SEP);
    expect(badLayout).toEqual([]);
    const single = inner.filter((e) => e.lenA === e.ids.length).length / inner.length;
    expect(single).toBeGreaterThan(0.085);
    expect(single).toBeLessThan(0.115);
    // A max-length target always fills the example; a random one in [5, 64] leaves it short unless it is >= ~58.
    const short = inner.filter((e) => e.ids.length < max).length / inner.length;
    expect(short).toBeGreaterThan(0.035);
    expect(short).toBeLessThan(0.06);
  });

  test('a long sentence goes to segment A and is cut to max - 2; B gets what is left', () => {
    const got: Ex[] = [];
    const b = new ExampleBuilder(16, CLS, SEP, (ids, lenA) => got.push({ ids: [...ids], lenA }));
    b.startDocument(() => 0.99); // no short target, two segments, never the 50% rule
    b.addSentence(Array.from({ length: 40 }, (_, i) => 100 + i));
    expect(got).toEqual([{ ids: [CLS, ...Array.from({ length: 14 }, (_, i) => 100 + i), SEP], lenA: 16 }]);
    got.length = 0;
    b.startDocument(() => 0.99);
    b.addSentence([1, 1, 1, 1, 1]); // (16 - 3) // 2 = 6: A
    b.addSentence([2, 2, 2]); // 5 + 3 >= 6 and the 50% draw fails: B
    b.addSentence(Array.from({ length: 20 }, () => 3)); // B, cut to 16 - 5 - 3 = 8 tokens of B overall
    expect(got).toEqual([{ ids: [CLS, 1, 1, 1, 1, 1, SEP, 2, 2, 2, 3, 3, 3, 3, 3, SEP], lenA: 7 }]);
  });
});

describe('buildDataset', () => {
  let corpus: ReturnType<typeof synthCorpus>;
  let corpusFile: string;
  let base: Awaited<ReturnType<typeof build>>;

  beforeAll(async () => {
    corpus = synthCorpus(N_DOCS, 1);
    corpusFile = write('corpus.txt', corpus.text);
    base = await build({ inputs: [corpusFile], chunkBytes: 4096, seed: 3 });
  });

  test('follows the reference exactly: every document once, in order, never crossing documents', () => {
    const tok = WordPieceTokenizer.fromVocabFile(vocabFile);
    const ref = new ReferenceBuilder(32, Math.random);
    for (const d of corpus.docs) {
      ref.startDoc(documentRng(3, 0, d.offset));
      for (const s of d.sentences) ref.addLine(tok.tokenize(s).map((t) => tok.tokenToId(t)!));
      ref.addLine(null);
    }
    const got = readAll(base.outDir);
    expect(got).toEqual(ref.examples);
    expect(base.manifest.counts.examples).toBe(got.length);
    expect(base.manifest.counts.documents).toBe(N_DOCS);
    expect(base.manifest.counts.tokens).toBe(got.reduce((a, e) => a + e.ids.length, 0));
    expect(base.manifest.shards.length).toBeGreaterThan(5);
    for (const e of got) {
      expect(e.ids.length).toBeLessThanOrEqual(32);
      expect(e.ids[0]).toBe(CLS);
      expect(e.ids[e.lenA - 1]).toBe(SEP);
      expect(e.ids[e.ids.length - 1]).toBe(SEP);
      const markers = new Set(e.ids.filter((t) => t >= DOC0 && t < DOC0 + N_DOCS));
      expect(markers.size).toBe(1); // one document per example
    }
  });

  test('manifest: vocab hash, sizes, seed, sources', () => {
    const m = base.manifest;
    expect(m.vocab.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(m.vocab.size).toBe(VOCAB.length);
    expect(m.dtype).toBe('uint16');
    expect(m.seq_len).toBe(32);
    expect(m.seed).toBe(3);
    expect(m.sources).toEqual([{ path: corpusFile, bytes: Buffer.byteLength(corpus.text), gzip: false }]);
    expect(JSON.parse(fs.readFileSync(path.join(base.outDir, 'manifest.json'), 'utf8'))).toEqual(m);
  });

  test('deterministic for a seed; the same for 1 and 2 worker threads and any chunk size', async () => {
    const again = await build({ inputs: [corpusFile], chunkBytes: 4096, seed: 3 });
    const w1 = await build({ inputs: [corpusFile], chunkBytes: 4096, seed: 3, workers: 1 });
    const w2 = await build({ inputs: [corpusFile], chunkBytes: 4096, seed: 3, workers: 2 });
    const ref = dirBytes(base.outDir);
    expect(dirBytes(again.outDir)).toEqual(ref);
    expect(dirBytes(w1.outDir)).toEqual(ref);
    expect(dirBytes(w2.outDir)).toEqual(ref);
    const big = await build({ inputs: [corpusFile], chunkBytes: 1 << 20, seed: 3, workers: 2 });
    expect(big.manifest.shards.length).toBe(1);
    expect(readAll(big.outDir)).toEqual(readAll(base.outDir));
    const other = await build({ inputs: [corpusFile], chunkBytes: 4096, seed: 4 });
    expect(readAll(other.outDir)).not.toEqual(readAll(base.outDir));
  });

  test('.gz files and directories (recursive, sorted)', async () => {
    const gz = write('gz/corpus.txt.gz', zlib.gzipSync(corpus.text));
    const fromGz = await build({ inputs: [gz], seed: 3 });
    expect(readAll(fromGz.outDir)).toEqual(readAll(base.outDir));
    expect(fromGz.manifest.sources[0].gzip).toBe(true);

    const second = synthCorpus(40, 9, 100);
    write('tree/b/z.txt', second.text);
    write('tree/a.txt.gz', zlib.gzipSync(corpus.text));
    write('tree/.hidden', 'ignored\n');
    const fromDir = await build({ inputs: [path.join(tmp, 'tree')], seed: 3, workers: 2 });
    expect(fromDir.manifest.sources.map((s) => path.relative(tmp, s.path))).toEqual([path.join('tree', 'a.txt.gz'), path.join('tree', 'b', 'z.txt')]);
    const fromList = await build({ inputs: [path.join(tmp, 'tree', 'a.txt.gz'), path.join(tmp, 'tree', 'b', 'z.txt')], seed: 3 });
    expect(readAll(fromDir.outDir)).toEqual(readAll(fromList.outDir));
    expect(fromDir.manifest.counts.documents).toBe(N_DOCS + 40);
  });

  test('invalid UTF-8 lines are counted and skipped', async () => {
    const bad = Buffer.concat([Buffer.from('d1 w1 w2\n'), Buffer.from([0xff, 0xfe, 0x41, 0x0a]), Buffer.from('d1 w3\n\nd2 w4 w5\n')]);
    const r = await build({ inputs: [write('bad-utf8.txt', bad)] });
    expect(r.manifest.counts.skipped_lines).toBe(1);
    expect(r.manifest.counts.documents).toBe(2);
    expect(readAll(r.outDir).map((e) => e.ids.filter((t) => t > SEP))).toEqual([[DOC0 + 1, DOC0 + N_DOCS + 1, DOC0 + N_DOCS + 2, DOC0 + 1, DOC0 + N_DOCS + 3], [DOC0 + 2, DOC0 + N_DOCS + 4, DOC0 + N_DOCS + 5]]);
  });

  const expectError = async (p: Promise<unknown>, code: string, msg: RegExp) => {
    const e = await p.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ElectraError);
    expect((e as ElectraError).code).toBe(code);
    expect((e as ElectraError).message).toMatch(msg);
  };

  test('bad input: binary files, empty corpus, vocabulary without specials, missing file', async () => {
    const nul = write('nul.bin', Buffer.concat([Buffer.from('d1 w1\n'), Buffer.from([0, 1, 2, 3, 0, 0])]));
    await expectError(build({ inputs: [nul] }), 'ERR_INVALID_ARGUMENT', /nul\.bin looks like a binary file/);
    const noise = Buffer.alloc(8192);
    const r = lcg(5);
    for (let i = 0; i < noise.length; i++) noise[i] = 0x80 + Math.floor(r() * 0x7f);
    for (let i = 50; i < noise.length; i += 60) noise[i] = 10;
    await expectError(build({ inputs: [write('noise.dat', noise)] }), 'ERR_INVALID_ARGUMENT', /noise\.dat looks like a binary file/);
    await expectError(build({ inputs: [write('blank.txt', '\n\n  \n\n')] }), 'ERR_INVALID_ARGUMENT', /empty corpus/);
    expect(fs.readdirSync(path.join(tmp, `out-${outCounter - 1}`))).toEqual([]); // a failed build leaves nothing behind
    fs.mkdirSync(path.join(tmp, 'emptydir'));
    await expectError(build({ inputs: [path.join(tmp, 'emptydir')] }), 'ERR_INVALID_ARGUMENT', /empty corpus/);
    const noMask = write('nomask.txt', VOCAB.filter((t) => t !== '[MASK]').join('\n') + '\n');
    await expectError(build({ inputs: [corpusFile], vocabFile: noMask }), 'ERR_INVALID_ARGUMENT', /lacks the special token\(s\) \[MASK\]/);
    await expectError(build({ inputs: [path.join(tmp, 'no-such.txt')] }), 'ERR_IO', /no-such\.txt: file not found/);
    await expectError(build({ inputs: [write('broken.gz', Buffer.from('not gzip at all\n'))] }), 'ERR_CORRUPT_FILE', /broken\.gz: not a valid gzip file/);
  });

  test('CLI: builds with --quiet, prints errors and exits non-zero', () => {
    const out = path.join(tmp, 'cli-out');
    const ok = spawnSync(process.execPath, [BIN, 'build-dataset', corpusFile, '--out', out, '--vocab', vocabFile, '--seq', '32', '--seed', '3', '--chunk-mb', String(4096 / 1048576), '--workers', '2', '--quiet'], { encoding: 'utf8' });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(dirBytes(out)).toEqual(dirBytes(base.outDir));
    const again = spawnSync(process.execPath, [BIN, 'build-dataset', corpusFile, '--out', out, '--vocab', vocabFile], { encoding: 'utf8' });
    expect(again.status).not.toBe(0);
    expect(again.stderr).toMatch(/ERR_INVALID_ARGUMENT: output directory .* is not empty/);
    const missing = spawnSync(process.execPath, [BIN, 'build-dataset', path.join(tmp, 'missing.txt'), '--out', path.join(tmp, 'cli-2'), '--vocab', vocabFile], { encoding: 'utf8' });
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/ERR_IO: cannot read .*missing\.txt: file not found/);
  });

  describe('ShardDataset', () => {
    const sig = (ids: Int32Array, types: Int32Array, mask: Int32Array, r: number, L: number) =>
      Array.from(ids.subarray(r * L, (r + 1) * L)).join(',') + '|' + Array.from(types.subarray(r * L, (r + 1) * L)).join('') + '|' + Array.from(mask.subarray(r * L, (r + 1) * L)).join('');

    test('each epoch visits every example once, in a different order', () => {
      const ds = new ShardDataset(base.outDir, { seed: 1 });
      const n = ds.length;
      const all = readAll(base.outDir).map((e) => {
        const ids = new Int32Array(32);
        const types = new Int32Array(32);
        const mask = new Int32Array(32);
        e.ids.forEach((t, i) => {
          ids[i] = t;
          mask[i] = 1;
          types[i] = i >= e.lenA ? 1 : 0;
        });
        return sig(ids, types, mask, 0, 32);
      });
      const epochs: string[][] = [[], []];
      for (let k = 0; k < 2 * n; k++) {
        const b = ds.next(1, 32);
        epochs[Math.floor(k / n)].push(sig(b.inputIds, b.tokenTypeIds!, b.attentionMask!, 0, 32));
      }
      expect([...epochs[0]].sort()).toEqual([...all].sort());
      expect([...epochs[1]].sort()).toEqual([...all].sort());
      expect(epochs[0]).not.toEqual(epochs[1]);
      expect(ds.state()).toEqual({ epoch: 1, cursor: n, seed: 1, examples: n });
      const p = epochPermutation(1000, 1, 0);
      expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
      ds.close();
    });

    test('state/restore gives the identical following batches (across an epoch boundary)', () => {
      const a = new ShardDataset(base.outDir, { seed: 5 });
      const steps = Math.ceil(a.length / 7) - 2;
      for (let i = 0; i < steps; i++) a.next(7, 32);
      const saved = JSON.parse(JSON.stringify(a.state()));
      const next = Array.from({ length: 5 }, () => a.next(7, 32));
      const b = new ShardDataset(base.outDir, { seed: 0 });
      b.restore(saved);
      const again = Array.from({ length: 5 }, () => b.next(7, 32));
      expect(again).toEqual(next);
      expect(b.state().epoch).toBe(1);
      expect(() => b.restore({ ...saved, examples: 3 })).toThrow(/dataset of 3 examples/);
      expect(() => b.restore({ epoch: -1 })).toThrow(ElectraError);
    });

    test('vocabulary hash and seq_len checks; longer batches are padded', () => {
      const tok = WordPieceTokenizer.fromVocabFile(vocabFile);
      expect(() => new ShardDataset(base.outDir, { vocab: tok })).not.toThrow();
      expect(() => new ShardDataset(base.outDir, { vocab: vocabFile })).not.toThrow();
      const other = write('other-vocab.txt', [...VOCAB, 'extra'].join('\n') + '\n');
      for (const v of [other, WordPieceTokenizer.fromVocabFile(other)]) {
        let err: unknown;
        try {
          new ShardDataset(base.outDir, { vocab: v });
        } catch (e) {
          err = e;
        }
        expect((err as ElectraError).code).toBe('ERR_INVALID_ARGUMENT');
        expect((err as ElectraError).message).toMatch(/built with another vocabulary/);
      }
      const ds = new ShardDataset(base.outDir);
      expect(() => ds.next(2, 16)).toThrow(/seq_len 32; a batch of seqLen 16 would truncate/);
      const wide = ds.next(1, 40);
      expect(Array.from(wide.attentionMask!.subarray(32))).toEqual(new Array(8).fill(0));
    });

    test('a damaged dataset is reported, not crashed on', () => {
      const copy = path.join(tmp, 'damaged');
      fs.cpSync(base.outDir, copy, { recursive: true });
      const shard = path.join(copy, 'shard-00001.bin');
      fs.truncateSync(shard, fs.statSync(shard).size - 10);
      expect(() => new ShardDataset(copy)).toThrow(/shard-00001\.bin: not a valid dataset shard/);
      expect(() => new ShardDataset(path.join(tmp, 'nowhere'))).toThrow(/manifest\.json: file not found/);
    });
  });
});
