import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

import { ElectraError } from '../lib/errors';
import {
  decodeUtf8,
  firstInvalidUtf8,
  GLUE_TASKS,
  glueTask,
  inferLabelSet,
  readConll,
  readGlue,
  readGlueFile,
  readTable,
  readTableFile,
} from '../lib/finetune/data';
import { parseCsv } from '../lib/finetune/data/delimited';

const enc = (s: string) => new TextEncoder().encode(s);

/** The ElectraError thrown by fn (fails the test when none is). */
function errorOf(fn: () => unknown): ElectraError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ElectraError);
    return e as ElectraError;
  }
  throw new Error('expected an ElectraError, nothing was thrown');
}

// Headers and first rows as in the GLUE benchmark's files.
const GLUE_SAMPLES: Record<string, { dev: string; test: string; n: number; labels: (number | undefined)[]; pair: boolean }> = {
  cola: {
    dev: 'gj04\t1\t\tThe sailors rode the breeze clear of the rocks.\ngj04\t0\t*\tThe more books I ask to whom he will give, the more he reads.\n',
    test: 'index\tsentence\n0\tBill whistled past the house.\n1\tThe car honked its way down the road.\n',
    n: 2,
    labels: [1, 0],
    pair: false,
  },
  sst2: {
    dev: "sentence\tlabel\nit 's a charming and often affecting journey . \t1\nunflinchingly bleak and desperate \t0\n",
    test: 'index\tsentence\n0\tuneasy mishmash of styles and genres .\n1\tthis film \'s relationship to actual tension is the same as what christmas-tree flocking in a spray can is to actual snow .\n',
    n: 2,
    labels: [1, 0],
    pair: false,
  },
  mrpc: {
    dev: 'Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1355540\t1355592\tHe said the foodservice pie business doesn\'t fit.\tThe foodservice pie business does not fit.\n0\t2029631\t2029565\tMagnarelli said Racicot hated the Iraqi regime.\tHis wife said he was "100 percent behind George Bush".\n',
    test: 'index\t#1 ID\t#2 ID\t#1 String\t#2 String\n0\t1089874\t1089925\tPCCW \'s chief operating officer will report.\tCurrent Chief Operating Officer Mike Butcher will report.\n',
    n: 2,
    labels: [1, 0],
    pair: true,
  },
  stsb: {
    dev: 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tmain-captions\tMSRvid\t2012test\t0000\tnone\tnone\tA man with a hard hat is dancing.\tA man wearing a hard hat is dancing.\t5.000\n1\tmain-captions\tMSRvid\t2012test\t0002\tnone\tnone\tA young child is riding a horse.\tA child is riding a horse.\t4.750\n',
    test: 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\n0\tmain-captions\tMSRvid\t2012test\t0024\tnone\tnone\tA girl is styling her hair.\tA girl is brushing her hair.\n',
    n: 2,
    labels: [5, 4.75],
    pair: true,
  },
  qqp: {
    dev: 'id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n201359\t303345\t303346\tWhy are African-Americans so beautiful?\tWhy are hispanics so beautiful?\t0\n',
    test: 'id\tquestion1\tquestion2\n0\tWould the idea of Trump and Putin in bed together scare you?\tDo you think that if Donald Trump were elected President, he would bring sense to the world?\n',
    n: 1,
    labels: [0],
    pair: true,
  },
  mnli: {
    dev:
      'index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label\n' +
      '0\t63735\t63735n\tslate\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThe new rights are nice enough\tEveryone really likes the newest benefits \tneutral\tentailment\tneutral\tneutral\tneutral\tneutral\n' +
      '1\t91383\t91383c\tgovernment\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tThis site includes a list of all award winners.\tThe Government Executive articles housed on the website are not able to be searched.\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\tcontradiction\n',
    test: 'index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\tsentence1_parse\tsentence2_parse\tsentence1\tsentence2\n0\t31193\t31193n\tgovernment\t( x )\t( y )\t(ROOT x)\t(ROOT y)\tConceptually cream skimming has two basic dimensions.\tProduct and geography are what make cream skimming work. \n',
    n: 2,
    labels: [2, 0],
    pair: true,
  },
  qnli: {
    dev: 'index\tquestion\tsentence\tlabel\n0\tWhat came into force after the new constitution was herald?\tAs of that day, the new constitution heralding the Second Republic came into force.\tentailment\n',
    test: 'index\tquestion\tsentence\n0\tWhat organization is devoted to Jihad against Israel?\tFor some decades prior to the First Palestine Intifada in 1987, the Muslim Brotherhood in Palestine took a "quiescent" stance.\n',
    n: 1,
    labels: [0],
    pair: true,
  },
  rte: {
    dev: 'index\tsentence1\tsentence2\tlabel\n0\tDana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer.\tChristopher Reeve had an accident.\tnot_entailment\n',
    test: 'index\tsentence1\tsentence2\n0\tMangla was summoned after Madhumita\'s sister Nidhi Shukla complained.\tShukla is related to Mangla.\n',
    n: 1,
    labels: [1],
    pair: true,
  },
  wnli: {
    dev: 'index\tsentence1\tsentence2\tlabel\n0\tThe drain is clogged with hair. It has to be cleaned.\tThe hair has to be cleaned.\t0\n',
    test: 'index\tsentence1\tsentence2\n0\tMaude and Dora had seen the trains rushing across the prairie.\tHorses ran away when Maude and Dora came in sight.\n',
    n: 1,
    labels: [0],
    pair: true,
  },
};

