#!/usr/bin/env node
'use strict';
/**
 * Tokenizer throughput: electra-native's WordPieceTokenizer (lib/data/tokenizer.ts,
 * requires dist/: `npx tsc -p tsconfig.build.json`) against HF `tokenizers`
 * (native Rust, npm devDependency) with the same vocab (vocab/bert-base-uncased.txt)
 * and the same normalisation (BertNormalizer lowercase + strip accents + clean
 * text + CJK, BertPreTokenizer, WordPiece max 100 chars).
 *
 *   taskset -c 0 node scripts/bench/tokenizer.js [--mb 8] [--repeat 5] [--whole-repeat 1] [--no-python] [--json]
 *
 * Also runs HF tokenizers' Python bindings (same Rust core; pip install
 * tokenizers) through scripts/bench/tokenizer_hf_python.py on the same lines,
 * encode_batch and a plain encode loop, unless --no-python.
 *
 * The text (~8 MB, built deterministically by `benchText()`): English-like
 * sentences with Zipf-distributed words from the vocabulary, pseudo-words
 * that WordPiece has to split, capitals, punctuation, quotes, numbers, URLs,
 * accented names and a little CJK, plus the lines of test/golden/tokenizer_text.txt.
 *
 * Two ways of feeding it, same for both tokenizers:
 *  - lines: one encode per line (~ a paragraph, as a data pipeline would);
 *    HF gets them through encodeBatch in batches of 1024 (RAYON_NUM_THREADS=1);
 *  - whole: the whole text in one call.
 * Times are wall clock and process CPU time (all threads); the best of
 * --repeat (lines) / --whole-repeat (whole) runs after a warm-up run; ours
 * starts every run with a fresh tokenizer (cold word cache). ids are compared
 * token by token (HF's lines against ours).
 */
process.env.RAYON_NUM_THREADS = process.env.RAYON_NUM_THREADS || '1';
process.env.TOKENIZERS_PARALLELISM = process.env.TOKENIZERS_PARALLELISM || 'false';
process.env.UV_THREADPOOL_SIZE = process.env.UV_THREADPOOL_SIZE || '1';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const VOCAB = path.join(ROOT, 'vocab', 'bert-base-uncased.txt');

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
}

