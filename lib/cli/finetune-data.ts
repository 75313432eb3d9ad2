/**
 * What the finetune / evaluate / predict commands share: the data options
 * (a GLUE task by name, an embedded Brown task, or generic CSV/TSV/JSONL and
 * CoNLL files with named columns), reading them into TaskData, the model's
 * tokenizer, and resolving a model argument (run, checkpoint or directory).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Argv } from 'yargs';

import { BERT_UNCASED_VOCAB, WordPieceTokenizer } from '../data/tokenizer';
import { ElectraError } from '../errors';
import { BROWN_TASKS, BrownTaskName, loadBrownTask } from '../finetune/data/brown';
import { readConllFile } from '../finetune/data/conll';
import { encodeExamples, Encoded } from '../finetune/data/encode';
import type { TaskData, TextExample, TokenExample } from '../finetune/data/examples';
import { readTableFile, TableFormat } from '../finetune/data/generic';
import { glueTask, isGlueTask, readGlueFile } from '../finetune/data/glue';
import { FINETUNE_CONFIG_KEY } from '../finetune/model';
import { FinetuneTrainer } from '../finetune/trainer';
import type { TaskSpec } from '../finetune/task';

/** Options naming how to read a data file. */
export interface DataArgs {
  task?: string;
  kind?: 'classification' | 'regression' | 'token';
  format?: TableFormat;
  textColumn: string;
  pairColumn?: string;
  labelColumn: string;
  idColumn?: string;
  metrics?: string[];
  cased: boolean;
}

export function dataOptions<T>(y: Argv<T>): Argv<T & DataArgs> {
  return y
    .option('task', {
      type: 'string',
      describe: `a GLUE task (cola, sst2, mrpc, stsb, qqp, mnli, mnli-mm, qnli, rte, wnli: its TSV layout, labels and metric) or an embedded one (${BROWN_TASKS.join(', ')}); omit for generic files`,
    })
    .option('kind', { choices: ['classification', 'regression', 'token'] as const, describe: 'generic files: what the task predicts (token: CoNLL files). Default classification' })
    .option('format', { choices: ['csv', 'tsv', 'jsonl'] as const, describe: 'generic files: the table format (default: from the extension)' })
    .option('text-column', { type: 'string', default: 'text', describe: 'generic files: the text column (JSONL key)' })
    .option('pair-column', { type: 'string', describe: 'generic files: the second segment of a pair task' })
    .option('label-column', { type: 'string', default: 'label', describe: 'generic files: the label column' })
    .option('id-column', { type: 'string', describe: "generic files: the id column (default 'id' or 'index' when present)" })
    .option('metrics', { type: 'array', string: true, describe: 'generic files: metric names (the first picks the best checkpoint)' })
    .option('cased', { type: 'boolean', default: false, describe: 'the vocabulary is cased (no lowercasing)' }) as unknown as Argv<T & DataArgs>;
}

/**
 * Reads one file for `spec` (the model's task when it exists, so labels keep
 * their indices); `labeled` false allows an unlabeled file (predict).
 */
export function readTaskFile(file: string, a: DataArgs, spec: TaskSpec | undefined, requireLabels: boolean): TaskData {
  if (!fs.existsSync(file)) throw new ElectraError('ERR_IO', `${file}: no such file`);
  const name = a.task ?? spec?.name;
  if (name && isGlueTask(name)) return readGlueFile(name, file, { requireLabels });
  const kind = spec?.kind ?? a.kind ?? (name === 'brown-pos' ? 'token' : 'classification');
  if (kind === 'token') {
    return readConllFile(file, { labels: spec?.labels, requireLabels, ...(name ? { name } : {}), ...(spec?.metrics ?? a.metrics ? { metrics: spec?.metrics ?? a.metrics } : {}) });
  }
  return readTableFile(file, {
    format: a.format,
    textColumn: a.textColumn,
    pairColumn: a.pairColumn,
    labelColumn: a.labelColumn,
    idColumn: a.idColumn,
    requireLabels,
    kind,
    ...(spec && kind === 'classification' ? { labels: spec.labels } : {}),
    ...(name ? { name } : {}),
    ...(spec?.metrics ?? a.metrics ? { metrics: spec?.metrics ?? a.metrics } : {}),
  });
}

