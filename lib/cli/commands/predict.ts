/**
 * `electra-native predict --model DIR --data FILE [--out FILE]`: predictions
 * of a fine-tuned model, as JSONL (one object per example: id, label or
 * value, per-word tags for token tasks) or as a GLUE submission TSV
 * (`index<TAB>prediction`).
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { ElectraError } from '../../errors';
import { wordPredictions } from '../../finetune/data/encode';
import type { TextExample, TokenExample } from '../../finetune/data/examples';
import { writeFileAtomic } from '../../io/atomic';
import { DataArgs, dataOptions } from '../finetune-data';
import { loadForInference } from './evaluate';

export const command = 'predict';
export const describe = 'Predict with a fine-tuned model: JSONL, or TSV in the GLUE submission format';

interface PredictArgs extends DataArgs {
  model: string;
  data: string;
  out?: string;
  as: 'jsonl' | 'glue';
  seq?: number;
  batch: number;
  vocab?: string;
  device: string;
  precision?: string;
}

export function builder(y: Argv): Argv<PredictArgs> {
  return dataOptions(y)
    .option('model', { type: 'string', demandOption: true, describe: 'a fine-tuned model directory or fine-tuning run (its best checkpoint)' })
    .option('data', { type: 'string', demandOption: true, describe: "a file in the task's format (labels not needed)" })
    .option('out', { type: 'string', describe: 'output file (default: stdout)' })
    .option('as', { choices: ['jsonl', 'glue'] as const, default: 'jsonl' as const, describe: "'glue': index<TAB>prediction, as GLUE's submission files" })
    .option('seq', { type: 'number', describe: 'tokens per example (default: the one it was fine-tuned with, else 128)' })
    .option('batch', { type: 'number', default: 32, describe: 'examples per native call' })
    .option('vocab', { type: 'string', describe: "vocab.txt (default: the model's)" })
    .option('device', { type: 'string', default: 'auto', describe: "'auto', 'cpu', 'cuda' or 'cuda:N'" })
    .option('precision', { type: 'string', describe: "'fp32' or 'bf16' (CUDA)" })
    .example('$0 predict --model runs/sst2 --data glue/SST-2/test.tsv --as glue --out SST-2.tsv', 'a GLUE submission file') as unknown as Argv<PredictArgs>;
}

export async function handler(argv: ArgumentsCamelCase<PredictArgs>): Promise<void> {
  if (!Number.isInteger(argv.batch) || argv.batch < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `--batch must be an integer >= 1, got ${argv.batch}`);
  const { model, spec, data, enc } = await loadForInference(argv, argv.data, false);
  if (argv.as === 'glue' && spec.kind === 'token') throw new ElectraError('ERR_INVALID_ARGUMENT', "--as glue is for sentence tasks; token tasks predict as JSONL");
  const pred = await model.predict(enc, argv.batch);
  const lines: string[] = [];
  if (argv.as === 'glue') lines.push('index\tprediction');
  if (spec.kind === 'token') {
    const words = wordPredictions(enc.words!, pred);
    const ex = data.examples as TokenExample[];
    let k = 0;
    for (const e of ex) {
      const tags = e.words.map(() => {
        const p = words[k++];
        return p < 0 ? null : spec.labels[p];
      });
      lines.push(JSON.stringify({ id: e.id, words: e.words, tags }));
    }
  } else {
    const ex = data.examples as TextExample[];
    ex.forEach((e, i) => {
      const value = spec.kind === 'regression' ? pred[i] : spec.labels[pred[i]];
      if (argv.as === 'glue') lines.push(`${e.id}\t${spec.kind === 'regression' ? (value as number).toFixed(3) : value}`);
      else lines.push(JSON.stringify(spec.kind === 'regression' ? { id: e.id, value } : { id: e.id, label: value }));
    });
  }
  const text = lines.join('\n') + '\n';
  if (argv.out) {
    await writeFileAtomic(argv.out, text);
    process.stderr.write(`electra-native: wrote ${data.examples.length} predictions to ${argv.out}\n`);
  } else {
    process.stdout.write(text);
  }
}
