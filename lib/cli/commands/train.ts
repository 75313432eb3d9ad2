/**
 * `electra-native train`: pre-trains ELECTRA. Data, by default: the embedded
 * Brown corpus (corpus/), tokenized with BERT's uncased WordPiece vocabulary
 * (vocab/), built once into a dataset (cached under $TMPDIR/electra-native)
 * and served by ShardDataset. `--corpus PATH...` builds a dataset from other
 * text files (cached in the run directory), `--dataset DIR` uses a built one,
 * `--vocab FILE` picks the vocabulary, and `--corpus toy` is the small
 * synthetic corpus with a word-level vocabulary (fast; the tests use it).
 * The run directory gets vocab.txt, data.json, metrics.jsonl, a checkpoint
 * every --checkpoint-every steps, and the final checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { PresetName, PRESETS, electraConfig } from '../../config';
import { ArrayDataset, BatchSource } from '../../data/array-dataset';
import { BuildProgress } from '../../data/dataset-builder';
import { defaultCorpusPaths, defaultDatasetCacheDir, ensureDataset } from '../../data/default-corpus';
import { ShardDataset } from '../../data/shard-reader';
import { BERT_UNCASED_VOCAB, WordPieceTokenizer } from '../../data/tokenizer';
import { buildWordVocab, toyCorpus, toyExamples } from '../../data/toy-corpus';
import { ElectraError } from '../../errors';
import { ElectraModel } from '../../model';
import { AdamW } from '../../optimizer';
import { Device, StepMetrics, Trainer } from '../../trainer';

/**
 * Default steps, for about 5 minutes on 2 CPU cores: the tiny preset at 16x128
 * with BERT's 30522-token vocabulary (whose output layer dominates) measured
 * ~0.35-0.4 s a step there (0.75 s with the cores shared with other jobs).
 */
const STEPS_DEFAULT = 700;

export const command = 'train';
export const describe = 'Pre-train an ELECTRA model (default: the embedded Brown corpus)';

interface TrainArgs {
  preset: PresetName;
  steps: number;
  batch: number;
  seq: number;
  lr?: number;
  warmup?: number;
  seed: number;
  objective: 'electra' | 'mlm';
  maskProb: number;
  discWeight: number;
  temperature: number;
  gradAccum: number;
  device: string;
  out?: string;
  resume?: string;
  logEvery: number;
  checkpointEvery: number;
  json: boolean;
  corpus?: string[];
  dataset?: string;
  vocab?: string;
  cased: boolean;
}

export function builder(y: Argv): Argv<TrainArgs> {
  return y
    .option('preset', { choices: Object.keys(PRESETS) as PresetName[], default: 'tiny' as PresetName, describe: 'model size' })
    .option('corpus', { type: 'string', array: true, describe: 'text files/directories to build a dataset from (one sentence per line, blank line between documents; .gz ok), or "toy" (default: the embedded Brown corpus)' })
    .option('dataset', { type: 'string', describe: 'a dataset directory made by the dataset builder' })
    .option('vocab', { type: 'string', describe: 'WordPiece vocab.txt (default: BERT uncased, shipped)' })
    .option('cased', { type: 'boolean', default: false, describe: 'the vocabulary is cased: no lowercasing/accent stripping' })
    .conflicts('corpus', 'dataset')
    .option('steps', { type: 'number', default: STEPS_DEFAULT, describe: 'optimizer steps' })
    .option('batch', { type: 'number', default: 16, describe: 'sequences per step' })
    .option('seq', { type: 'number', default: 128, describe: 'tokens per sequence' })
    .option('lr', { type: 'number', describe: 'peak learning rate (default: the preset recipe)' })
    .option('warmup', { type: 'number', describe: 'warm-up steps (default: 10% of --steps)' })
    .option('seed', { type: 'number', default: 0 })
    .option('objective', { choices: ['electra', 'mlm'] as const, default: 'electra' as const })
    .option('mask-prob', { type: 'number', default: 0.15 })
    .option('disc-weight', { type: 'number', default: 50, describe: 'weight of the discriminator loss' })
    .option('temperature', { type: 'number', default: 1, describe: 'generator sampling temperature' })
    .option('grad-accum', { type: 'number', default: 1, describe: 'micro-batches per step' })
    .option('device', { type: 'string', default: 'auto', describe: 'auto | cpu | cuda | cuda:N' })
    .option('out', { type: 'string', describe: 'run directory (default runs/<date-time>)' })
    .option('resume', { type: 'string', describe: 'continue from a checkpoint directory' })
    .option('log-every', { type: 'number', default: 20 })
    .option('checkpoint-every', { type: 'number', default: 0, describe: 'save every N steps (0: only at the end)' })
    .option('json', { type: 'boolean', default: false, describe: 'print metrics as JSON lines' })
    .example('$0 train', 'train the tiny preset on the embedded Brown corpus (about 5 minutes on 2 CPU cores)')
    .example('$0 train --corpus wiki/ --vocab vocab.txt --preset small --steps 100000', 'build a dataset from your text and train on it')
    .example('$0 train --corpus toy --steps 100', 'the small synthetic corpus (fast smoke run)')
    .example('$0 train --steps 1000 --out runs/a && $0 train --resume runs/a/checkpoint --steps 1500 --out runs/a', 'train, then continue') as unknown as Argv<TrainArgs>;
}