/** The training and dev data of a `finetune` run. */
export function readTrainDev(a: DataArgs & { train?: string; dev?: string; dataDir?: string; limit?: number }): { train: TaskData; dev?: TaskData; spec: TaskSpec } {
  if (a.task && (BROWN_TASKS as readonly string[]).includes(a.task)) {
    const t = a.task as BrownTaskName;
    const opts = a.limit ? { limit: a.limit } : {};
    const train = loadBrownTask(t, 'train', opts);
    return { train, dev: loadBrownTask(t, 'dev', opts), spec: train.spec };
  }
  let trainFile = a.train, devFile = a.dev;
  if (a.task && isGlueTask(a.task) && a.dataDir) {
    const g = glueTask(a.task);
    trainFile ??= path.join(a.dataDir, g.files.train);
    devFile ??= path.join(a.dataDir, g.files.dev);
  }
  if (!trainFile) throw new ElectraError('ERR_INVALID_ARGUMENT', 'give --train FILE (and --dev FILE), or --task NAME with --data-dir DIR, or an embedded --task');
  const train = readTaskFile(trainFile, a, undefined, true);
  const dev = devFile ? readTaskFile(devFile, a, train.spec, true) : undefined;
  return { train, dev, spec: train.spec };
}

/** The vocabulary of a model directory (or the run it sits in), else BERT's uncased one when the sizes match. */
export function modelTokenizer(dir: string, vocabSize: number, cased: boolean, explicit?: string): { tok: WordPieceTokenizer; vocab: string[]; file: string } {
  const candidates = explicit ? [explicit] : [dir, path.dirname(dir), path.dirname(path.dirname(dir)), path.dirname(path.dirname(path.dirname(dir)))].map((d) => path.join(d, 'vocab.txt'));
  let file = candidates.find((f) => fs.existsSync(f));
  if (!file && vocabSize === 30522) file = BERT_UNCASED_VOCAB;
  if (!file) throw new ElectraError('ERR_IO', `no vocab.txt for the model in ${dir} (looked in ${candidates.join(', ')}); pass --vocab FILE`);
  const tok = WordPieceTokenizer.fromVocabFile(file, { lowercase: !cased });
  if (tok.vocab.length !== vocabSize) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `${file} has ${tok.vocab.length} tokens but the model's vocabulary has ${vocabSize}: pass the model's --vocab`);
  }
  return { tok, vocab: [...tok.vocab], file };
}

/** Examples -> tensors for the model's task. */
export function encode(spec: TaskSpec, data: TaskData, seqLen: number, tok: WordPieceTokenizer): Encoded {
  return encodeExamples(spec, data.examples as readonly (TextExample | TokenExample)[], { seqLen, tokenizer: tok });
}

/**
 * A fine-tuned model's directory from a `--model` argument: the directory
 * itself, the best checkpoint of a fine-tuning run, or its `best/` export.
 */
export function resolveFinetuned(source: string): string {
  const isModel = (d: string) => {
    const f = path.join(d, 'config.json');
    if (!fs.existsSync(f)) return false;
    try {
      return FINETUNE_CONFIG_KEY in (JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>);
    } catch {
      return false;
    }
  };
  if (isModel(source)) return source;
  const best = FinetuneTrainer.bestCheckpoint(source);
  if (best && isModel(best)) return best;
  if (isModel(path.join(source, 'best'))) return path.join(source, 'best');
  throw new ElectraError('ERR_IO', `${source}: not a fine-tuned model or fine-tuning run (no config.json with '${FINETUNE_CONFIG_KEY}'); create one with \`finetune\``);
}
