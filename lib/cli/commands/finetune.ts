/**
 * `electra-native finetune --model SRC (--task NAME | --train F --dev F)`:
 * fine-tunes a pre-trained discriminator (a run, checkpoint, our HF export or
 * any HF ELECTRA directory) with the paper's recipe. The run directory gets
 * metrics.jsonl (steps), eval.jsonl (dev scores after each epoch),
 * checkpoints/ (LATEST, and BEST by the task's first metric), best/ (the best
 * checkpoint as an HF directory with its tokenizer) and report.html.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { Device, parseDevice, parsePrecision, Precision } from '../../device';
import { ElectraError } from '../../errors';
import { writeFileAtomic } from '../../io/atomic';
import { ClassifierModel, resolveSource } from '../../finetune/model';
import { FINETUNE_DEFAULTS, FINETUNE_RECIPES, FinetuneHyperParameters } from '../../finetune/recipe';
import { renderFinetuneReport } from '../../finetune/report';
import { FinetuneEvalMetrics, FinetuneStepMetrics, FinetuneTrainer } from '../../finetune/trainer';
import type { MetricRow } from '../../report';
import { DataArgs, dataOptions, encode, modelTokenizer, readTrainDev } from '../finetune-data';
import { Progress } from '../progress';

export const command = 'finetune';
export const describe = 'Fine-tune a pre-trained discriminator on a classification, regression or tagging task';

interface FinetuneArgs extends DataArgs {
  model?: string;
  train?: string;
  dev?: string;
  dataDir?: string;
  out?: string;
  resume?: string;
  vocab?: string;
  lr?: number;
  layerDecay?: number;
  epochs?: number;
  batch?: number;
  seq: number;
  warmupFraction?: number;
  weightDecay?: number;
  seed: number;
  limit?: number;
  checkpointEvery: number;
  device: string;
  precision?: string;
  logEvery: number;
  json: boolean;
}

export function builder(y: Argv): Argv<FinetuneArgs> {
  const r = FINETUNE_RECIPES;
  return dataOptions(y)
    .option('model', { type: 'string', describe: 'the pre-trained model: a run or checkpoint, an HF export, or an HF ELECTRA directory (save_pretrained)' })
    .option('train', { type: 'string', describe: 'training file (GLUE TSV for --task, else CSV/TSV/JSONL, or CoNLL for --kind token)' })
    .option('dev', { type: 'string', describe: 'dev file: scored after each epoch; its first metric picks the best checkpoint' })
    .option('data-dir', { type: 'string', describe: 'a GLUE task directory (train.tsv, dev.tsv, ...) for --task' })
    .option('out', { type: 'string', describe: 'run directory (default runs/finetune-<time>)' })
    .option('resume', { type: 'string', describe: 'continue a fine-tuning run from its newest checkpoint (same data)' })
    .option('vocab', { type: 'string', describe: "vocab.txt (default: the model's)" })
    .option('lr', { type: 'number', describe: `peak learning rate (default by size: small ${r.small.lr}, base ${r.base.lr}, large ${r.large.lr})` })
    .option('layer-decay', { type: 'number', describe: `layer-wise learning-rate decay (default: small/base ${r.small.layerDecay}, large ${r.large.layerDecay})` })
    .option('epochs', { type: 'number', describe: `passes over the training set (default ${FINETUNE_DEFAULTS.epochs}, ${FINETUNE_DEFAULTS.smallTaskEpochs} for small tasks)` })
    .option('batch', { type: 'number', describe: `examples per step (default ${FINETUNE_DEFAULTS.batchSize})` })
    .option('seq', { type: 'number', default: FINETUNE_DEFAULTS.seqLen, describe: 'tokens per example, [CLS]/[SEP] included' })
    .option('warmup-fraction', { type: 'number', describe: `fraction of steps in linear warm-up (default ${FINETUNE_DEFAULTS.warmupFraction})` })
    .option('weight-decay', { type: 'number', describe: `AdamW weight decay (default ${FINETUNE_DEFAULTS.weightDecay})` })
    .option('seed', { type: 'number', default: FINETUNE_DEFAULTS.seed, describe: 'seeds the head, shuffling and dropout' })
    .option('limit', { type: 'number', describe: 'embedded tasks: at most this many examples per split' })
    .option('checkpoint-every', { type: 'number', default: 0, describe: 'also checkpoint every N steps (0: after each epoch only)' })
    .option('device', { type: 'string', default: 'auto', describe: "'auto', 'cpu', 'cuda' or 'cuda:N'" })
    .option('precision', { type: 'string', describe: "'fp32' or 'bf16' (CUDA)" })
    .option('log-every', { type: 'number', default: 10, describe: 'progress line interval when not on a terminal' })
    .option('json', { type: 'boolean', default: false, describe: 'print JSON lines (steps, evals, result) instead of text' })
    .example('$0 finetune --model runs/my-run --task sst2 --data-dir glue/SST-2', 'SST-2 with the recipe for the model size')
    .example('$0 finetune --model google/electra-small-discriminator --train train.csv --dev dev.csv --text-column review', 'a generic CSV task') as unknown as Argv<FinetuneArgs>;
}

function readJsonl(file: string): MetricRow[] {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').flatMap((l) => {
    try {
      return [JSON.parse(l) as MetricRow];
    } catch {
      return [];
    }
  });
}

function fmtMetrics(m: Record<string, number>): string {
  return Object.entries(m).map(([k, v]) => `${k} ${v.toFixed(4)}`).join('  ');
}

export async function handler(argv: ArgumentsCamelCase<FinetuneArgs>): Promise<void> {
  if (!argv.model && !argv.resume) throw new ElectraError('ERR_INVALID_ARGUMENT', 'give --model (the pre-trained model to start from) or --resume RUN');
  for (const [k, v, min] of [['checkpoint-every', argv.checkpointEvery, 0], ['log-every', argv.logEvery, 1], ['seq', argv.seq, 2]] as const) {
    if (!Number.isInteger(v) || v < min) throw new ElectraError('ERR_INVALID_ARGUMENT', `--${k} must be an integer >= ${min}, got ${v}`);
  }
  try {
    parseDevice(argv.device);
  } catch (e) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `--${(e as Error).message}`);
  }
  const where = {
    device: argv.device as Device,
    precision: parsePrecision(argv.precision) as Precision | undefined,
    onDeviceNotice: (m: string) => void process.stderr.write(`electra-native: ${m}\n`),
  };
  const { train, dev, spec } = readTrainDev(argv);
  process.stderr.write(`electra-native: read ${train.rows} training rows from ${train.file}${dev ? `, ${dev.rows} dev rows from ${dev.file}` : ' (no dev set: the last checkpoint is kept)'}\n`);
  const out = path.resolve(argv.resume ?? argv.out ?? path.join('runs', `finetune-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  await fs.promises.mkdir(out, { recursive: true });

  let trainer: FinetuneTrainer;
  let vocab: string[];
  if (argv.resume) {
    const ckpt = FinetuneTrainer.latestCheckpoint(out);
    if (!ckpt) throw new ElectraError('ERR_IO', `${out}: no fine-tuning checkpoint to resume`);
    const probe = await ClassifierModel.load(ckpt, { device: 'cpu' });
    const t = modelTokenizer(ckpt, probe.config.encoder.vocabSize, argv.cased, argv.vocab);
    vocab = t.vocab;
    const hyperSeq = JSON.parse(fs.readFileSync(path.join(ckpt, 'finetune.json'), 'utf8')).hyper.seqLen as number;
    const trainEx = encode(probe.config.task, train, hyperSeq, t.tok);
    const devEx = dev ? encode(probe.config.task, dev, hyperSeq, t.tok) : undefined;
    trainer = await FinetuneTrainer.resume(out, { train: trainEx, dev: devEx, device: where, save: { vocab, lowercase: !argv.cased } });
  } else {
    const src = resolveSource(path.resolve(argv.model!));
    const model = await ClassifierModel.fromPretrained(src, spec, { seed: argv.seed, ...where });
    const t = modelTokenizer(src, model.config.encoder.vocabSize, argv.cased, argv.vocab);
    vocab = t.vocab;
    if (argv.seq > model.config.encoder.maxPosition) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `--seq ${argv.seq} exceeds the model's ${model.config.encoder.maxPosition} positions`);
    }
    const trainEx = encode(spec, train, argv.seq, t.tok);
    const devEx = dev ? encode(spec, dev, argv.seq, t.tok) : undefined;
    if (trainEx.truncated > 0) process.stderr.write(`electra-native: ${trainEx.truncated} training examples were cut to ${argv.seq} tokens\n`);
    const hyper: Partial<FinetuneHyperParameters> = {
      seqLen: argv.seq,
      seed: argv.seed,
      ...(argv.lr !== undefined ? { lr: argv.lr } : {}),
      ...(argv.layerDecay !== undefined ? { layerDecay: argv.layerDecay } : {}),
      ...(argv.epochs !== undefined ? { epochs: argv.epochs } : {}),
      ...(argv.batch !== undefined ? { batchSize: argv.batch } : {}),
      ...(argv.warmupFraction !== undefined ? { warmupFraction: argv.warmupFraction } : {}),
      ...(argv.weightDecay !== undefined ? { weightDecay: argv.weightDecay } : {}),
    };
    trainer = new FinetuneTrainer({ model, train: trainEx, dev: devEx, hyper, outDir: out, checkpointEvery: argv.checkpointEvery, save: { vocab, lowercase: !argv.cased } });
    await writeFileAtomic(path.join(out, 'vocab.txt'), vocab.join('\n') + '\n');
    await writeFileAtomic(path.join(out, 'task.json'), JSON.stringify({ spec, model: src, train: train.file, dev: dev?.file, hyper: trainer.hyper }, null, 2) + '\n');
  }
  const m = trainer.model;
  const h = trainer.hyper;
  const jsonOut = argv.json;
  process.stderr.write(
    `electra-native: fine-tuning ${(m.numParameters / 1e6).toFixed(2)}M parameters on ${spec.name} (${spec.kind}${spec.kind === 'regression' ? '' : `, ${spec.labels.length} labels`}) ` +
      `for ${trainer.totalSteps - trainer.globalStep} steps (${h.epochs} epochs of ${trainer.stepsPerEpoch} x ${h.batchSize}x${h.seqLen}), lr ${h.lr}, layer decay ${h.layerDecay}, ` +
      `on the ${m.device.description}; run directory ${out}\n`,
  );
  const metricsFile = fs.createWriteStream(path.join(out, 'metrics.jsonl'), { flags: 'a' });
  const evalFile = fs.createWriteStream(path.join(out, 'eval.jsonl'), { flags: 'a' });
  const progress = jsonOut ? null : new Progress({ total: trainer.totalSteps, every: argv.logEvery, line: finetuneLine });
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nelectra-native: stopping after this step (Ctrl-C again quits at once; resume with --resume)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const t0 = Date.now();
  let result;
  try {
    result = await trainer.run({
      signal: ac.signal,
      onStep: (s: FinetuneStepMetrics) => {
        metricsFile.write(JSON.stringify(s) + '\n');
        if (jsonOut) process.stdout.write(JSON.stringify({ step: s }) + '\n');
        else progress!.update(s);
      },
      onEval: (e: FinetuneEvalMetrics) => {
        evalFile.write(JSON.stringify({ step: e.step, epoch: e.epoch, ...e.metrics }) + '\n');
        if (jsonOut) process.stdout.write(JSON.stringify({ eval: e }) + '\n');
        else progress!.note(`dev @ epoch ${e.epoch} (step ${e.step}): ${fmtMetrics(e.metrics)}`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress?.done();
    await new Promise<void>((r) => metricsFile.end(r));
    await new Promise<void>((r) => evalFile.end(r));
  }
  // The best (or last) checkpoint as an HF directory: written beside, then swapped in.
  const bestCkpt = FinetuneTrainer.bestCheckpoint(out);
  let bestDir: string | undefined;
  if (bestCkpt && !result.aborted) {
    bestDir = path.join(out, 'best');
    const tmp = `${bestDir}.tmp-${process.pid}`;
    const best = await ClassifierModel.load(bestCkpt, { device: 'cpu' });
    await best.save(tmp, { vocab, lowercase: !argv.cased });
    await fs.promises.rm(bestDir, { recursive: true, force: true });
    await fs.promises.rename(tmp, bestDir);
  }
  const report = renderFinetuneReport(readJsonl(path.join(out, 'metrics.jsonl')), readJsonl(path.join(out, 'eval.jsonl')), spec, {
    task: spec.name,
    model: argv.model ?? '(resumed)',
    steps: result.steps,
    'lr / layer decay': `${h.lr} / ${h.layerDecay}`,
    'epochs x batch x seq': `${h.epochs} x ${h.batchSize} x ${h.seqLen}`,
    device: m.device.description,
    ...(result.best ? { [`best ${spec.metrics[0]}`]: `${result.best.metrics[spec.metrics[0]].toFixed(4)} (epoch ${result.best.epoch})` } : {}),
  });
  await writeFileAtomic(path.join(out, 'report.html'), report);
  const summary = {
    out,
    steps: result.steps,
    aborted: result.aborted,
    seconds: (Date.now() - t0) / 1000,
    best: result.best ? { epoch: result.best.epoch, step: result.best.step, metrics: result.best.metrics } : null,
    model: bestDir ?? null,
  };
  if (jsonOut) process.stdout.write(JSON.stringify({ result: summary }) + '\n');
  else {
    process.stdout.write(
      `${result.aborted ? 'stopped' : 'done'} after ${result.steps} steps in ${summary.seconds.toFixed(1)} s` +
        (result.best ? `; best dev ${fmtMetrics(result.best.metrics)} (epoch ${result.best.epoch})` : '') +
        (bestDir ? `\nmodel: ${bestDir} (loads in transformers; evaluate/predict with --model ${out})` : `\nresume with --resume ${out}`) +
        `\nreport: ${path.join(out, 'report.html')}\n`,
    );
  }
}

/** The progress line of a fine-tuning step. */
export function finetuneLine(s: FinetuneStepMetrics): string {
  return `epoch ${s.epoch} loss ${s.loss.toFixed(4)}${s.accuracy !== undefined ? ` acc ${(100 * s.accuracy).toFixed(1)}%` : ''} lr ${s.lr.toExponential(2)}`;
}
