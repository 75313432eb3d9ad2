/**
 * `electra-native vocab`: learns a WordPiece vocabulary (vocab.txt, BERT
 * format: [PAD] [UNK] [CLS] [SEP] [MASK] first) from text files.
 */
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { buildVocab, VocabProgress, writeVocab } from '../../data/vocab-builder';

export const command = 'vocab';
export const describe = 'Learn a WordPiece vocabulary from a corpus';

interface VocabArgs {
  corpus: string[];
  size: number;
  out: string;
  cased: boolean;
  minFrequency: number;
  limitAlphabet: number;
  quiet: boolean;
}

export function builder(y: Argv): Argv<VocabArgs> {
  return y
    .option('corpus', { type: 'string', array: true, demandOption: true, describe: 'text files or directories (.gz read through gunzip)' })
    .option('size', { type: 'number', default: 30522, describe: 'vocabulary size, special tokens included' })
    .option('out', { type: 'string', default: 'vocab.txt', describe: 'where to write the vocabulary' })
    .option('cased', { type: 'boolean', default: false, describe: 'keep case and accents (default: lowercase, strip accents)' })
    .option('min-frequency', { type: 'number', default: 2, describe: 'stop merging below this pair frequency' })
    .option('limit-alphabet', { type: 'number', default: 1000, describe: 'keep this many most frequent characters' })
    .option('quiet', { type: 'boolean', default: false, describe: 'no progress display' })
    .example('$0 vocab --corpus data/ --size 8000 --out vocab.txt', 'learn an 8000-token uncased vocabulary') as unknown as Argv<VocabArgs>;
}

function progressPrinter(enabled: boolean): (p: VocabProgress) => void {
  const tty = process.stderr.isTTY === true;
  let lastLine = '';
  let lastTime = 0;
  return (p) => {
    if (!enabled) return;
    const now = Date.now();
    const finished = p.done >= p.total;
    if (!finished && now - lastTime < (tty ? 100 : 2000)) return;
    lastTime = now;
    const pct = p.total > 0 ? ((100 * p.done) / p.total).toFixed(0) : '100';
    const line =
      p.phase === 'count'
        ? `counting words: ${(p.done / 1e6).toFixed(1)}/${(p.total / 1e6).toFixed(1)} MB (${pct}%)`
        : `merging: ${p.done}/${p.total} merges (${pct}%)`;
    if (line === lastLine) return;
    lastLine = line;
    if (tty) process.stderr.write(`\r\x1b[K${line}${finished ? '\n' : ''}`);
    else process.stderr.write(line + '\n');
  };
}

export async function handler(argv: ArgumentsCamelCase<VocabArgs>): Promise<void> {
  const t0 = Date.now();
  const res = await buildVocab(argv.corpus, {
    size: argv.size,
    lowercase: !argv.cased,
    minFrequency: argv.minFrequency,
    limitAlphabet: argv.limitAlphabet,
    onProgress: progressPrinter(!argv.quiet),
  });
  await writeVocab(argv.out, res.tokens);
  const note = res.tokens.length < argv.size ? ` (no pair occurs ${argv.minFrequency}+ times any more; lower --min-frequency for more)` : '';
  process.stderr.write(
    `electra-native: wrote ${res.tokens.length} tokens to ${path.resolve(argv.out)}${note}; ` +
      `${res.words} words (${res.distinctWords} distinct), alphabet ${res.alphabet}, ${res.merges} merges, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`,
  );
}