describe('GLUE readers', () => {
  test('every GLUE task has a sample here, and its official metrics', () => {
    expect(Object.keys(GLUE_TASKS).sort()).toEqual([...Object.keys(GLUE_SAMPLES), 'mnli-mm'].sort());
    expect(GLUE_TASKS.cola.spec.metrics[0]).toBe('mcc');
    expect(GLUE_TASKS.stsb.spec.metrics).toEqual(['spearman', 'pearson']);
    expect(GLUE_TASKS.mrpc.spec.metrics).toEqual(['accuracy', 'f1']);
    expect(GLUE_TASKS.qqp.spec.metrics).toEqual(['accuracy', 'f1']);
    for (const t of ['sst2', 'mnli', 'mnli-mm', 'qnli', 'rte', 'wnli']) expect(GLUE_TASKS[t].spec.metrics).toEqual(['accuracy']);
    expect(GLUE_TASKS.mnli.files.dev).toBe('dev_matched.tsv');
    expect(GLUE_TASKS['mnli-mm'].files.dev).toBe('dev_mismatched.tsv');
  });

  test('task names as users write them', () => {
    expect(glueTask('SST-2').spec.name).toBe('sst2');
    expect(glueTask('STS-B').spec.name).toBe('stsb');
    expect(glueTask('MNLI-MM').spec.name).toBe('mnli-mm');
    expect(glueTask('CoLA').spec.name).toBe('cola');
    const e = errorOf(() => glueTask('squad'));
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(/unknown GLUE task 'squad'/);
  });

  for (const [name, s] of Object.entries(GLUE_SAMPLES)) {
    test(`${name}: dev (labelled) and test (unlabelled) layouts`, () => {
      const dev = readGlue(name, enc(s.dev), 'dev.tsv');
      expect(dev.labeled).toBe(true);
      expect(dev.rows).toBe(s.n);
      expect(dev.examples.map((e) => e.label)).toEqual(s.labels);
      expect(dev.examples.every((e) => e.text.length > 0)).toBe(true);
      expect(dev.examples.every((e) => (e.pair !== undefined) === s.pair)).toBe(true);
      const test = readGlue(name, enc(s.test), 'test.tsv');
      expect(test.labeled).toBe(false);
      expect(test.examples.every((e) => e.label === undefined && e.text.length > 0)).toBe(true);
      expect(test.examples[0].id).toBe('0');
      const req = errorOf(() => readGlue(name, enc(s.test), 'test.tsv', { requireLabels: true }));
      expect(req.message).toMatch(/^test\.tsv, line 1: missing column/);
    });
  }

  test('columns are picked by name: MRPC pair and label', () => {
    const d = readGlue('mrpc', GLUE_SAMPLES.mrpc.dev, 'dev.tsv');
    expect(d.examples[1]).toEqual({
      line: 3,
      id: '1',
      text: 'Magnarelli said Racicot hated the Iraqi regime.',
      pair: 'His wife said he was "100 percent behind George Bush".',
      label: 0,
    });
    expect(readGlue('cola', GLUE_SAMPLES.cola.dev, 'dev.tsv').examples[0].text).toBe('The sailors rode the breeze clear of the rocks.');
    expect(readGlue('mnli', GLUE_SAMPLES.mnli.dev, 'dev.tsv').examples[0].pair).toBe('Everyone really likes the newest benefits ');
  });

  test('CRLF files, a BOM and a missing final newline read the same', () => {
    const plain = readGlue('rte', enc(GLUE_SAMPLES.rte.dev), 'a.tsv');
    const crlf = readGlue('rte', enc('\ufeff' + GLUE_SAMPLES.rte.dev.replace(/\n/g, '\r\n').replace(/\r\n$/, '')), 'a.tsv');
    expect(crlf.examples).toEqual(plain.examples);
  });

  test('an unknown label names file, line, column and the label set', () => {
    const e = errorOf(() => readGlue('rte', 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\tc\td\tentails\n', 'dev.tsv'));
    expect(e.code).toBe('ERR_CORRUPT_FILE');
    expect(e.message).toBe("dev.tsv, line 3, column 4 ('label'): unknown label 'entails' (known: 'entailment', 'not_entailment')");
  });

  test('a ragged row (too few or too many columns, or a blank line) names its line', () => {
    const head = 'index\tsentence1\tsentence2\tlabel\n0\ta\tb\t0\n';
    expect(errorOf(() => readGlue('wnli', head + '1\tc\t1\n', 'x.tsv')).message).toBe('x.tsv, line 3, column 4: ragged row: 3 columns, the header has 4');
    expect(errorOf(() => readGlue('wnli', head + '1\tc\td\t1\textra\n', 'x.tsv')).message).toMatch(/^x\.tsv, line 3, column 5: ragged row: 5 columns/);
    expect(errorOf(() => readGlue('wnli', head + '\n1\tc\td\t1\n', 'x.tsv')).message).toMatch(/^x\.tsv, line 3, column 2: ragged row: 1 column,/);
    expect(errorOf(() => readGlue('cola', 'src\t1\t\tok\nsrc\t0\n', 'train.tsv')).message).toMatch(/^train\.tsv, line 2, column 3: ragged row: 2 columns, CoLA/);
  });

  test('a missing column and a non-numeric STS-B score', () => {
    expect(errorOf(() => readGlue('qnli', 'index\tquestion\tlabel\n0\tq\tentailment\n', 'd.tsv')).message).toMatch(
      /^d\.tsv, line 1: missing column 'sentence' for GLUE qnli/,
    );
    const s = 'index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n0\tg\tf\ty\to\ts\ts\ta\tb\tfive\n';
    expect(errorOf(() => readGlue('stsb', s, 'd.tsv')).message).toBe("d.tsv, line 2, column 10 ('score'): label 'five' is not a finite number");
  });

  test('invalid UTF-8 names the line and byte column', () => {
    const bytes = Buffer.concat([Buffer.from('sentence\tlabel\ngood\t1\nbad '), Buffer.from([0xc3, 0x28]), Buffer.from('\t0\n')]);
    const e = errorOf(() => readGlue('sst2', bytes, 'train.tsv'));
    expect(e.code).toBe('ERR_CORRUPT_FILE');
    expect(e.message).toBe('train.tsv, line 3, column 5: invalid UTF-8 (byte 0xc3; the column counts bytes)');
  });

  test('files on disk, gzipped or not; a missing file is ERR_IO', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'glue-'));
    try {
      fs.writeFileSync(path.join(dir, 'dev.tsv'), GLUE_SAMPLES.sst2.dev);
      fs.writeFileSync(path.join(dir, 'dev.tsv.gz'), zlib.gzipSync(GLUE_SAMPLES.sst2.dev));
      const a = readGlueFile('sst2', path.join(dir, 'dev.tsv'));
      const b = readGlueFile('sst2', path.join(dir, 'dev.tsv.gz'));
      expect(b.examples).toEqual(a.examples);
      expect(a.file).toBe(path.join(dir, 'dev.tsv'));
      const e = errorOf(() => readGlueFile('sst2', path.join(dir, 'nope.tsv')));
      expect(e.code).toBe('ERR_IO');
      expect(e.message).toContain('nope.tsv');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('UTF-8 validation', () => {
  test('firstInvalidUtf8 agrees with the fatal TextDecoder on random and edge-case bytes', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    const edge = [
      [0xe0, 0x80, 0x80], // overlong
      [0xed, 0xa0, 0x80], // surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xf0, 0x9f, 0x98], // truncated
      [0xc0, 0xaf],
      [0xe2, 0x82, 0xac], // valid €
      [0xf0, 0x9f, 0x98, 0x80], // valid emoji
    ];
    const cases: Uint8Array[] = edge.map((e) => Uint8Array.from([0x61, ...e, 0x62]));
    for (let i = 0; i < 2000; i++) {
      const n = 1 + (rnd() % 8);
      const b = new Uint8Array(n);
      for (let k = 0; k < n; k++) b[k] = rnd() < 128 ? 0x80 | (rnd() & 0x7f) : rnd() | 0xc0;
      cases.push(b);
    }
    let invalid = 0;
    for (const b of cases) {
      let ok = true;
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(b);
      } catch {
        ok = false;
      }
      const at = firstInvalidUtf8(b);
      expect({ b: Array.from(b), valid: at < 0 }).toEqual({ b: Array.from(b), valid: ok });
      if (!ok) {
        invalid++;
        // Everything before the reported byte decodes.
        expect(() => new TextDecoder('utf-8', { fatal: true }).decode(b.subarray(0, at))).not.toThrow();
      }
    }
    expect(invalid).toBeGreaterThan(100);
  });

  test('decodeUtf8 drops one BOM and reports positions', () => {
    expect(decodeUtf8(Uint8Array.from([0xef, 0xbb, 0xbf, 0x61]), 'f')).toBe('a');
    expect(errorOf(() => decodeUtf8(Uint8Array.from([0x61, 0x0a, 0x62, 0x62, 0xff]), 'f.txt')).message).toMatch(/^f\.txt, line 2, column 3:/);
  });
});

describe('generic CSV / TSV / JSONL', () => {
  const csv = 'id,review,label\n7,"Great, really ""great""",pos\n8,"two\nlines",neg\n9,plain,pos\n';
  test('CSV with quoted commas, doubled quotes and newlines; labels inferred and sorted', () => {
    const d = readTable(enc(csv), 'r.csv', { textColumn: 'review', labelColumn: 'label' });
    expect(d.spec).toEqual({ name: 'custom', kind: 'classification', labels: ['neg', 'pos'], metrics: ['accuracy', 'macro_f1'] });
    expect(d.rows).toBe(3);
    expect(d.examples).toEqual([
      { line: 2, id: '7', text: 'Great, really "great"', label: 1 },
      { line: 3, id: '8', text: 'two\nlines', label: 0 },
      { line: 5, id: '9', text: 'plain', label: 1 },
    ]);
  });

  test('CSV parser edge cases: CRLF, empty fields, a trailing comma, quote inside an unquoted field', () => {
    expect(parseCsv('a,b\r\n1,\r\n,"x"\r\n3,4,\n', 'f').map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['', 'x'],
      ['3', '4', ''],
    ]);
    expect(parseCsv('a b"c,d', 'f')[0].fields).toEqual(['a b"c', 'd']);
    expect(errorOf(() => parseCsv('a,b\n1,"open\n', 'f.csv')).message).toBe('f.csv, line 2, column 3: unterminated quoted field');
    expect(errorOf(() => parseCsv('a,b\n1,"x"y\n', 'f.csv')).message).toBe('f.csv, line 2, column 6: unexpected text after a closing quote');
  });

  test('the same data as TSV and JSONL reads the same; numeric labels sort numerically', () => {
    const tsv = 'text\tpair\tlabel\nA\tB\t10\nC\tD\t2\nE\tF\t2\n';
    const jsonl = '{"text":"A","pair":"B","label":10}\n\n{"text":"C","pair":"D","label":"2"}\n{"text":"E","pair":"F","label":2}\n';
    const o = { textColumn: 'text', pairColumn: 'pair', labelColumn: 'label' };
    const a = readTable(tsv, 'x.tsv', o);
    const b = readTable(jsonl, 'x.jsonl', o);
    expect(a.spec.labels).toEqual(['2', '10']);
    expect(b.spec).toEqual(a.spec);
    expect(a.examples.map((e) => [e.text, e.pair, e.label])).toEqual([
      ['A', 'B', 1],
      ['C', 'D', 0],
      ['E', 'F', 0],
    ]);
    expect(b.examples.map((e) => [e.text, e.pair, e.label])).toEqual(a.examples.map((e) => [e.text, e.pair, e.label]));
    expect(b.examples.map((e) => e.line)).toEqual([1, 3, 4]);
  });

  test('regression, a given label set, and unlabelled files', () => {
    const r = readTable('s,y\na,0.5\nb,-2e1\n', 'r.csv', { textColumn: 's', labelColumn: 'y', kind: 'regression' });
    expect(r.spec.kind).toBe('regression');
    expect(r.spec.labels).toEqual([]);
    expect(r.examples.map((e) => e.label)).toEqual([0.5, -20]);
    const u = readTable('s\na\nb\n', 'u.csv', { textColumn: 's', labelColumn: 'y', labels: ['x', 'y'] });
    expect(u.labeled).toBe(false);
    expect(u.spec.labels).toEqual(['x', 'y']);
    expect(u.examples).toEqual([
      { line: 2, id: '0', text: 'a' },
      { line: 3, id: '1', text: 'b' },
    ]);
  });

  test('errors: unknown label, missing column, ragged row, bad JSON, wrong types, unknown format', () => {
    const o = { textColumn: 'text', labelColumn: 'label', labels: ['a', 'b'] };
    expect(errorOf(() => readTable('text,label\nx,a\ny,c\n', 'd.csv', o)).message).toBe("d.csv, line 3, column 2 ('label'): unknown label 'c' (known: 'a', 'b')");
    expect(errorOf(() => readTable('txt,label\nx,a\n', 'd.csv', o)).message).toMatch(/^d\.csv, line 1: missing column 'text' \(header: txt \| label\)/);
    expect(errorOf(() => readTable('text\tlabel\nx\ta\ny\n', 'd.tsv', o)).message).toMatch(/^d\.tsv, line 3, column 2: ragged row/);
    expect(errorOf(() => readTable('text,label\nx\n', 'd.tsv', { ...o, requireLabels: true })).message).toMatch(/missing column 'text'/);
    expect(errorOf(() => readTable('text\nx\n', 'd.csv', { ...o, requireLabels: true })).message).toMatch(/^d\.csv, line 1: missing column 'label'/);
    expect(errorOf(() => readTable('{"text":"x","label":"a"}\n{"text":"y" "label":"a"}\n', 'd.jsonl', o)).message).toMatch(/^d\.jsonl, line 2, column \d+: invalid JSON/);
    expect(errorOf(() => readTable('{"text":"x","label":"a"}\n{"label":"a"}\n', 'd.jsonl', o)).message).toBe("d.jsonl, line 2: missing column 'text'");
    expect(errorOf(() => readTable('{"text":["x"],"label":"a"}\n', 'd.jsonl', o)).message).toBe("d.jsonl, line 1 ('text'): expected a string, number or boolean, got object");
    expect(errorOf(() => readTable('[1]\n', 'd.jsonl', o)).message).toBe('d.jsonl, line 1: expected a JSON object per line');
    expect(errorOf(() => readTable('s\ta\n', 'd.txt', o)).code).toBe('ERR_INVALID_ARGUMENT');
    expect(errorOf(() => readTable('a,a\n1,2\n', 'd.csv', { textColumn: 'a' })).message).toBe("d.csv, line 1, column 2: column name 'a' appears twice in the header");
  });

  test('readTableFile reads from disk', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'table-'));
    try {
      const f = path.join(dir, 'r.csv');
      fs.writeFileSync(f, csv);
      expect(readTableFile(f, { textColumn: 'review', labelColumn: 'label' }).rows).toBe(3);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('inferLabelSet is order-independent', () => {
    expect(inferLabelSet(['b', 'a', 'b'])).toEqual(['a', 'b']);
    expect(inferLabelSet(['10', '9', '-1'])).toEqual(['-1', '9', '10']);
    expect(inferLabelSet(['1', 'x'])).toEqual(['1', 'x']);
  });
});

describe('CoNLL token files', () => {
  const conll = '-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n\n';
  test('word and last-column tag, blank lines between sentences, -DOCSTART- skipped', () => {
    const d = readConll(enc(conll), 'train.conll');
    expect(d.spec).toEqual({ name: 'custom-tokens', kind: 'token', labels: ['B-ORG', 'B-PER', 'I-PER', 'O'], metrics: ['token_accuracy', 'token_macro_f1'] });
    expect(d.rows).toBe(2);
    expect(d.examples).toEqual([
      { line: 3, id: '0', words: ['EU', 'rejects'], tags: [0, 3] },
      { line: 6, id: '1', words: ['Peter', 'Blackburn'], tags: [1, 2] },
    ]);
  });

  test('two-column files, tabs, CRLF, no final blank line; unlabelled files', () => {
    const d = readConll('The\tDET\r\ndog NOUN\r\n\r\nbarks\tVERB', 'x.conll', { labels: ['NOUN', 'DET', 'VERB'] });
    expect(d.examples.map((e) => e.tags)).toEqual([[1, 0], [2]]);
    const u = readConll('The\ndog\n\nbarks\n', 'x.conll');
    expect(u.labeled).toBe(false);
    expect(u.examples.map((e) => e.words)).toEqual([['The', 'dog'], ['barks']]);
    expect(errorOf(() => readConll('The\ndog\n', 'x.conll', { requireLabels: true })).message).toMatch(/^x\.conll, line 1: has no tag column/);
  });

  test('errors: unknown tag, ragged line', () => {
    expect(errorOf(() => readConll('a X\nb Y\n', 'p.conll', { labels: ['X'] })).message).toBe("p.conll, line 2, column 2: unknown label 'Y' (known: 'X')");
    expect(errorOf(() => readConll('a X\nb\n', 'p.conll')).message).toBe('p.conll, line 2, column 2: ragged row: 1 column, line 1 has 2');
  });
});
