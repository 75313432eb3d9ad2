import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { ElectraError } from '../lib/errors';
import { BERT_UNCASED_VOCAB, WordPieceTokenizer } from '../lib/data/tokenizer';

const root = path.resolve(__dirname, '..');
const golden = JSON.parse(fs.readFileSync(path.join(__dirname, 'golden', 'tokenizer_ids.json'), 'utf8'));

interface SingleCase {
  text: string;
  tokens: string[];
  ids: number[];
  inputIds: number[];
  decode: string;
  decodeSkip: string;
}
interface PairCase {
  text: string;
  pair: string | null;
  maxLength?: number;
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
  tokens: string[];
}

describe('WordPieceTokenizer vs HF transformers (slow BertTokenizer)', () => {
  test('the shipped vocab is Google\'s bert-base-uncased vocab.txt', () => {
    const md5 = createHash('md5').update(fs.readFileSync(BERT_UNCASED_VOCAB)).digest('hex');
    expect(md5).toBe('64800d5d8528ce344256daf115d4965e');
    expect(golden.vocab_md5).toBe(md5);
    const tok = WordPieceTokenizer.bertUncased();
    expect(tok.vocab.length).toBe(30522);
    expect([tok.padId, tok.unkId, tok.clsId, tok.sepId, tok.maskId]).toEqual([0, 100, 101, 102, 103]);
    expect(tok.tokenToId('the')).toBe(1996);
    expect(tok.idToToken(2088)).toBe('world');
    expect(tok.idToToken(30522)).toBeUndefined();
  });

  for (const [mode, lowercase] of [
    ['uncased', true],
    ['cased', false],
  ] as const) {
    describe(mode, () => {
      const tok = WordPieceTokenizer.fromVocabFile(BERT_UNCASED_VOCAB, { lowercase });
      const m = golden.modes[mode];

      for (const section of ['single', 'random'] as const) {
        test(`${section}: tokens, ids, encode and decode (${m[section].length} cases)`, () => {
          const bad: string[] = [];
          for (const c of m[section] as SingleCase[]) {
            const tokens = tok.tokenize(c.text);
            const ids = tok.tokenizeToIds(c.text);
            const enc = tok.encode(c.text);
            const ok =
              JSON.stringify(tokens) === JSON.stringify(c.tokens) &&
              JSON.stringify(ids) === JSON.stringify(c.ids) &&
              JSON.stringify(enc.inputIds) === JSON.stringify(c.inputIds) &&
              tok.decode(enc.inputIds) === c.decode &&
              tok.decode(enc.inputIds, { skipSpecialTokens: true }) === c.decodeSkip;
            if (!ok) bad.push(JSON.stringify(c.text));
          }
          expect(bad).toEqual([]);
        });
      }

      test('single cases one by one', () => {
        for (const c of m.single as SingleCase[]) {
          expect({ text: c.text, tokens: tok.tokenize(c.text) }).toEqual({ text: c.text, tokens: c.tokens });
          expect(tok.decode(c.inputIds)).toBe(c.decode);
          expect(tok.decode(c.inputIds, { skipSpecialTokens: true })).toBe(c.decodeSkip);
        }
      });

      test(`pairs (${m.pairs.length} cases)`, () => {
        for (const c of m.pairs as PairCase[]) {
          const enc = tok.encode(c.text, c.pair);
          expect({ text: c.text, ...enc }).toEqual({
            text: c.text,
            inputIds: c.inputIds,
            tokenTypeIds: c.tokenTypeIds,
            attentionMask: c.attentionMask,
            tokens: c.tokens,
          });
        }
      });

      test(`longest-first truncation + max_length padding (${m.truncation.length} cases)`, () => {
        for (const c of m.truncation as PairCase[]) {
          const enc = tok.encode(c.text, c.pair, { maxLength: c.maxLength, truncation: true, padding: 'max_length' });
          expect({ text: c.text, maxLength: c.maxLength, ...enc }).toEqual({
            text: c.text,
            maxLength: c.maxLength,
            inputIds: c.inputIds,
            tokenTypeIds: c.tokenTypeIds,
            attentionMask: c.attentionMask,
            tokens: c.tokens,
          });
        }
      });
    });
  }

  test('the word cache does not change results (cache off, tiny cache)', () => {
    const texts = (golden.modes.uncased.single as SingleCase[]).map((c) => c.text);
    const ref = WordPieceTokenizer.bertUncased({ cacheSize: 0 });
    const tiny = WordPieceTokenizer.bertUncased({ cacheSize: 3 });
    for (let round = 0; round < 2; round++) {
      for (const t of texts) expect(tiny.tokenizeToIds(t)).toEqual(ref.tokenizeToIds(t));
    }
  });
});

