/**
 * `electra-native tokenize [text..]`: BERT WordPiece ids and tokens of each
 * text (positional arguments, else one text per line of stdin), with [CLS]
 * and [SEP] as the model sees them.
 */
import * as fs from 'node:fs';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { ElectraError } from '../../errors';
import { BERT_UNCASED_VOCAB, WordPieceTokenizer, type Encoding } from '../../data/tokenizer';

export const command = 'tokenize [text..]';
export const describe = 'BERT WordPiece-tokenize text (arguments, or stdin one text per line): ids and tokens';

interface TokenizeArgs {
  text: string[];
  json: boolean;
  vocab?: string;
  cased: boolean;
  pair?: string;
  maxLength?: number;
}

export function builder(y: Argv): Argv<TokenizeArgs> {
  return y
    .positional('text', { type: 'string', array: true, default: [], describe: 'texts (default: stdin, one per line)' })
    .option('json', { type: 'boolean', default: false, describe: 'Print [{text, tokens, ids}] as JSON' })
    .option('vocab', { type: 'string', describe: 'vocab.txt (default: the shipped BERT uncased vocab)' })
    .option('cased', { type: 'boolean', default: false, describe: 'Do not lowercase or strip accents' })
    .option('pair', { type: 'string', describe: 'Second text of a pair: [CLS] A [SEP] B [SEP]' })
    .option('max-length', { type: 'number', describe: 'Truncate (longest first) to this many ids' })
    .example('$0 tokenize "Hello, world!"', '')
    .example('echo "unaffable" | $0 tokenize --json', '') as unknown as Argv<TokenizeArgs>;
}

/** Two aligned lines per text: ids over tokens. */
export function formatEncoding(enc: Encoding): string {
  const ids = enc.inputIds.map(String);
  const toks = enc.tokens;
  const w = ids.map((id, i) => Math.max(id.length, toks[i].length));
  return [`ids     ${ids.map((s, i) => s.padEnd(w[i])).join(' ')}`.trimEnd(), `tokens  ${toks.map((s, i) => s.padEnd(w[i])).join(' ')}`.trimEnd()].join('\n');
}

export function handler(argv: ArgumentsCamelCase<TokenizeArgs>): void {
  const maxLength = argv.maxLength;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 2)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `--max-length must be an integer >= 2, got ${maxLength}`);
  }
  const opts = { lowercase: !argv.cased };
  // Default: the shipped BERT uncased vocab (with --cased it is read without lowercasing).
  const tok = WordPieceTokenizer.fromVocabFile(argv.vocab ?? BERT_UNCASED_VOCAB, opts);
  let texts = (argv.text ?? []).map(String);
  if (texts.length === 0) {
    const input = fs.readFileSync(0, 'utf8');
    texts = input.split(/\r?\n/);
    if (texts.length > 0 && texts[texts.length - 1] === '') texts.pop();
  }
  const results = texts.map((text) => {
    const enc = tok.encode(text, argv.pair ?? null, maxLength !== undefined ? { maxLength, truncation: true } : {});
    return { text, enc };
  });
  if (argv.json) {
    process.stdout.write(`${JSON.stringify(results.map(({ text, enc }) => ({ text, tokens: enc.tokens, ids: enc.inputIds })))}\n`);
    return;
  }
  const blocks = results.map(({ text, enc }) => `text    ${JSON.stringify(text)}\n${formatEncoding(enc)}`);
  process.stdout.write(`${blocks.join('\n\n')}\n`);
}

