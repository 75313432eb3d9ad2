/**
 * `electra-native detect --model DIR "text…"`: runs the discriminator and
 * prints each token with its probability of having been replaced.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { CheckpointManager } from '../../checkpoints';
import { WordPieceTokenizer } from '../../data/tokenizer';
import { ElectraError } from '../../errors';
import { ElectraModel } from '../../model';
import { checkVocabFits, findVocab, resolveCheckpoint } from './export';

export const command = 'detect [text..]';
export const describe = 'Show, per token, the probability that it was replaced';

interface DetectArgs {
  text: string[];
  model: string;
  vocab?: string;
  cased: boolean;
  json: boolean;
}

export function builder(y: Argv): Argv<DetectArgs> {
  return y
    .positional('text', { type: 'string', array: true, default: [], describe: 'text (default: read stdin)' })
    .option('model', { type: 'string', demandOption: true, describe: 'run, checkpoint, or exported HF directory' })
    .option('vocab', { type: 'string', describe: 'vocab.txt (default: the one saved with the model)' })
    .option('cased', { type: 'boolean', default: false })
    .option('json', { type: 'boolean', default: false, describe: 'print [{token, id, p_replaced}]' })
    .example('$0 detect --model runs/my-run "the chef cooked the meal"', '') as unknown as Argv<DetectArgs>;
}

export interface Detection {
  token: string;
  id: number;
  p_replaced: number;
}

/** Loads a model (on the CPU: one sentence needs no GPU) and its vocabulary from a run, checkpoint or HF export directory. */
export async function loadForInference(dir: string, vocabFile?: string): Promise<{ model: ElectraModel; vocab: string[] }> {
  const hfDisc = path.join(dir, 'discriminator');
  if (fs.existsSync(path.join(hfDisc, 'config.json'))) {
    const vocab = findVocab(hfDisc, vocabFile);
    const model = await ElectraModel.load(dir, { specialIds: specialIdsOf(vocab), device: 'cpu' });
    checkVocabFits(model, vocab, vocabFile ?? `found with ${hfDisc}`);
    return { model, vocab };
  }
  const ckpt = CheckpointManager.latest(dir) ?? resolveCheckpoint(dir);
  const vocab = findVocab(ckpt, vocabFile);
  const model = await ElectraModel.load(ckpt, { specialIds: specialIdsOf(vocab), device: 'cpu' });
  checkVocabFits(model, vocab, vocabFile ?? `saved with ${ckpt}`);
  return { model, vocab };
}

function specialIdsOf(vocab: string[]) {
  const at = (t: string) => {
    const i = vocab.indexOf(t);
    if (i < 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `the vocabulary has no ${t}`);
    return i;
  };
  return { padId: at('[PAD]'), unkId: at('[UNK]'), clsId: at('[CLS]'), sepId: at('[SEP]'), maskId: at('[MASK]') };
}

export async function detect(model: ElectraModel, tok: WordPieceTokenizer, text: string): Promise<Detection[]> {
  const enc = tok.encode(text, null, { maxLength: model.config.maxPosition, truncation: true });
  const n = enc.inputIds.length;
  const logits = await model.discriminate({
    inputIds: Int32Array.from(enc.inputIds),
    tokenTypeIds: Int32Array.from(enc.tokenTypeIds),
    attentionMask: Int32Array.from(enc.attentionMask),
    rows: 1,
    seqLen: n,
  });
  return enc.tokens.map((token, i) => ({ token, id: enc.inputIds[i], p_replaced: 1 / (1 + Math.exp(-logits[i])) }));
}

export async function handler(argv: ArgumentsCamelCase<DetectArgs>): Promise<void> {
  const text = argv.text.length > 0 ? argv.text.join(' ') : fs.readFileSync(0, 'utf8');
  if (text.trim() === '') throw new ElectraError('ERR_INVALID_ARGUMENT', 'no text given (pass it as arguments or on stdin)');
  const { model, vocab } = await loadForInference(argv.model, argv.vocab);
  const tok = WordPieceTokenizer.fromTokens(vocab, { lowercase: !argv.cased });
  const rows = await detect(model, tok, text);
  if (argv.json) {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return;
  }
  const w = Math.max(5, ...rows.map((r) => r.token.length));
  for (const r of rows) {
    const bar = '█'.repeat(Math.round(r.p_replaced * 20)).padEnd(20, '·');
    process.stdout.write(`${r.token.padEnd(w)}  ${String(r.id).padStart(6)}  ${r.p_replaced.toFixed(3)}  ${bar}\n`);
  }
}