describe('WordPieceTokenizer API and errors', () => {
  const small = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'un', '##aff', '##able', 'hello', ',', '!'];

  test('fromTokens: a small vocab', () => {
    const tok = WordPieceTokenizer.fromTokens(small);
    expect(tok.tokenize('UNaffable, hello!')).toEqual(['un', '##aff', '##able', ',', 'hello', '!']);
    expect(tok.tokenize('unknownword')).toEqual(['[UNK]']);
    expect(tok.encode('hello').inputIds).toEqual([2, 7, 3]);
  });

  test('a vocab without [MASK]: a clear error only when asked for it', () => {
    const tok = WordPieceTokenizer.fromTokens(small);
    expect(tok.padId).toBe(0);
    expect(() => tok.maskId).toThrow(ElectraError);
    expect(() => tok.maskId).toThrow(/\[MASK\]/);
    try {
      void tok.maskId;
    } catch (err) {
      expect((err as ElectraError).code).toBe('ERR_INVALID_ARGUMENT');
    }
    // "[MASK]" in the text is plain text for this vocab.
    expect(tok.tokenize('[MASK]')).toEqual(['[UNK]', '[UNK]', '[UNK]']);
  });

  test('a vocab without [CLS] fails in encode, naming the token; without [UNK] when an unknown word needs it', () => {
    const noCls = WordPieceTokenizer.fromTokens(['[PAD]', '[UNK]', '[SEP]', 'a']);
    expect(noCls.tokenize('a')).toEqual(['a']);
    expect(() => noCls.encode('a')).toThrow(/\[CLS\]/);
    const noUnk = WordPieceTokenizer.fromTokens(['[CLS]', '[SEP]', 'a']);
    expect(noUnk.encode('a').inputIds).toEqual([0, 2, 1]);
    expect(() => noUnk.tokenize('b')).toThrow(/\[UNK\]/);
  });

  test('fromVocabFile: missing file is ERR_IO; CRLF and duplicate lines as Python reads them', () => {
    expect(() => WordPieceTokenizer.fromVocabFile('/no/such/vocab.txt')).toThrow(expect.objectContaining({ code: 'ERR_IO' }));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
    const f = path.join(dir, 'vocab.txt');
    fs.writeFileSync(f, '[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhi\r\n');
    const tok = WordPieceTokenizer.fromVocabFile(f);
    expect(tok.vocab).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hi']);
    expect(tok.encode('Hi [MASK]').inputIds).toEqual([2, 5, 4, 3]);
    fs.rmSync(dir, { recursive: true });
  });

  test('bad arguments', () => {
    const tok = WordPieceTokenizer.bertUncased();
    expect(() => tok.encode('a', null, { maxLength: -1 })).toThrow(ElectraError);
    expect(() => tok.encode('a', null, { padding: 'max_length' })).toThrow(/maxLength/);
    expect(() => tok.tokenize(42 as unknown as string)).toThrow(ElectraError);
    expect(() => WordPieceTokenizer.fromTokens([])).toThrow(ElectraError);
  });

  test('maxLength without truncation: false does not truncate; padding pads', () => {
    const tok = WordPieceTokenizer.bertUncased();
    expect(tok.encode('a b c d', null, { maxLength: 4, truncation: false }).inputIds).toEqual([101, 1037, 1038, 1039, 1040, 102]);
    expect(tok.encode('a b c d', null, { maxLength: 4 }).inputIds).toEqual([101, 1037, 1038, 102]);
    const p = tok.encode('a', 'b', { maxLength: 7, padding: 'max_length' });
    expect(p.inputIds).toEqual([101, 1037, 102, 1038, 102, 0, 0]);
    expect(p.tokenTypeIds).toEqual([0, 0, 0, 1, 1, 0, 0]);
    expect(p.attentionMask).toEqual([1, 1, 1, 1, 1, 0, 0]);
  });

  test('decode: skipSpecialTokens, clean-up off, out-of-range ids as [UNK]', () => {
    const tok = WordPieceTokenizer.bertUncased();
    const ids = tok.encode("Hello, world! isn't it").inputIds;
    expect(tok.decode(ids)).toBe("[CLS] hello, world! isn't it [SEP]");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("hello, world! isn't it");
    expect(tok.decode(ids, { skipSpecialTokens: true, cleanUpTokenizationSpaces: false })).toBe("hello , world ! isn ' t it");
    expect(tok.decode([7592, 99999])).toBe('hello [UNK]');
  });

  test('never throws on random unicode (5000 strings, incl. lone surrogates)', () => {
    const tok = WordPieceTokenizer.bertUncased({ cacheSize: 1000 });
    const cased = WordPieceTokenizer.fromVocabFile(BERT_UNCASED_VOCAB, { lowercase: false });
    let seed = 12345;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const pieces = ['[CLS]', '[MASK', ']', '##', ' ', '\t', '\u0000', '\ud800', '\udc00', 'a', 'Z', '.'];
    for (let n = 0; n < 5000; n++) {
      let s = '';
      const len = Math.floor(rnd() * 60);
      for (let k = 0; k < len; k++) {
        const r = rnd();
        if (r < 0.1) s += pieces[Math.floor(rnd() * pieces.length)];
        else if (r < 0.4) s += String.fromCharCode(Math.floor(rnd() * 0x10000));
        else if (r < 0.6) s += String.fromCodePoint(Math.floor(rnd() * 0x110000));
        else s += String.fromCharCode(0x20 + Math.floor(rnd() * 0x200));
      }
      const enc = tok.encode(s, n % 3 === 0 ? s.slice(0, 10) : null, { maxLength: 64, padding: 'max_length' });
      expect(enc.inputIds.length).toBeGreaterThanOrEqual(2);
      expect(enc.inputIds.every((id) => Number.isInteger(id) && id >= 0 && id < 30522)).toBe(true);
      expect(typeof tok.decode(enc.inputIds)).toBe('string');
      cased.tokenize(s);
    }
  });
});

