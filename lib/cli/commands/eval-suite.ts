/**
 * `electra-native eval-suite MODEL [--random-init] [--json]`: fine-tunes the
 * model on the embedded Brown tasks (POS tagging, genre classification) and
 * prints one table of dev and test scores (or one JSON object).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { Device, parseDevice, parsePrecision, Precision } from '../../device';
import { ElectraError } from '../../errors';
import { BROWN_TASKS, BrownTaskName } from '../../finetune/data/brown';
import { EVAL_SUITE_DEFAULTS, formatEvalSuiteTable, runEvalSuite } from '../../finetune/eval-suite';
import { resolveSource } from '../../finetune/model';
import { modelTokenizer } from '../finetune-data';

export const command = 'eval-suite <model>';
export const describe = 'Fine-tune and score a pre-trained model on the embedded Brown tasks (POS tagging, genre)';

interface EvalSuiteArgs {
  model: string;
  randomInit: boolean;
  tasks?: string[];
  seq?: number;
  epochs?: number;
  trainLimit?: number;
  devLimit?: number;
  seed: number;
  vocab?: string;
  cased: boolean;
  out?: string;
  device: string;
  precision?: string;
  logEvery: number;
  json: boolean;
}

export function builder(y: Argv): Argv<EvalSuiteArgs> {
  const d = EVAL_SUITE_DEFAULTS;
  return y
    .positional('model', { type: 'string', demandOption: true, describe: 'the pre-trained model: a run or checkpoint, an HF export, or an HF ELECTRA directory' })
    .option('random-init', { type: 'boolean', default: false, describe: "fine-tune a randomly initialised encoder of the model's shape instead (the floor)" })
    .option('tasks', { type: 'array', string: true, choices: BROWN_TASKS as string[], describe: 'the tasks to run (default: all)' })
    .option('seq', { type: 'number', describe: `tokens per example (default: brown-pos ${d['brown-pos'].seqLen}, brown-genre ${d['brown-genre'].seqLen})` })
    .option('epochs', { type: 'number', describe: `fine-tuning epochs (default ${d['brown-pos'].epochs})` })
    .option('train-limit', { type: 'number', describe: 'at most this many training examples per task, evenly spaced (default: all)' })
    .option('dev-limit', { type: 'number', describe: 'at most this many dev examples per task (default: all)' })
    .option('seed', { type: 'number', default: 0, describe: 'seeds the heads, shuffling and dropout' })
    .option('vocab', { type: 'string', describe: "vocab.txt (default: the model's)" })
    .option('cased', { type: 'boolean', default: false, describe: 'the vocabulary is cased (no lowercasing)' })
    .option('out', { type: 'string', describe: 'keep the fine-tuning runs here (default: a temporary directory, removed)' })
    .option('device', { type: 'string', default: 'auto', describe: "'auto', 'cpu', 'cuda' or 'cuda:N'" })
    .option('precision', { type: 'string', describe: "'fp32' or 'bf16' (CUDA)" })
    .option('log-every', { type: 'number', default: 50, describe: 'a progress line every N steps (stderr)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the result as JSON' })
    .example('$0 eval-suite runs/my-run', 'score a pre-training run')
    .example('$0 eval-suite runs/my-run --random-init', 'the floor: the same shape, not pre-trained') as unknown as Argv<EvalSuiteArgs>;
}

function readVocabSize(dir: string): number {
  const raw = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as { vocab_size?: unknown };
  if (typeof raw.vocab_size !== 'number') throw new ElectraError('ERR_CORRUPT_FILE', `${path.join(dir, 'config.json')}: no vocab_size`);
  return raw.vocab_size;
}

export async function handler(argv: ArgumentsCamelCase<EvalSuiteArgs>): Promise<void> {
  for (const [k, v, min] of [
    ['seq', argv.seq, 3],
    ['epochs', argv.epochs, 1],
    ['train-limit', argv.trainLimit, 1],
    ['dev-limit', argv.devLimit, 1],
    ['log-every', argv.logEvery, 1],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new ElectraError('ERR_INVALID_ARGUMENT', `--${k} must be an integer >= ${min}, got ${v}`);
  }
  try {
    parseDevice(argv.device);
  } catch (e) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `--${(e as Error).message}`);
  }
  const src = resolveSource(path.resolve(argv.model));
  const { tok } = modelTokenizer(src, readVocabSize(src), argv.cased, argv.vocab);
  const err = (s: string) => void process.stderr.write(`electra-native: ${s}\n`);
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    err('stopping after this step (Ctrl-C again quits at once)');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let totalSteps = 0;
  try {
    const r = await runEvalSuite({
      model: src,
      tokenizer: tok,
      randomInit: argv.randomInit,
      tasks: argv.tasks as BrownTaskName[] | undefined,
      seqLen: argv.seq,
      epochs: argv.epochs,
      trainLimit: argv.trainLimit,
      devLimit: argv.devLimit,
      seed: argv.seed,
      outDir: argv.out ? path.resolve(argv.out) : undefined,
      device: argv.device as Device,
      precision: parsePrecision(argv.precision) as Precision | undefined,
      onDeviceNotice: err,
      signal: ac.signal,
      onTaskStart: (task, i) => {
        totalSteps = i.steps;
        err(
          `${task}: ${i.train} training examples of ${i.seqLen} tokens, ${i.dev} dev and ${i.test} test examples of ${i.evalSeqLen}; ` +
            `${i.steps} steps${argv.randomInit ? ' (random init)' : ''}`,
        );
      },
      onStep: (task, m) => {
        if (m.step % argv.logEvery === 0) err(`${task}: step ${m.step}/${totalSteps} epoch ${m.epoch} loss ${m.loss.toFixed(4)}`);
      },
      onEval: (task, e) => err(`${task}: dev @ epoch ${e.epoch}: ${Object.entries(e.metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ')}`),
    });
    if (r.aborted) err('stopped: the table holds the tasks that finished');
    process.stdout.write(argv.json ? `${JSON.stringify(r, null, 2)}\n` : formatEvalSuiteTable(r) + `(${r.seconds.toFixed(0)} s; model ${r.model}${r.randomInit ? ', random init' : ''})\n`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
