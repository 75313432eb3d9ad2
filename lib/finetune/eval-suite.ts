/**
 * The embedded evaluation suite: fine-tunes a pre-trained discriminator on
 * each Brown task (brown-pos, brown-genre; see corpus/NOTICE), keeps the
 * checkpoint with the best dev score, and scores it on the test split, which
 * holds only documents the pre-training corpus left out. POS is scored per
 * word (a word cut off by truncation counts as wrong).
 *
 * `randomInit` fine-tunes a model of the same shape whose encoder is freshly
 * initialised instead of loaded: the floor that pre-training should beat.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { WordPieceTokenizer } from '../data/tokenizer';
import type { DeviceOptions } from '../device';
import { ElectraError } from '../errors';
import { computeMetrics } from '../metrics';
import { BROWN_SPECS, BrownTaskName, loadBrownTask } from './data/brown';
import { encodeExamples, wordGold, wordPredictions } from './data/encode';
import type { TaskData, TextExample, TokenExample } from './data/examples';
import { ClassifierModel } from './model';
import type { FinetuneHyperParameters } from './recipe';
import { FinetuneEvalMetrics, FinetuneStepMetrics, FinetuneTrainer } from './trainer';

/**
 * Each task's defaults. Both train on their whole training split for 3
 * epochs (not the recipe's 10 for small sets: the suite is meant to finish
 * within 15 minutes for the tiny preset on 2 CPU cores); POS trains at 64
 * tokens (99% of its words fit) and, like genre, is scored at TEST_SEQ_LEN.
 */
export const EVAL_SUITE_DEFAULTS: Readonly<Record<BrownTaskName, { seqLen: number; epochs: number }>> = {
  'brown-pos': { seqLen: 64, epochs: 3 },
  'brown-genre': { seqLen: 128, epochs: 3 },
};

/** Dev and test examples are encoded with at least this many tokens (at most the model's positions), so that little is cut off. */
export const TEST_SEQ_LEN = 128;

export interface EvalSuiteOptions extends DeviceOptions {
  /** The pre-trained model: a run or checkpoint, our HF export, or an HF ELECTRA directory. */
  model: string;
  tokenizer: WordPieceTokenizer;
  /** Fine-tune a freshly initialised encoder of the same shape instead (the floor). */
  randomInit?: boolean;
  /** Default: both tasks. */
  tasks?: readonly BrownTaskName[];
  /** Overrides of EVAL_SUITE_DEFAULTS (for every task) and of the fine-tuning recipe. */
  seqLen?: number;
  epochs?: number;
  /** Training / dev examples per task (evenly spaced subsets); default: all. */
  trainLimit?: number;
  devLimit?: number;
  hyper?: Partial<FinetuneHyperParameters>;
  seed?: number;
  /** Where the runs' checkpoints go (default: a temporary directory, removed at the end). */
  outDir?: string;
  onTaskStart?: (task: BrownTaskName, info: { steps: number; train: number; dev: number; test: number; seqLen: number; evalSeqLen: number }) => void;
  onStep?: (task: BrownTaskName, m: FinetuneStepMetrics) => void;
  onEval?: (task: BrownTaskName, m: FinetuneEvalMetrics) => void;
  signal?: AbortSignal;
}

export interface EvalSuiteTaskResult {
  task: BrownTaskName;
  /** The task's metrics in order; the first picked the checkpoint. */
  metrics: string[];
  dev: Record<string, number>;
  test: Record<string, number>;
  bestEpoch: number;
  epochs: number;
  steps: number;
  /** Tokens per training example, and per dev/test example. */
  seqLen: number;
  evalSeqLen: number;
  examples: { train: number; dev: number; test: number };
  /** Test words without a prediction (cut off at evalSeqLen); POS only. */
  droppedTestWords?: number;
  seconds: number;
}

export interface EvalSuiteResult {
  model: string;
  randomInit: boolean;
  tasks: EvalSuiteTaskResult[];
  seconds: number;
  aborted: boolean;
}

function encode(data: TaskData, seqLen: number, tok: WordPieceTokenizer) {
  return encodeExamples(data.spec, data.examples as readonly (TextExample | TokenExample)[], { seqLen, tokenizer: tok });
}

