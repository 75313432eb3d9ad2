/**
 * `electra-native build-dataset <inputs..> --out DIR`: turns text corpora
 * (one sentence per line, blank lines between documents; .gz and
 * directories accepted) into pre-training shards (docs/dataset-format.md).
 */
import * as os from 'os';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { BuildProgress, DEFAULT_CHUNK_BYTES, buildDataset } from '../../data/dataset-builder';

export const command = 'build-dataset <inputs..>';
export const describe = 'Build pre-training examples (ELECTRA reference rules) from text corpora';

interface BuildArgs {
  inputs: string[];
  out: string;
  vocab: string;
  lowercase: boolean;
  seq: number;
  seed: number;
  workers: number;
  chunkMb: number;
  overwrite: boolean;
  quiet: boolean;
  json: boolean;
}

const DEFAULT_VOCAB = path.resolve(__dirname, '..', '..', '..', 'vocab', 'bert-base-uncased.txt');

export function builder(y: Argv): Argv<BuildArgs> {
  return y
    .positional('inputs', { type: 'string', array: true, describe: 'text files, .gz files or directories (recursed, sorted)' })
    .option('out', { type: 'string', demandOption: true, describe: 'output directory (created; must be empty unless --overwrite)' })
    .option('vocab', { type: 'string', default: DEFAULT_VOCAB, defaultDescription: 'BERT uncased (vocab/bert-base-uncased.txt)', describe: 'WordPiece vocab.txt' })
    .option('lowercase', { type: 'boolean', default: true, describe: 'lowercase and strip accents (--no-lowercase for cased vocabularies)' })
    .option('seq', { type: 'number', default: 128, describe: 'tokens per example, [CLS]/[SEP] included' })
    .option('seed', { type: 'number', default: 0 })
    .option('workers', { type: 'number', default: os.availableParallelism(), describe: 'worker threads (output does not depend on it)' })
    .option('chunk-mb', { type: 'number', default: DEFAULT_CHUNK_BYTES / 1048576, describe: 'input split size in MiB (one shard per split)' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace a dataset already in --out' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress output' })
    .option('json', { type: 'boolean', default: false, describe: 'print the manifest as JSON when done' })
    .example('$0 build-dataset corpus/ --out data/owt128 --seq 128', 'build from every file under corpus/') as unknown as Argv<BuildArgs>;
}

function mb(n: number): string {
  return (n / 1048576).toFixed(1);
}

function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  s = Math.round(s);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A one-line progress bar redrawn with \r on a TTY, or a plain line every 10 s otherwise. */
export function progressReporter(stream: NodeJS.WriteStream, quiet: boolean): { update(p: BuildProgress): void; end(): void } {
  if (quiet) return { update() {}, end() {} };
  const tty = !!stream.isTTY;
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < (tty ? 100 : 10000)) return;
      last = now;
      const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
      const secs = p.elapsedMs / 1000;
      const rate = secs > 0 ? p.examples / secs : 0;
      const eta = frac > 0 ? (secs * (1 - frac)) / frac : NaN;
      const stats = `${(100 * frac).toFixed(1).padStart(5)}%  ${mb(p.bytesDone)}/${mb(p.bytesTotal)} MB  ${p.examples} examples  ${Math.round(rate)} ex/s  ETA ${duration(eta)}`;
      if (tty) {
        const width = 30;
        const fill = Math.round(frac * width);
        stream.write(`\r[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${stats}\x1b[K`);
        drawn = true;
      } else {
        stream.write(`build-dataset: ${stats}\n`);
      }
    },
    end() {
      if (drawn) stream.write('\n');
    },
  };
}

export async function handler(argv: ArgumentsCamelCase<BuildArgs>): Promise<void> {
  const bar = progressReporter(process.stderr, argv.quiet);
  let res;
  try {
    res = await buildDataset({
      inputs: argv.inputs,
      outDir: argv.out,
      vocabFile: argv.vocab,
      lowercase: argv.lowercase,
      seqLen: argv.seq,
      seed: argv.seed,
      workers: argv.workers,
      chunkBytes: Math.round(argv.chunkMb * 1048576),
      overwrite: argv.overwrite,
      onProgress: (p) => bar.update(p),
    });
  } finally {
    bar.end();
  }
  const m = res.manifest;
  const inBytes = m.sources.reduce((a, s) => a + s.bytes, 0);
  const secs = res.elapsedMs / 1000;
  if (argv.json) process.stdout.write(JSON.stringify(m) + '\n');
  if (!argv.quiet) {
    process.stderr.write(
      `electra-native: ${m.counts.examples} examples (seq ${m.seq_len}, ${m.counts.tokens} tokens, ${m.counts.documents} documents) ` +
        `in ${m.shards.length} shard(s) at ${argv.out}; ${mb(inBytes)} MB read in ${secs.toFixed(1)} s ` +
        `(${(inBytes / 1048576 / Math.max(secs, 1e-3)).toFixed(1)} MB/s, ${Math.round(m.counts.examples / Math.max(secs, 1e-3))} examples/s)` +
        (m.counts.skipped_lines > 0 ? `; ${m.counts.skipped_lines} line(s) skipped as invalid UTF-8` : '') +
        '\n',
    );
  } else if (m.counts.skipped_lines > 0) {
    process.stderr.write(`electra-native: warning: ${m.counts.skipped_lines} line(s) skipped as invalid UTF-8\n`);
  }
}
