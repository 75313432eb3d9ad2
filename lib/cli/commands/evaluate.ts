/**
 * `electra-native evaluate --model DIR --data FILE`: scores a fine-tuned model
 * (a directory, or a fine-tuning run's best checkpoint) on a labelled file
 * with its task's metrics (token tasks: per word).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { Device, parseDevice, parsePrecision, Precision } from '../../device';
import { ElectraError } from '../../errors';
import { wordGold, wordPredictions } from '../../finetune/data/encode';
import type { TokenExample } from '../../finetune/data/examples';
import { ClassifierModel } from '../../finetune/model';
import { computeMetrics } from '../../metrics';
import { DataArgs, dataOptions, encode, modelTokenizer, readTaskFile, resolveFinetuned } from '../finetune-data';

export const command = 'evaluate';
export const describe = "Score a fine-tuned model on a labelled file with its task's metrics";

interface EvaluateArgs extends DataArgs {
  model: string;
  data: string;
  seq?: number;
  batch: number;
  vocab?: string;
  device: string;
  precision?: string;
  json: boolean;
}

export function builder(y: Argv): Argv<EvaluateArgs> {
  return dataOptions(y)
    .option('model', { type: 'string', demandOption: true, describe: 'a fine-tuned model directory or fine-tuning run (its best checkpoint)' })
    .option('data', { type: 'string', demandOption: true, describe: "a labelled file in the task's format" })
    .option('seq', { type: 'number', describe: 'tokens per example (default: the one it was fine-tuned with, else 128)' })
    .option('batch', { type: 'number', default: 32, describe: 'examples per native call' })
    .option('vocab', { type: 'string', describe: "vocab.txt (default: the model's)" })
    .option('device', { type: 'string', default: 'auto', describe: "'auto', 'cpu', 'cuda' or 'cuda:N'" })
    .option('precision', { type: 'string', describe: "'fp32' or 'bf16' (CUDA)" })
    .option('json', { type: 'boolean', default: false, describe: 'print the metrics as one JSON object' })
    .example('$0 evaluate --model runs/sst2 --data glue/SST-2/dev.tsv', 'accuracy of the best checkpoint') as unknown as Argv<EvaluateArgs>;
}

/** Loads the model, reads and encodes `file`; shared by evaluate and predict. */
export async function loadForInference(argv: DataArgs & { model: string; seq?: number; vocab?: string; device: string; precision?: string }, file: string, requireLabels: boolean) {
  try {
    parseDevice(argv.device);
  } catch (e) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `--${(e as Error).message}`);
  }
  const dir = resolveFinetuned(path.resolve(argv.model));
  const model = await ClassifierModel.load(dir, { device: argv.device as Device, precision: parsePrecision(argv.precision) as Precision | undefined, onDeviceNotice: (m) => void process.stderr.write(`electra-native: ${m}\n`) });
  const spec = model.config.task;
  const { tok } = modelTokenizer(dir, model.config.encoder.vocabSize, argv.cased, argv.vocab);
  const data = readTaskFile(file, argv, spec, requireLabels);
  const seq = argv.seq ?? savedSeqLen(dir) ?? 128;
  if (!Number.isInteger(seq) || seq < 2 || seq > model.config.encoder.maxPosition) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `--seq must be an integer in [2, ${model.config.encoder.maxPosition}], got ${seq}`);
  }
  const enc = encode(spec, data, seq, tok);
  process.stderr.write(`electra-native: read ${data.rows} rows from ${file}${enc.truncated ? ` (${enc.truncated} cut to ${seq} tokens)` : ''}; model ${dir}\n`);
  return { dir, model, spec, data, enc };
}

/** The sequence length a model was fine-tuned with: its checkpoint state, or the run's task.json (for best/). */
function savedSeqLen(dir: string): number | undefined {
  for (const f of [path.join(dir, 'finetune.json'), path.join(dir, '..', 'task.json')]) {
    try {
      if (fs.existsSync(f)) return (JSON.parse(fs.readFileSync(f, 'utf8')) as { hyper?: { seqLen?: number } }).hyper?.seqLen;
    } catch {
      // unreadable: fall back to the default
    }
  }
  return undefined;
}

export async function handler(argv: ArgumentsCamelCase<EvaluateArgs>): Promise<void> {
  if (!Number.isInteger(argv.batch) || argv.batch < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `--batch must be an integer >= 1, got ${argv.batch}`);
  const { model, spec, data, enc } = await loadForInference(argv, argv.data, true);
  const pred = await model.predict(enc, argv.batch);
  const metrics =
    spec.kind === 'token' && enc.words
      ? computeMetrics(spec, wordPredictions(enc.words, pred), wordGold(data.examples as TokenExample[]))
      : computeMetrics(spec, pred, enc.labels);
  if (argv.json) {
    process.stdout.write(JSON.stringify({ task: spec.name, file: argv.data, examples: data.examples.length, metrics }) + '\n');
  } else {
    process.stdout.write(`${spec.name} on ${argv.data} (${data.examples.length} examples)\n`);
    for (const [k, v] of Object.entries(metrics)) process.stdout.write(`  ${k.padEnd(16)} ${v.toFixed(4)}\n`);
  }
}