function fmt(m: StepMetrics, total: number): string {
  return (
    `step ${String(m.step).padStart(String(total).length)}/${total}  loss ${m.loss.toFixed(4)}  gen ${m.genLoss.toFixed(3)} ` +
    `(acc ${(100 * m.genAccuracy).toFixed(1)}%)  disc ${m.discLoss.toFixed(4)} (acc ${(100 * m.discAccuracy).toFixed(1)}%)  ` +
    `lr ${m.lr.toExponential(2)}  ${Math.round(m.tokensPerSecond)} tok/s`
  );
}

/** Where the training batches come from, and the vocabulary the model uses. */
interface DataSelection {
  data: BatchSource;
  tokens: readonly string[];
  ids: { padId: number; unkId: number; clsId: number; sepId: number; maskId: number };
  /** One line for the log: what the data is. */
  describe: string;
  /** Written to <run>/data.json. */
  info: Record<string, unknown>;
}

function buildProgress(): (p: BuildProgress) => void {
  const tty = process.stderr.isTTY === true;
  let last = 0;
  let lastBytes = -1;
  return (p) => {
    const now = Date.now();
    // All bytes read: shown once (the last workers may still be finishing their examples).
    const done = p.bytesDone >= p.bytesTotal && lastBytes < p.bytesTotal;
    if (!done && (p.bytesDone === lastBytes || now - last < (tty ? 200 : 5000))) return;
    last = now;
    lastBytes = p.bytesDone;
    const line = `building the dataset: ${(p.bytesDone / 1e6).toFixed(1)}/${(p.bytesTotal / 1e6).toFixed(1)} MB, ${p.examples} examples`;
    process.stderr.write(tty ? `\r\x1b[K${line}${done ? '\n' : ''}` : line + '\n');
  };
}

function loadTokenizer(argv: TrainArgs): { tok: WordPieceTokenizer; vocabFile: string } {
  const vocabFile = path.resolve(argv.vocab ?? BERT_UNCASED_VOCAB);
  return { tok: WordPieceTokenizer.fromVocabFile(vocabFile, { lowercase: !argv.cased }), vocabFile };
}

async function selectData(argv: TrainArgs, out: string): Promise<DataSelection> {
  const corpus = argv.corpus ?? [];
  if (corpus.length === 1 && corpus[0] === 'toy') {
    if (argv.vocab || argv.cased) throw new ElectraError('ERR_INVALID_ARGUMENT', '--corpus toy has its own word-level vocabulary; --vocab/--cased do not apply');
    const docs = toyCorpus(2000, 1);
    const vocab = buildWordVocab(docs);
    const examples = toyExamples(docs, vocab, argv.seq);
    return {
      data: new ArrayDataset(examples, { seed: argv.seed, padId: vocab.padId }),
      tokens: vocab.tokens,
      ids: vocab,
      describe: `the synthetic toy corpus (${examples.length} examples, word-level vocab ${vocab.tokens.length})`,
      info: { source: 'toy', examples: examples.length },
    };
  }
  if (corpus.includes('toy')) throw new ElectraError('ERR_INVALID_ARGUMENT', '--corpus toy cannot be combined with other corpus paths');
  const { tok, vocabFile } = loadTokenizer(argv);
  const ids = { padId: tok.padId, unkId: tok.unkId, clsId: tok.clsId, sepId: tok.sepId, maskId: tok.maskId };
  const vocabName = argv.vocab ? vocabFile : 'BERT uncased WordPiece';
  let dir: string;
  let what: string;
  let info: Record<string, unknown>;
  if (argv.dataset) {
    dir = path.resolve(argv.dataset);
    what = `the dataset ${dir}`;
    info = { source: 'dataset', dataset: dir, vocab: vocabFile };
  } else {
    const embedded = corpus.length === 0;
    const inputs = embedded ? [defaultCorpusPaths().train] : corpus.map((c) => path.resolve(c));
    const cacheDir = embedded ? defaultDatasetCacheDir() : path.join(out, 'datasets');
    const ds = await ensureDataset({
      inputs,
      vocabFile,
      lowercase: !argv.cased,
      seqLen: argv.seq,
      seed: argv.seed,
      cacheDir,
      name: embedded ? 'brown' : 'corpus',
      onProgress: buildProgress(),
    });
    dir = ds.dir;
    process.stderr.write(
      `electra-native: ${ds.reused ? 'reusing' : `built (${(ds.elapsedMs / 1000).toFixed(1)} s)`} the dataset ${dir}\n`,
    );
    what = embedded ? 'the embedded Brown corpus' : `${inputs.join(', ')}`;
    info = { source: embedded ? 'brown' : 'corpus', inputs, dataset: dir, vocab: vocabFile };
  }
  const data = new ShardDataset(dir, { seed: argv.seed, vocab: tok });
  if (data.seqLen !== argv.seq) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `the dataset ${dir} has ${data.seqLen}-token examples; pass --seq ${data.seqLen}`);
  }
  return {
    data,
    tokens: tok.vocab,
    ids,
    describe: `${what} (${data.length} examples of ${data.seqLen} tokens, ${vocabName} vocab ${tok.vocab.length})`,
    info: { ...info, examples: data.length, seqLen: data.seqLen, vocabSize: tok.vocab.length, lowercase: !argv.cased },
  };
}