describe('electra-native tokenize (CLI)', () => {
  const bin = path.join(root, 'bin', 'electra-native.js');
  const run = (args: string[], input?: string) =>
    spawnSync(process.execPath, [bin, 'tokenize', ...args], { cwd: root, encoding: 'utf8', input, timeout: 60000 });

  test('--json "Hello, world!"', () => {
    const r = run(['--json', 'Hello, world!']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        text: 'Hello, world!',
        tokens: ['[CLS]', 'hello', ',', 'world', '!', '[SEP]'],
        ids: [101, 7592, 1010, 2088, 999, 102],
      },
    ]);
  });

  test('stdin, one text per line, readable output', () => {
    const r = run([], 'Hello, world!\nunaffable\n');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/7592/);
    expect(r.stdout).toMatch(/##ffa/);
  });

  test('--pair, --max-length, --cased', () => {
    const r = run(['--json', '--pair', 'Fine, thanks.', '--max-length', '8', 'Hello, world! How are you today?']);
    expect(r.status).toBe(0);
    const [out] = JSON.parse(r.stdout);
    expect(out.tokens).toEqual(['[CLS]', 'hello', ',', 'world', '[SEP]', 'fine', ',', '[SEP]']);
    const c = run(['--json', '--cased', 'Hello']);
    expect(JSON.parse(c.stdout)[0].tokens).toEqual(['[CLS]', '[UNK]', '[SEP]']);
  });

  test('--vocab FILE; a missing vocab file fails with ERR_IO', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vocab-'));
    const f = path.join(dir, 'vocab.txt');
    fs.writeFileSync(f, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n');
    const r = run(['--json', '--vocab', f, 'hello there']);
    expect(JSON.parse(r.stdout)[0].ids).toEqual([2, 5, 1, 3]);
    const bad = run(['--vocab', path.join(dir, 'nope.txt'), 'x']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ERR_IO/);
    fs.rmSync(dir, { recursive: true });
  });
});