/** Mulberry32. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** ~`mb` MB of deterministic English-like text, one paragraph per line. */
function benchText(mb) {
  const r = prng(20261125);
  const vocab = fs.readFileSync(VOCAB, 'utf8').split('\n');
  // Whole words from the frequency-ordered part of the vocab (BERT's ids ~1996+ are roughly by frequency).
  const words = vocab.slice(1996).filter((t) => /^[a-z]{1,}$/.test(t)).slice(0, 20000);
  // Zipf(1.05) over the words by rank.
  const cdf = new Float64Array(words.length);
  let acc = 0;
  for (let i = 0; i < words.length; i++) cdf[i] = acc += 1 / Math.pow(i + 1, 1.05);
  const word = () => {
    const x = r() * acc;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    return words[lo];
  };
  const syll = ['con', 'tra', 'ble', 'ness', 'ion', 'al', 'ize', 'pre', 'un', 'ish', 'ly', 'mor', 'phy', 'graph', 'ker', 'zon', 'quel', 'ith', 'ous', 'ment'];
  const pseudo = () => {
    let s = '';
    const n = 2 + Math.floor(r() * 4);
    for (let i = 0; i < n; i++) s += syll[Math.floor(r() * syll.length)];
    return s;
  };
  const names = ['José', 'Zoë', 'François', 'Ångström', 'Müller', 'Dvořák', 'Søren', 'Łukasz', 'Renée', 'Björk', 'Nuñez', 'Chloé'];
  const extras = ['e.g.', 'U.S.', "don't", "it's", "we're", '(see above)', '"quoted"', '— dash', '…', '3.14', '1,024', '2026-11-25', '$99', '50%', 'https://example.com/a?b=c', '中文', 'naïve', 'café'];
  const golden = fs
    .readFileSync(path.join(ROOT, 'test', 'golden', 'tokenizer_text.txt'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('@') && !l.includes('\\') && !l.includes('['));
  const target = mb * 1e6;
  const lines = [];
  let bytes = 0;
  while (bytes < target) {
    let para = '';
    if (r() < 0.02) {
      para = golden[Math.floor(r() * golden.length)];
    } else {
      const nSent = 2 + Math.floor(r() * 6);
      for (let s = 0; s < nSent; s++) {
        const nw = 5 + Math.floor(r() * 20);
        const ws = [];
        for (let k = 0; k < nw; k++) {
          const x = r();
          let w;
          if (x < 0.03) w = pseudo();
          else if (x < 0.035) w = names[Math.floor(r() * names.length)];
          else if (x < 0.05) w = extras[Math.floor(r() * extras.length)];
          else if (x < 0.06) w = String(Math.floor(r() * 10000));
          else w = word();
          if (k === 0 || r() < 0.05) w = w.charAt(0).toUpperCase() + w.slice(1);
          if (k < nw - 1 && r() < 0.08) w += ',';
          ws.push(w);
        }
        para += (s ? ' ' : '') + ws.join(' ') + (r() < 0.1 ? '?' : r() < 0.05 ? '!' : '.');
      }
    }
    // Flat strings (not ropes), as text read from a file would be.
    lines.push(Buffer.from(para, 'utf8').toString('utf8'));
    bytes += Buffer.byteLength(para, 'utf8') + 1;
  }
  return lines;
}

function cpuSeconds() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Best wall time of `repeat` runs after a warm-up; `setup()` (untimed) makes each run's argument. */
async function timeIt(repeat, setup, fn) {
  await fn(await setup()); // warm-up
  let best = null;
  for (let i = 0; i < repeat; i++) {
    const arg = await setup();
    const c0 = cpuSeconds();
    const t0 = process.hrtime.bigint();
    const out = await fn(arg);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = cpuSeconds() - c0;
    if (!best || wall < best.wall) best = { wall, cpu, out };
  }
  return best;
}

function countMismatches(a, b) {
  // a, b: arrays of id arrays (per unit).
  let bad = 0;
  let badUnits = 0;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] || [];
    const y = b[i] || [];
    let unitBad = x.length !== y.length ? Math.abs(x.length - y.length) : 0;
    const n = Math.min(x.length, y.length);
    for (let k = 0; k < n; k++) if (x[k] !== y[k]) unitBad++;
    if (unitBad) badUnits++;
    bad += unitBad;
  }
  return { bad, badUnits };
}

