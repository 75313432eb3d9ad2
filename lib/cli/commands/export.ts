/**
 * `electra-native export RUN_OR_CKPT --out DIR`: writes DIR/discriminator
 * (ElectraForPreTraining) and DIR/generator (ElectraForMaskedLM) for HF
 * transformers; for a fine-tuned model or fine-tuning run (its best
 * checkpoint), DIR is one ElectraFor{Sequence,Token}Classification directory.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { CheckpointManager } from '../../checkpoints';
import { ElectraError } from '../../errors';
import { exportHf } from '../../io/hf-export';
import { ClassifierModel } from '../../finetune/model';
import { ElectraModel } from '../../model';
import { modelTokenizer, resolveFinetuned } from '../finetune-data';

export const command = 'export <source>';
export const describe = 'Export a run or checkpoint as HF transformers directories';

interface ExportArgs {
  source: string;
  out: string;
  vocab?: string;
  cased: boolean;
}

export function builder(y: Argv): Argv<ExportArgs> {
  return y
    .positional('source', { type: 'string', demandOption: true, describe: 'run directory or checkpoint directory (pre-training or fine-tuning)' })
    .option('out', { type: 'string', demandOption: true, describe: 'output directory' })
    .option('vocab', { type: 'string', describe: 'vocab.txt (default: the one saved with the run)' })
    .option('cased', { type: 'boolean', default: false, describe: 'the vocabulary is cased (no lowercasing)' })
    .example('$0 export runs/my-run --out hf/my-electra', 'then ElectraForPreTraining.from_pretrained("hf/my-electra/discriminator")') as unknown as Argv<ExportArgs>;
}

/** A run directory holds checkpoint/; a checkpoint directory holds config.json. */
export function resolveCheckpoint(source: string): string {
  const latest = CheckpointManager.latest(source);
  if (latest) return latest;
  if (fs.existsSync(path.join(source, 'checkpoint', 'config.json'))) return path.join(source, 'checkpoint');
  if (fs.existsSync(path.join(source, 'config.json'))) return source;
  throw new ElectraError('ERR_IO', `${source}: not a run or checkpoint directory (no config.json, no checkpoint/config.json)`);
}

/** The vocabulary saved with a checkpoint or its run, one token per line. */
export function findVocab(ckpt: string, explicit?: string): string[] {
  const candidates = explicit ? [explicit] : [path.join(ckpt, 'vocab.txt'), path.join(path.dirname(ckpt), 'vocab.txt')];
  for (const f of candidates) {
    if (fs.existsSync(f)) {
      const lines = fs.readFileSync(f, 'utf8').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      return lines.map((l) => l.replace(/\r$/, ''));
    }
  }
  throw new ElectraError('ERR_IO', `no vocabulary found (looked for ${candidates.join(', ')}); pass --vocab FILE`);
}

/** A vocabulary that does not fit the model's embedding table would tokenize to the wrong rows: refused, in every command. */
export function checkVocabFits(model: ElectraModel, vocab: readonly string[], where: string): void {
  if (vocab.length !== model.config.vocabSize) {
    model.dispose();
    throw new ElectraError(
      'ERR_INVALID_ARGUMENT',
      `the vocabulary (${where}) has ${vocab.length} tokens, but the model's embedding table has ${model.config.vocabSize} rows: pass the vocab.txt the model was trained with`,
    );
  }
}

/** A fine-tuned model or fine-tuning run, or null. */
function finetuned(source: string): string | null {
  try {
    return resolveFinetuned(source);
  } catch {
    return null;
  }
}

export async function handler(argv: ArgumentsCamelCase<ExportArgs>): Promise<void> {
  const ft = finetuned(argv.source);
  if (ft) {
    const model = await ClassifierModel.load(ft, { device: 'cpu' });
    const { vocab } = modelTokenizer(ft, model.config.encoder.vocabSize, argv.cased, argv.vocab);
    await model.save(argv.out, { vocab, lowercase: !argv.cased });
    const arch = (model.hfConfig().architectures as string[])[0];
    process.stdout.write(`exported ${ft}\n  ${arch}: ${argv.out}\n`);
    return;
  }
  const ckpt = resolveCheckpoint(argv.source);
  const vocab = findVocab(ckpt, argv.vocab);
  // Export only copies tensors: the CPU, so no GPU is initialised for it.
  const model = await ElectraModel.load(ckpt, { device: 'cpu' });
  checkVocabFits(model, vocab, argv.vocab ?? `saved with ${ckpt}`);
  const dirs = await exportHf(model, argv.out, { vocab, lowercase: !argv.cased });
  process.stdout.write(`exported ${ckpt}\n  discriminator: ${dirs.discriminator}\n  generator:     ${dirs.generator}\n`);
}
