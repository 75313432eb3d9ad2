#!/usr/bin/env node
'use strict';
/**
 * Throughput of the dataset builder (lib/data/dataset-builder.ts, compiled to dist/):
 *
 *   node scripts/bench/build-dataset.js [--mb 20] [--workers 1,2] [--seq 128] [--repeats 2] [--json]
 *
 * Generates a deterministic English-like corpus of ~--mb MB (Zipf-distributed
 * words of the BERT uncased vocabulary, 5-30 words per sentence, 5-40
 * sentences per document, blank lines between documents) in a temporary
 * directory, then builds it with the BERT uncased vocabulary for each worker
 * count, best of --repeats. Reports input MB/s and examples/s.
 * Needs `npm run build:ts` first.
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');

function parseArgs(argv) {
  const a = { mb: 20, workers: [1, 2], seq: 128, repeats: 2, json: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--mb') a.mb = Number(argv[++i]);
    else if (k === '--workers') a.workers = argv[++i].split(',').map(Number);
    else if (k === '--seq') a.seq = Number(argv[++i]);
    else if (k === '--repeats') a.repeats = Number(argv[++i]);
    else if (k === '--json') a.json = true;
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function makeCorpus(file, mb, vocabFile) {
  const words = fs
    .readFileSync(vocabFile, 'utf8')
    .split('\n')
    .filter((w) => /^[a-z]{2,}$/.test(w));
  // Zipf(1) over the vocabulary's whole words, by a cumulative table.
  const cum = new Float64Array(words.length);
  let s = 0;
  for (let i = 0; i < words.length; i++) cum[i] = s += 1 / (i + 1);
  let state = 12345;
  const rand = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
  const word = () => {
    const u = rand() * s;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return words[lo];
  };
  const target = mb * 1e6;
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  let docs = 0;
  while (bytes < target) {
    const lines = [];
    const n = 5 + Math.floor(rand() * 36);
    for (let k = 0; k < n; k++) {
      const m = 5 + Math.floor(rand() * 26);
      const ws = [];
      for (let j = 0; j < m; j++) ws.push(word());
      ws[0] = ws[0][0].toUpperCase() + ws[0].slice(1);
      if (m > 8) ws[4] += ',';
      lines.push(ws.join(' ') + (rand() < 0.1 ? '?' : '.'));
    }
    const text = lines.join('\n') + '\n\n';
    fs.writeSync(fd, text);
    bytes += Buffer.byteLength(text);
    docs++;
  }
  fs.closeSync(fd);
  return { bytes, docs };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const { buildDataset } = require(path.join(ROOT, 'dist', 'data', 'dataset-builder.js'));
  const vocabFile = path.join(ROOT, 'vocab', 'bert-base-uncased.txt');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-bench-ds-'));
  try {
    const corpus = path.join(tmp, 'corpus.txt');
    const t0 = Date.now();
    const { bytes, docs } = makeCorpus(corpus, args.mb, vocabFile);
    if (!args.json) process.stderr.write(`corpus: ${(bytes / 1e6).toFixed(1)} MB, ${docs} documents (generated in ${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
    const results = [];
    for (const workers of args.workers) {
      let best = null;
      for (let r = 0; r < args.repeats; r++) {
        const res = await buildDataset({ inputs: [corpus], outDir: path.join(tmp, `out-${workers}-${r}`), vocabFile, seqLen: args.seq, workers });
        const secs = res.elapsedMs / 1000;
        if (!best || secs < best.seconds) {
          best = { workers, seconds: secs, mbPerSec: bytes / 1e6 / secs, examplesPerSec: res.manifest.counts.examples / secs, examples: res.manifest.counts.examples, tokens: res.manifest.counts.tokens };
        }
        fs.rmSync(path.join(tmp, `out-${workers}-${r}`), { recursive: true, force: true });
      }
      results.push(best);
    }
    const report = { corpusMB: bytes / 1e6, documents: docs, seqLen: args.seq, cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model, results };
    if (args.json) process.stdout.write(JSON.stringify(report) + '\n');
    else {
      process.stdout.write(`build-dataset, seq ${args.seq}, BERT uncased vocab, ${report.corpusMB.toFixed(1)} MB corpus, best of ${args.repeats}\n`);
      process.stdout.write('workers   seconds     MB/s   examples/s   examples     tokens\n');
      for (const r of results) {
        process.stdout.write(
          `${String(r.workers).padStart(7)} ${r.seconds.toFixed(2).padStart(9)} ${r.mbPerSec.toFixed(2).padStart(8)} ${Math.round(r.examplesPerSec).toString().padStart(12)} ${String(r.examples).padStart(10)} ${String(r.tokens).padStart(10)}\n`,
        );
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`build-dataset bench: ${e.code ? e.code + ': ' : ''}${e.message}\n`);
  process.exit(1);
});