async function main() {
  const mb = Number(arg('mb', '8'));
  const repeat = Number(arg('repeat', '5'));
  const wholeRepeat = Number(arg('whole-repeat', '1')); // HF is slow on one 8 MB string
  const json = process.argv.includes('--json');
  let WordPieceTokenizer;
  try {
    ({ WordPieceTokenizer } = require(path.join(ROOT, 'dist', 'data', 'tokenizer.js')));
  } catch (err) {
    process.stderr.write('dist/ is missing: run `npx tsc -p tsconfig.build.json` first\n');
    throw err;
  }
  const lines = benchText(mb);
  const whole = lines.join('\n');
  const nBytes = Buffer.byteLength(whole, 'utf8');
  const rows = [];

  // electra-native
  // A fresh tokenizer (cold word cache) for every timed run, made outside the timing.
  const fresh = () => WordPieceTokenizer.fromVocabFile(VOCAB, { lowercase: true });
  const oursLines = await timeIt(repeat, fresh, (tok) => lines.map((l) => tok.tokenizeToIds(l)));
  const oursWhole = await timeIt(wholeRepeat, fresh, (tok) => [tok.tokenizeToIds(whole)]);

  // HF tokenizers (Rust)
  let hf = null;
  try {
    hf = require('tokenizers');
  } catch (err) {
    process.stderr.write(`HF tokenizers (npm) not available: ${err.message}\n`);
  }
  let hfLines = null;
  let hfWhole = null;
  if (hf) {
    const model = await hf.WordPiece.fromFile(VOCAB, { unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100 });
    const tk = new hf.Tokenizer(model);
    tk.setNormalizer(hf.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true }));
    tk.setPreTokenizer(hf.bertPreTokenizer());
    const batch = 1024;
    const none = () => null;
    hfLines = await timeIt(repeat, none, async () => {
      const out = [];
      for (let i = 0; i < lines.length; i += batch) {
        const encs = await tk.encodeBatch(lines.slice(i, i + batch), { addSpecialTokens: false });
        for (const e of encs) out.push(e.getIds());
      }
      return out;
    });
    hfWhole = await timeIt(wholeRepeat, none, async () => [(await tk.encode(whole, null, { addSpecialTokens: false })).getIds()]);
  }

  // HF tokenizers through Python (the same Rust core), unless --no-python.
  let py = null;
  if (!process.argv.includes('--no-python')) {
    const { spawnSync } = require('node:child_process');
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tokbench-'));
    const file = path.join(tmp, 'lines.txt');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const r = spawnSync(process.env.PYTHON || 'python3', [path.join(__dirname, 'tokenizer_hf_python.py'), VOCAB, file, String(repeat)], {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      env: { ...process.env, RAYON_NUM_THREADS: '1', TOKENIZERS_PARALLELISM: 'false' },
    });
    fs.rmSync(tmp, { recursive: true, force: true });
    if (r.status === 0) py = JSON.parse(r.stdout);
    else process.stderr.write(`python tokenizers not run: ${(r.stderr || String(r.error)).trim().split('\n').pop()}\n`);
  }

  const nTokens = oursWhole.out[0].length;
  const add = (name, mode, t, ref) => {
    const tokens = t.out.reduce((s, x) => s + x.length, 0);
    const mm = ref ? countMismatches(t.out, ref.out) : null;
    rows.push({
      tokenizer: name,
      input: mode,
      seconds: t.wall,
      cpuSeconds: t.cpu,
      mbPerS: nBytes / 1e6 / t.wall,
      mbPerCpuS: nBytes / 1e6 / t.cpu,
      tokensPerS: tokens / t.wall,
      tokens,
      mismatchedIds: mm ? mm.bad : null,
      mismatchedUnits: mm ? mm.badUnits : null,
    });
  };
  add('electra-native', 'lines', oursLines, null);
  if (hfLines) add(`HF tokenizers ${require('tokenizers/package.json').version} (npm, encodeBatch)`, 'lines', hfLines, oursLines);
  if (py) {
    add(`HF tokenizers ${py.tokenizers} (Python, encode_batch)`, 'lines', { wall: py.batch.wall, cpu: py.batch.cpu, out: py.ids }, oursLines);
    add(`HF tokenizers ${py.tokenizers} (Python, encode loop)`, 'lines', { wall: py.loop.wall, cpu: py.loop.cpu, out: py.ids }, oursLines);
  }
  add('electra-native', 'whole', oursWhole, null);
  if (hfWhole) add(`HF tokenizers ${require('tokenizers/package.json').version} (npm, encode)`, 'whole', hfWhole, oursWhole);

  const info = {
    bytes: nBytes,
    lines: lines.length,
    tokens: nTokens,
    node: process.version,
    cpu: os.cpus()[0] ? os.cpus()[0].model : 'unknown',
    hfTokenizers: hf ? require('tokenizers/package.json').version : null,
    repeat,
    wholeRepeat,
  };
  if (json) {
    process.stdout.write(JSON.stringify({ info, rows }, null, 2) + '\n');
    return;
  }
  process.stdout.write(
    `text: ${(nBytes / 1e6).toFixed(2)} MB, ${lines.length} lines, ${nTokens} tokens; node ${info.node}; ` +
      `HF tokenizers ${info.hfTokenizers ?? 'n/a'}; best of ${repeat} (lines) / ${wholeRepeat} (whole) after a warm-up\n`,
  );
  const head = ['tokenizer', 'input', 'MB/s', 'MB/cpu-s', 'tokens/s', 'ids != ours'];
  const body = rows.map((r) => [
    r.tokenizer,
    r.input,
    r.mbPerS.toFixed(2),
    r.mbPerCpuS.toFixed(2),
    `${(r.tokensPerS / 1e6).toFixed(2)} M`,
    r.mismatchedIds === null ? '-' : `${r.mismatchedIds} (${r.mismatchedUnits} ${r.input === 'lines' ? 'lines' : 'texts'})`,
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  process.stdout.write(`${fmt(head)}\n${body.map(fmt).join('\n')}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    process.stderr.write(`${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
  });
}
module.exports = { benchText };