/** Runs the suite; see the module comment. */
export async function runEvalSuite(opts: EvalSuiteOptions): Promise<EvalSuiteResult> {
  const tasks = opts.tasks ?? (['brown-pos', 'brown-genre'] as const);
  const t0 = Date.now();
  const tmp = opts.outDir ? undefined : await fs.promises.mkdtemp(path.join(os.tmpdir(), 'electra-eval-suite-'));
  const root = opts.outDir ?? tmp!;
  const results: EvalSuiteTaskResult[] = [];
  let aborted = false;
  try {
    for (const task of tasks) {
      const d = EVAL_SUITE_DEFAULTS[task];
      if (!d) throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown eval-suite task '${task}'`);
      const seqLen = opts.seqLen ?? d.seqLen;
      const spec = BROWN_SPECS[task];
      const train = loadBrownTask(task, 'train', opts.trainLimit ? { limit: opts.trainLimit } : {});
      const dev = loadBrownTask(task, 'dev', opts.devLimit ? { limit: opts.devLimit } : {});
      const test = loadBrownTask(task, 'test');

      const where = { device: opts.device, precision: opts.precision, onDeviceNotice: opts.onDeviceNotice };
      const seed = opts.seed ?? 0;
      let model = await ClassifierModel.fromPretrained(opts.model, spec, { seed, ...where });
      if (opts.randomInit) model = ClassifierModel.create({ encoder: model.config.encoder, task: spec }, { seed, ...where });
      const maxPosition = model.config.encoder.maxPosition;
      if (seqLen > maxPosition) throw new ElectraError('ERR_INVALID_ARGUMENT', `seqLen ${seqLen} exceeds the model's ${maxPosition} positions`);
      const evalSeqLen = Math.min(Math.max(seqLen, TEST_SEQ_LEN), maxPosition);
      const trainEx = encode(train, seqLen, opts.tokenizer);
      const devEx = encode(dev, evalSeqLen, opts.tokenizer);
      const testEx = encode(test, evalSeqLen, opts.tokenizer);
      const outDir = path.join(root, task);
      const trainer = new FinetuneTrainer({
        model,
        train: trainEx,
        dev: devEx,
        hyper: { seqLen, epochs: opts.epochs ?? d.epochs, seed, ...opts.hyper },
        outDir,
        keep: 1,
      });
      const t1 = Date.now();
      opts.onTaskStart?.(task, { steps: trainer.totalSteps, train: trainEx.count, dev: devEx.count, test: testEx.count, seqLen, evalSeqLen });
      const run = await trainer.run({
        signal: opts.signal,
        onStep: (m) => opts.onStep?.(task, m),
        onEval: (m) => opts.onEval?.(task, m),
      });
      if (run.aborted) {
        aborted = true;
        break;
      }
      if (!run.best?.checkpoint) throw new ElectraError('ERR_INTERNAL', `${task}: the fine-tuning run kept no best checkpoint`);
      const best = await ClassifierModel.load(run.best.checkpoint, where);
      const pred = await best.predict(testEx);
      let testMetrics: Record<string, number>;
      if (spec.kind === 'token') {
        testMetrics = computeMetrics(spec, wordPredictions(testEx.words!, pred), wordGold(test.examples as TokenExample[]));
      } else {
        testMetrics = computeMetrics(spec, pred, testEx.labels);
      }
      results.push({
        task,
        metrics: [...spec.metrics],
        dev: run.best.metrics,
        test: testMetrics,
        bestEpoch: run.best.epoch,
        epochs: trainer.hyper.epochs,
        steps: run.steps,
        seqLen,
        evalSeqLen,
        examples: { train: trainEx.count, dev: devEx.count, test: testEx.count },
        ...(spec.kind === 'token' ? { droppedTestWords: testEx.droppedWords } : {}),
        seconds: (Date.now() - t1) / 1000,
      });
    }
  } finally {
    if (tmp) await fs.promises.rm(tmp, { recursive: true, force: true });
  }
  return { model: opts.model, randomInit: opts.randomInit ?? false, tasks: results, seconds: (Date.now() - t0) / 1000, aborted };
}

/** The suite's result as a plain-text table: one row per task and split. */
export function formatEvalSuiteTable(r: EvalSuiteResult): string {
  const rows: string[][] = [['task', 'metric', 'dev', 'test', 'train ex.', 'epochs', 'seconds']];
  for (const t of r.tasks) {
    t.metrics.forEach((m, i) => {
      rows.push([
        i === 0 ? t.task : '',
        m,
        t.dev[m].toFixed(4),
        t.test[m].toFixed(4),
        i === 0 ? String(t.examples.train) : '',
        i === 0 ? `${t.bestEpoch}/${t.epochs}` : '',
        i === 0 ? t.seconds.toFixed(0) : '',
      ]);
    });
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  return rows.map((row) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd()).join('\n') + '\n';
}