export async function handler(argv: ArgumentsCamelCase<TrainArgs>): Promise<void> {
  const out = path.resolve(argv.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-')));
  await fs.promises.mkdir(out, { recursive: true });
  const sel = await selectData(argv, out);
  const { data, ids } = sel;
  const recipe = PRESETS[argv.preset].recipe;
  const optimizer = new AdamW({
    lr: argv.lr ?? recipe.lr,
    warmupSteps: argv.warmup ?? Math.round(argv.steps / 10),
    totalSteps: argv.steps,
  });
  const common = {
    data,
    optimizer,
    device: argv.device as Device,
    seed: argv.seed,
    batchSize: argv.batch,
    seqLen: argv.seq,
    gradAccum: argv.gradAccum,
    maskProb: argv.maskProb,
    discWeight: argv.discWeight,
    temperature: argv.temperature,
  };
  let trainer: Trainer;
  if (argv.resume) {
    trainer = await Trainer.resume(argv.resume, common);
    const c = trainer.model.config;
    if (c.vocabSize !== sel.tokens.length || c.padId !== ids.padId || c.maskId !== ids.maskId) {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `the checkpoint ${argv.resume} has a ${c.vocabSize}-token vocabulary, the data ${sel.tokens.length} tokens: resume with the --corpus/--dataset/--vocab of the original run`,
      );
    }
  } else {
    const config = electraConfig({
      preset: argv.preset,
      objective: argv.objective,
      vocabSize: sel.tokens.length,
      maxPosition: Math.max(argv.seq, 128),
      ...ids,
    });
    trainer = new Trainer({ ...common, model: ElectraModel.create(config, { seed: argv.seed }) });
  }
  await fs.promises.writeFile(path.join(out, 'vocab.txt'), sel.tokens.join('\n') + '\n');
  await fs.promises.writeFile(path.join(out, 'data.json'), JSON.stringify(sel.info, null, 2) + '\n');
  const metrics = fs.createWriteStream(path.join(out, 'metrics.jsonl'), { flags: 'a' });
  const ckpt = path.join(out, 'checkpoint');
  const remaining = Math.max(0, argv.steps - trainer.globalStep);
  process.stderr.write(
    `electra-native: training ${argv.preset} (${(trainer.model.numParameters / 1e6).toFixed(2)}M parameters, ${argv.objective}) ` +
      `on ${sel.describe}, ${remaining} steps of ${argv.batch}x${argv.seq} on the ${trainer.device}; run directory ${out}\n`,
  );
  const t0 = Date.now();
  let last: StepMetrics | undefined;
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write('\nelectra-native: stopping after this step and saving (press Ctrl-C again to quit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const res = await trainer.train({
      steps: remaining,
      signal: ac.signal,
      onStep: async (m) => {
        last = m;
        metrics.write(JSON.stringify(m) + '\n');
        if (argv.json) process.stdout.write(JSON.stringify(m) + '\n');
        else if (m.step % argv.logEvery === 0 || m.step === argv.steps) process.stdout.write(fmt(m, argv.steps) + '\n');
        if (argv.checkpointEvery > 0 && m.step % argv.checkpointEvery === 0) await trainer.saveCheckpoint(ckpt);
      },
    });
    await trainer.saveCheckpoint(ckpt);
    await new Promise<void>((r) => metrics.end(() => r()));
    const secs = (Date.now() - t0) / 1000;
    const final = last
      ? `; last step: loss ${last.loss.toFixed(4)}, generator accuracy ${(100 * last.genAccuracy).toFixed(1)}%, ` +
        `discriminator accuracy ${(100 * last.discAccuracy).toFixed(1)}%`
      : '';
    process.stderr.write(
      `electra-native: ${res.aborted ? 'stopped' : 'done'} at step ${res.globalStep} in ${secs.toFixed(0)} s${final}\n` +
        `electra-native: run directory ${out}: checkpoint ${ckpt}, metrics ${path.join(out, 'metrics.jsonl')}, vocab.txt, data.json\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
