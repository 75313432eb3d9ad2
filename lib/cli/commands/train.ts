/**
 * `electra-native train`: pre-trains ELECTRA. Data, by default: the embedded
 * Brown corpus (corpus/), tokenized with the vocabulary learned from it
 * (vocab/brown-2048.txt) for the tiny preset, BERT's uncased one (vocab/) for
 * the others, built once into a dataset (cached under $TMPDIR/electra-native)
 * and served by ShardDataset. `--corpus PATH...` builds a dataset from other
 * text files (cached in the run directory), `--dataset DIR` uses a built one,
 * `--vocab FILE` picks the vocabulary, and `--corpus toy` is the small
 * synthetic corpus with a word-level vocabulary (fast; the tests use it).
 * The run directory gets vocab.txt, data.json, metrics.jsonl, eval.jsonl,
 * checkpoints/ (rotated; LATEST names the newest), and report.html.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { CheckpointManager } from '../../checkpoints';
import { PresetName, PRESETS, electraConfig } from '../../config';
import { parseConfigJson } from '../../config-keys';
import { ArrayDataset, BatchSource } from '../../data/array-dataset';
import { BuildProgress } from '../../data/dataset-builder';
import { BROWN_VOCAB, defaultCorpusPaths, defaultDatasetCacheDir, defaultVocabFile, ensureDataset } from '../../data/default-corpus';
import { ShardDataset } from '../../data/shard-reader';
import { BERT_UNCASED_VOCAB, WordPieceTokenizer } from '../../data/tokenizer';
import { buildWordVocab, toyCorpus, toyExamples } from '../../data/toy-corpus';
import { Device, parseDevice, parsePrecision, Precision } from '../../device';
import { getInfo } from '../../info';
import { ElectraError } from '../../errors';
import { ElectraModel, TokenBatch } from '../../model';
import { AppendLog } from '../../io/append-log';
import { describePlan } from '../../memory-plan';
import { readFileChecked, writeFileAtomic } from '../../io/atomic';
import { AdamW } from '../../optimizer';
import { checkResumeFlags, givenRecipeFlags, logOverride, readSavedRun, savedDataArgs } from '../resume-settings';
import { describeRecipe, microBatch, resolveRecipe, RunRecipe, TRAINING_KEYS } from '../../recipe';
import { MetricRow, renderReport } from '../../report';
import { RunLock, removeStaleTemporaries } from '../../run-lock';
import { EvalMetrics, StepMetrics, Trainer } from '../../trainer';
import { Progress } from '../progress';
import { fmtAuc, plantedExample, summaryFacts } from '../run-summary';

/** The run directory's effective recipe: {preset, training, model}, the resolved training and model config. */
export const RECIPE_FILE = 'recipe.json';

export const command = 'train';
export const describe = 'Pre-train an ELECTRA model (default: the embedded Brown corpus)';

interface TrainArgs {
  preset?: PresetName;
  // Recipe fields: undefined unless given, so the preset and --config fill them.
  steps?: number;
  batch?: number;
  seq?: number;
  lr?: number;
  warmup?: number;
  seed?: number;
  objective?: 'electra' | 'mlm';
  maskProb?: number;
  masking?: 'reference' | 'exact';
  discWeight?: number;
  temperature?: number;
  gradAccum?: number;
  device: string;
  precision?: string;
  out?: string;
  resume?: string;
  override: boolean;
  logEvery: number;
  metricsEvery: number;
  logFormat: 'text' | 'json';
  checkpointEvery: number;
  checkpointMinutes: number;
  keep: number;
  evalEvery: number;
  evalBatches: number;
  evalCorpus?: string[];
  config?: string;
  stopAt?: number;
  init?: string;
  generatorFraction?: number;
  generatorLayers?: number;
  json: boolean;
  corpus?: string[];
  dataset?: string;
  vocab?: string;
  cased: boolean;
  lossSpike?: 'stop' | 'skip';
  lossSpikeFactor: number;
  lossSpikeWindow: number;
}

export function builder(y: Argv): Argv<TrainArgs> {
  return y
    .option('preset', { choices: Object.keys(PRESETS) as PresetName[], describe: 'model size (default: small when training on a GPU, else tiny)' })
    .option('corpus', { type: 'string', array: true, describe: 'text files/directories to build a dataset from (one sentence per line, blank line between documents; .gz ok), or "toy" (default: the embedded Brown corpus)' })
    .option('dataset', { type: 'string', describe: 'a dataset directory made by the dataset builder' })
    .option('vocab', { type: 'string', describe: 'WordPiece vocab.txt (default: BERT uncased, shipped; for the tiny preset on the embedded corpus, the 2,048 tokens learned from it, vocab/brown-2048.txt)' })
    .option('cased', { type: 'boolean', default: false, describe: 'the vocabulary is cased: no lowercasing/accent stripping' })
    .conflicts('corpus', 'dataset')
    .option('steps', { type: 'number', describe: 'optimizer steps, and the horizon of the learning-rate decay (default: the preset recipe)' })
    .option('batch', { type: 'number', describe: 'sequences per optimizer step (default: the preset recipe)' })
    .option('seq', { type: 'number', describe: 'tokens per sequence (default: the preset recipe)' })
    .option('lr', { type: 'number', describe: 'peak learning rate (default: the preset recipe)' })
    .option('warmup', { type: 'number', describe: 'linear warm-up steps (default: the preset recipe)' })
    .option('seed', { type: 'number', describe: 'seeds init, data order, masking, sampling and dropout (default 0)' })
    .option('objective', { choices: ['electra', 'mlm'] as const, describe: 'default electra' })
    .option('mask-prob', { type: 'number', describe: 'fraction of tokens masked (default: the preset recipe)' })
    .option('masking', { choices: ['reference', 'exact'] as const, describe: 'reference: round(p x real tokens) positions drawn with replacement, as google-research/electra (default); exact: exactly round(p x candidates) distinct positions' })
    .option('generator-fraction', { type: 'number', describe: 'generator width as a fraction of the discriminator (default: the preset, e.g. 0.25 for small)' })
    .option('generator-layers', { type: 'number', describe: "generator depth as a fraction of the discriminator's (default: the preset; 1 in the paper, 0.5 for tiny)" })
    .option('disc-weight', { type: 'number', describe: 'weight of the discriminator loss (default 50)' })
    .option('temperature', { type: 'number', describe: 'generator sampling temperature (default: the preset recipe; 1 in the paper)' })
    .option('grad-accum', { type: 'number', describe: 'split each step\'s --batch into this many micro-batches (same batch, less memory; default 1)' })
    .option('device', { type: 'string', default: 'auto', describe: 'auto (a usable GPU, else the CPU, with a one-line notice when CUDA is built in but unusable) | cpu | cuda | cuda:N' })
    .option('precision', { choices: ['fp32', 'bf16'], describe: 'GEMM precision (default: bf16 on a GPU, fp32 on the CPU, its only one)' })
    .option('out', { type: 'string', describe: 'run directory (default runs/<date-time>)' })
    .option('config', { type: 'string', describe: 'JSON file of recipe fields: training (steps, batch, gradAccum, seqLen, lr, warmupSteps, maskProb, masking, discWeight, temperature, weightDecay, beta1, beta2, eps, clipNorm, seed) and model (ElectraConfig fields, e.g. {"discriminator": {"layers": 6}}); overrides the preset, flags override it' })
    .option('init', { type: 'string', describe: 'start from these weights: an HF ELECTRA export (discriminator/ + generator/, or a lone discriminator) or a checkpoint' })
    .conflicts('init', 'resume')
    .option('stop-at', { type: 'number', describe: 'stop (and save) after this step, keeping the --steps schedule; resume later' })
    .option('resume', { type: 'string', describe: "continue a run (its newest checkpoint) or a checkpoint directory, with the run's own recipe and data; --steps extends it" })
    .option('override', { type: 'boolean', default: false, describe: 'with --resume: let recipe and data flags change the resumed run (logged in RUN/overrides.jsonl)' })
    .option('log-every', { type: 'number', default: 20, describe: 'plain log line every N steps (when stdout is not a terminal)' })
    .option('metrics-every', { type: 'number', default: 1, describe: 'read the metrics of every Nth step only (on a GPU the steps between run without a host wait); --log-every, --eval-every and --checkpoint-every must be multiples of it' })
    .option('log-format', { choices: ['text', 'json'] as const, default: 'text' as const, describe: 'stdout: text, or one JSON object per step' })
    .option('json', { type: 'boolean', default: false, describe: 'same as --log-format json' })
    .option('checkpoint-every', { type: 'number', default: 0, describe: 'save every N steps (0: only at the end)' })
    .option('checkpoint-minutes', { type: 'number', default: 10, describe: 'also save every M minutes (0: never by time)' })
    .option('keep', { type: 'number', default: 3, describe: 'keep the newest K checkpoints' })
    .option('eval-every', { type: 'number', default: 0, describe: 'evaluate on held-out data every N steps (default: 5 times per run)' })
    .option('eval-batches', { type: 'number', default: 4, describe: 'held-out batches per evaluation' })
    .option('loss-spike', { choices: ['stop', 'skip'] as const, describe: 'loss-spike guard: when a step\'s loss exceeds --loss-spike-factor x the mean of the last --loss-spike-window steps, stop the run (nothing is saved) or skip that step\'s update (default: off)' })
    .option('loss-spike-factor', { type: 'number', default: 3, describe: 'loss-spike guard threshold, as a multiple of the running mean' })
    .option('loss-spike-window', { type: 'number', default: 50, describe: 'steps in the loss-spike guard\'s running mean' })
    .option('eval-corpus', { type: 'string', array: true, describe: 'held-out text for --corpus runs (default: the Brown held-out part, or none)' })
    .example('$0 train', 'train the tiny preset on the embedded Brown corpus (about 8 minutes on 2 CPU cores)')
    .example('$0 train --corpus wiki/ --vocab vocab.txt --preset small --steps 100000', 'build a dataset from your text and train on it')
    .example('$0 train --corpus toy --steps 100', 'the small synthetic corpus (fast smoke run)')
    .example('$0 train --steps 1000 --out runs/a && $0 train --resume runs/a --steps 1500', 'train, then continue where it stopped') as unknown as Argv<TrainArgs>;
}

/** The arguments with the recipe resolved: `batch` here is sequences per micro-batch (what one native call sees). */
/** `defaultVocab`: the vocabulary when --vocab is not given (the preset's choice for the embedded corpus, else BERT uncased). */
type RunArgs = TrainArgs & { steps: number; seq: number; seed: number; batch: number; defaultVocab: string };

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

function loadTokenizer(argv: RunArgs): { tok: WordPieceTokenizer; vocabFile: string } {
  const vocabFile = path.resolve(argv.vocab ?? argv.defaultVocab);
  return { tok: WordPieceTokenizer.fromVocabFile(vocabFile, { lowercase: !argv.cased }), vocabFile };
}

/** The dataset of `inputs` for this run's vocabulary, sequence length and seed: built once, then reused. */
function cachedDataset(argv: RunArgs, inputs: string[], vocabFile: string, cacheDir: string, name: string, onProgress?: (p: BuildProgress) => void) {
  return ensureDataset({ inputs, vocabFile, lowercase: !argv.cased, seqLen: argv.seq, seed: argv.seed, cacheDir, name, onProgress });
}

async function selectData(argv: RunArgs, out: string): Promise<DataSelection> {
  const corpus = argv.corpus ?? [];
  if (corpus.length === 1 && corpus[0] === 'toy') {
    if (argv.vocab || argv.cased) throw new ElectraError('ERR_INVALID_ARGUMENT', '--corpus toy has its own word-level vocabulary; --vocab/--cased do not apply');
    const docs = toyCorpus(2000, 1);
    const vocab = buildWordVocab(docs);
    const examples = toyExamples(docs, vocab, argv.seq);
    return {
      data: new ArrayDataset(examples, { seed: argv.seed, padId: vocab.padId }),
      tokens: vocab.tokens,
      ids: { padId: vocab.padId, unkId: vocab.unkId, clsId: vocab.clsId, sepId: vocab.sepId, maskId: vocab.maskId },
      describe: `the synthetic toy corpus (${examples.length} examples, word-level vocab ${vocab.tokens.length})`,
      info: { source: 'toy', examples: examples.length },
    };
  }
  if (corpus.includes('toy')) throw new ElectraError('ERR_INVALID_ARGUMENT', '--corpus toy cannot be combined with other corpus paths');
  const { tok, vocabFile } = loadTokenizer(argv);
  const ids = { padId: tok.padId, unkId: tok.unkId, clsId: tok.clsId, sepId: tok.sepId, maskId: tok.maskId };
  const vocabName = argv.vocab ? vocabFile : argv.defaultVocab === BROWN_VOCAB ? 'the Brown-learned WordPiece' : 'BERT uncased WordPiece';
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
    const ds = await cachedDataset(argv, inputs, vocabFile, cacheDir, embedded ? 'brown' : 'corpus', buildProgress());
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

/** Held-out batches, fixed for the whole run, or null when there is no held-out text. */
async function selectEval(argv: RunArgs, out: string, sel: DataSelection): Promise<TokenBatch[] | null> {
  const corpus = argv.corpus ?? [];
  const n = argv.evalBatches;
  if (n <= 0) return null;
  let source: BatchSource;
  if (corpus.length === 1 && corpus[0] === 'toy') {
    const docs = toyCorpus(200, 777); // different documents from the training ones (seed 1)
    const ids = new Map(sel.tokens.map((t, i) => [t, i]));
    const vocab = { ...sel.ids, tokens: [...sel.tokens], ids } as Parameters<typeof toyExamples>[1];
    source = new ArrayDataset(toyExamples(docs, vocab, argv.seq), { seed: 1, padId: sel.ids.padId });
  } else {
    const inputs = argv.evalCorpus?.map((c) => path.resolve(c)) ?? (corpus.length === 0 && !argv.dataset ? [defaultCorpusPaths().heldout] : null);
    if (!inputs) return null;
    const { tok, vocabFile } = loadTokenizer(argv);
    const cacheDir = argv.evalCorpus ? path.join(out, 'datasets') : defaultDatasetCacheDir();
    const ds = await cachedDataset(argv, inputs, vocabFile, cacheDir, argv.evalCorpus ? 'heldout' : 'brown-heldout');
    source = new ShardDataset(ds.dir, { seed: 1, vocab: tok });
  }
  const batches: TokenBatch[] = [];
  for (let i = 0; i < n; i++) batches.push(await source.next(argv.batch, argv.seq));
  return batches;
}

async function readConfigFile(file: string): Promise<Record<string, unknown>> {
  // Training keys (TRAINING_KEYS) and model options; any other key is an error naming it.
  return parseConfigJson((await readFileChecked(file)).toString('utf8'), file, TRAINING_KEYS) as Record<string, unknown>;
}

function readJsonl(file: string): MetricRow[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as MetricRow];
      } catch {
        return []; // a line cut by a hard kill
      }
    });
}

export async function handler(cli: ArgumentsCamelCase<TrainArgs>): Promise<void> {
  for (const [k, v, min] of [['keep', cli.keep, 1], ['eval-every', cli.evalEvery, 0], ['eval-batches', cli.evalBatches, 0], ['checkpoint-every', cli.checkpointEvery, 0], ['log-every', cli.logEvery, 1], ['metrics-every', cli.metricsEvery, 1]] as const) {
    if (!Number.isInteger(v) || v < min) throw new ElectraError('ERR_INVALID_ARGUMENT', `--${k} must be an integer >= ${min}, got ${v}`);
  }
  // Logging, evaluation and checkpoints by step happen at steps that read their metrics.
  for (const [k, v] of [['log-every', cli.logEvery], ['eval-every', cli.evalEvery], ['checkpoint-every', cli.checkpointEvery]] as const) {
    if (v > 0 && v % cli.metricsEvery !== 0)
      throw new ElectraError('ERR_INVALID_ARGUMENT', `--${k} ${v} is not a multiple of --metrics-every ${cli.metricsEvery}: only the steps that read their metrics can log, evaluate or save`);
  }
  for (const [k, v, min] of [['steps', cli.steps, 0], ['batch', cli.batch, 1], ['seq', cli.seq, 2], ['grad-accum', cli.gradAccum, 1], ['warmup', cli.warmup, 0], ['seed', cli.seed, 0]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new ElectraError('ERR_INVALID_ARGUMENT', `--${k} must be an integer >= ${min}, got ${v}`);
  }
  if (!(cli.checkpointMinutes >= 0)) throw new ElectraError('ERR_INVALID_ARGUMENT', `--checkpoint-minutes must be >= 0, got ${cli.checkpointMinutes}`);
  try {
    parseDevice(cli.device);
  } catch (e) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `--${(e as Error).message}`);
  }
  // A resumed run keeps its recipe and data (RUN/recipe.json, RUN/data.json).
  const saved = cli.resume ? readSavedRun(cli.resume) : null;
  const overridden = saved ? givenRecipeFlags(cli as unknown as Record<string, unknown>, saved) : [];
  if (saved) {
    checkResumeFlags(saved, overridden, cli.override);
    const d = savedDataArgs(saved);
    if (cli.corpus === undefined && cli.dataset === undefined) {
      if (d.corpus) cli.corpus = d.corpus;
      if (d.dataset) cli.dataset = d.dataset;
    }
    if (cli.vocab === undefined && d.vocab && !(d.corpus && d.corpus[0] === 'toy')) cli.vocab = d.vocab;
    if (!cli.override && d.cased !== undefined) cli.cased = d.cased;
  } else if (cli.override) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', '--override only applies with --resume');
  }
  // The recipe: the preset's published values < --config < flags; on --resume, the run's saved recipe < (--override) --config < flags.
  const preset: PresetName = (saved?.preset as PresetName | undefined) ?? cli.preset ?? (parseDevice(cli.device).kind !== 'cpu' && getInfo().backend === 'cuda' ? 'small' : 'tiny');
  const fileOpts = { ...(saved ? saved.training : {}), ...(cli.config ? await readConfigFile(cli.config) : {}) };
  const recipe = resolveRecipe(cli.override && cli.preset ? cli.preset : preset, fileOpts, {
    steps: cli.steps,
    batch: cli.batch,
    gradAccum: cli.gradAccum,
    seqLen: cli.seq,
    lr: cli.lr,
    warmupSteps: cli.warmup,
    maskProb: cli.maskProb,
    masking: cli.masking,
    discWeight: cli.discWeight,
    temperature: cli.temperature,
    seed: cli.seed,
    generatorFraction: cli.generatorFraction,
    generatorLayers: cli.generatorLayers,
    objective: cli.objective,
  });
  const rt = recipe.training;
  // The embedded corpus comes with a vocabulary learned from it, for the presets that ask for it (tiny).
  const embeddedCorpus = (cli.corpus ?? []).length === 0 && cli.dataset === undefined;
  const defaultVocab = embeddedCorpus ? defaultVocabFile(recipe.preset) : BERT_UNCASED_VOCAB;
  const argv: RunArgs = { ...cli, steps: rt.steps, seq: rt.seqLen, seed: rt.seed, batch: microBatch(rt), defaultVocab };
  // LATEST first, then older complete checkpoints: a corrupt one is skipped, saying so.
  const resumeCandidates = argv.resume ? CheckpointManager.candidates(argv.resume) : [];
  if (argv.resume && resumeCandidates.length === 0) throw new ElectraError('ERR_IO', `${argv.resume}: no checkpoint to resume (expected a run directory with checkpoints/LATEST, or a checkpoint directory)`);
  // Resuming a run continues in that run's directory unless --out says otherwise.
  const first = resumeCandidates[0];
  const resumeRun = first && path.basename(path.dirname(first)) === 'checkpoints' ? path.dirname(path.dirname(first)) : undefined;
  const out = path.resolve(argv.out ?? resumeRun ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-')));
  await fs.promises.mkdir(out, { recursive: true });
  // One writer per run directory; a second one is refused before it writes anything.
  const lock = RunLock.acquire(out, (h) => void process.stderr.write(`electra-native: removing the stale lock of pid ${h.pid} (no longer running on ${h.host})\n`));
  try {
    for (const f of removeStaleTemporaries(out)) process.stderr.write(`electra-native: removed ${f}, left by an interrupted write\n`);
    if (saved && overridden.length > 0) {
      logOverride(out, overridden, process.argv.slice(2));
      process.stderr.write(`electra-native: --override: the resumed run changes ${overridden.join(', ')} (logged in ${path.join(out, 'overrides.jsonl')})\n`);
    }
    await trainLocked(argv, recipe, out, resumeCandidates);
  } finally {
    lock.release();
  }
}

async function trainLocked(argv: RunArgs, recipe: RunRecipe, out: string, resumeCandidates: string[]): Promise<void> {
  const { preset, training: rt } = recipe;
  let resumeFrom: string | null = null;
  const sel = await selectData(argv, out);
  const { data, ids } = sel;
  const optimizer = new AdamW({
    lr: rt.lr,
    warmupSteps: rt.warmupSteps,
    totalSteps: Math.max(1, rt.steps),
    weightDecay: rt.weightDecay,
    beta1: rt.beta1,
    beta2: rt.beta2,
    eps: rt.eps,
    clipNorm: rt.clipNorm,
  });
  const device: Device = argv.device as Device;
  const where = {
    device,
    precision: parsePrecision(argv.precision) as Precision | undefined,
    // The fallback notice of --device auto: once, as this run creates one model.
    onDeviceNotice: (m: string) => void process.stderr.write(`electra-native: ${m}\n`),
  };
  const common = {
    data,
    optimizer,
    device,
    seed: rt.seed,
    batchSize: microBatch(rt),
    seqLen: rt.seqLen,
    gradAccum: rt.gradAccum,
    maskProb: rt.maskProb,
    masking: rt.masking,
    discWeight: rt.discWeight,
    temperature: rt.temperature,
    lossSpike: argv.lossSpike ? { action: argv.lossSpike, factor: argv.lossSpikeFactor, window: argv.lossSpikeWindow } : undefined,
  };
  let trainer: Trainer;
  if (resumeCandidates.length > 0) {
    const r = await CheckpointManager.loadNewestSound(
      resumeCandidates,
      (dir) => Trainer.resume(dir, { ...common, ...where }),
      (skipped, why, next) =>
        void process.stderr.write(`electra-native: cannot resume from ${skipped}: ${why}\nelectra-native: ${next ? `falling back to ${next}, the next newest checkpoint` : 'no older checkpoint to fall back to'}\n`),
    );
    trainer = r.value;
    resumeFrom = r.dir;
    const c = trainer.model.config;
    if (c.vocabSize !== sel.tokens.length || c.padId !== ids.padId || c.maskId !== ids.maskId) {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `the checkpoint ${resumeFrom} has a ${c.vocabSize}-token vocabulary, the data ${sel.tokens.length} tokens: resume with the --corpus/--dataset/--vocab of the original run`,
      );
    }
  } else if (argv.init) {
    const model = await ElectraModel.load(CheckpointManager.latest(argv.init) ?? argv.init, { seed: rt.seed, specialIds: ids, ...where });
    if (model.config.vocabSize !== sel.tokens.length) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `${argv.init} has a ${model.config.vocabSize}-token vocabulary, the data ${sel.tokens.length}: pass the matching --vocab`);
    }
    trainer = new Trainer({ ...common, model });
  } else {
    const m = recipe.model;
    const config = electraConfig({
      ...m,
      maxPosition: Math.max(m.maxPosition ?? 0, rt.seqLen),
      vocabSize: sel.tokens.length,
      ...ids,
    });
    trainer = new Trainer({ ...common, model: ElectraModel.create(config, { seed: rt.seed, ...where }) });
  }
  const vocabText = sel.tokens.join('\n') + '\n';
  await writeFileAtomic(path.join(out, 'vocab.txt'), vocabText);
  await writeFileAtomic(path.join(out, 'data.json'), JSON.stringify(sel.info, null, 2) + '\n');
  // The effective recipe: plain JSON of the resolved training and model config.
  const effective = { preset, training: rt, model: trainer.model.config };
  await writeFileAtomic(path.join(out, RECIPE_FILE), JSON.stringify(effective, null, 2) + '\n');
  process.stderr.write(`electra-native: ${describeRecipe(recipe, trainer.model.config)}\n`);
  const evalBatches = await selectEval(argv, out, sel);
  const metricsFile = path.join(out, 'metrics.jsonl');
  const evalFile = path.join(out, 'eval.jsonl');
  const metrics = new AppendLog(metricsFile);
  const evals = new AppendLog(evalFile);
  const ckpts = new CheckpointManager(out, { everySteps: argv.checkpointEvery, everyMinutes: argv.checkpointMinutes, keep: argv.keep });
  if (argv.stopAt !== undefined && !(Number.isInteger(argv.stopAt) && argv.stopAt > 0)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `--stop-at must be a positive integer, got ${argv.stopAt}`);
  }
  const remaining = Math.max(0, Math.min(argv.steps, argv.stopAt ?? argv.steps) - trainer.globalStep);
  const me = argv.metricsEvery;
  const evalEvery = argv.evalEvery > 0 ? argv.evalEvery : Math.max(1, Math.ceil(argv.steps / 5 / me)) * me;
  const jsonOut = argv.json || argv.logFormat === 'json';
  process.stderr.write(
    `electra-native: training ${preset} (${(trainer.model.numParameters / 1e6).toFixed(2)}M parameters, ${trainer.model.config.objective}) ` +
      `on ${sel.describe}, ${remaining} steps of ${rt.batch}x${rt.seqLen} on the ${trainer.model.device.description}` +
      `${resumeFrom ? ` from ${resumeFrom} (step ${trainer.globalStep})` : ''}; run directory ${out}\n` +
      `electra-native: memory plan ${describePlan(trainer.memoryPlan)}\n` +
      (evalBatches ? `electra-native: evaluating ${evalBatches.length} held-out batches every ${evalEvery} steps\n` : 'electra-native: no held-out data (pass --eval-corpus to evaluate)\n'),
  );
  const progress = jsonOut ? null : new Progress({ total: argv.steps, every: argv.logEvery });
  const t0 = Date.now();
  let last: StepMetrics | undefined;
  let lastEval: EvalMetrics | undefined;
  const runEval = async () => {
    if (!evalBatches) return;
    const e = await trainer.evaluate(evalBatches);
    lastEval = e;
    evals.append(e);
    const line =
      `eval @ step ${e.step}: loss ${e.loss.toFixed(4)}  gen ${e.genLoss.toFixed(3)} (acc ${(100 * e.genAccuracy).toFixed(1)}%)  ` +
      `disc ${e.discLoss.toFixed(4)}, on candidates ${e.discCandidateLoss.toFixed(4)} (constant ${e.discBaselineLoss.toFixed(4)}; acc ${(100 * e.discAccuracy).toFixed(1)}%, ` +
      `constant ${(100 * e.discBaselineAccuracy).toFixed(1)}%; AUC ${fmtAuc(e.discAuc)}, P ${e.discPrecision.toFixed(2)} R ${e.discRecall.toFixed(2)})`;
    if (jsonOut) process.stdout.write(JSON.stringify({ eval: e }) + '\n');
    else progress!.note(line);
  };
  const save = () => ckpts.save(trainer, { 'vocab.txt': vocabText });
  const ac = new AbortController();
  const onSignal = () => {
    if (ac.signal.aborted) {
      process.stderr.write('\nelectra-native: quitting now; the last checkpoint is intact\n');
      process.exit(130);
    }
    process.stderr.write('\nelectra-native: stopping after this step and saving (press Ctrl-C again to quit at once)\n');
    ac.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    if (trainer.globalStep === 0 && remaining > 0) await runEval();
    const res = await trainer.train({
      steps: remaining,
      signal: ac.signal,
      metricsEvery: me,
      onStep: async (m) => {
        last = m;
        metrics.append(m);
        if (jsonOut) process.stdout.write(JSON.stringify(m) + '\n');
        else progress!.update(m);
        if (m.step % evalEvery === 0 || m.step === argv.steps) await runEval();
        if (ckpts.due(m.step) && m.step !== argv.steps) {
          const dir = await save();
          if (!jsonOut) progress!.note(`checkpoint ${dir}`);
        }
      },
    });
    progress?.done();
    const ckpt = await save();
    metrics.close();
    evals.close();
    const secs = (Date.now() - t0) / 1000;
    const example = evalBatches && trainer.model.config.objective === 'electra' ? await plantedExample(trainer.model, evalBatches, sel.tokens) : null;
    const facts = summaryFacts(lastEval, example);
    const report = path.join(out, 'report.html');
    await writeFileAtomic(
      report,
      renderReport(readJsonl(metricsFile), readJsonl(evalFile), {
        run: out,
        preset,
        objective: trainer.model.config.objective,
        parameters: trainer.model.numParameters,
        data: sel.describe,
        steps: res.globalStep,
        'batch x seq': `${rt.batch} x ${rt.seqLen}${rt.gradAccum > 1 ? ` (${rt.gradAccum} micro-batches)` : ''}`,
        device: trainer.model.device.description,
        'wall time (s)': Math.round(secs),
        ...facts,
      }),
    );
    const final = last
      ? `; last step: loss ${last.loss.toFixed(4)}, generator accuracy ${(100 * last.genAccuracy).toFixed(1)}%, ` +
        `discriminator accuracy ${(100 * last.discAccuracy).toFixed(1)}%`
      : '';
    const evalLine = lastEval
      ? `; held-out loss ${lastEval.loss.toFixed(4)}, discriminator AUC ${fmtAuc(lastEval.discAuc)}, ` +
        `disc loss on candidates ${lastEval.discCandidateLoss.toFixed(4)} (constant predictor ${lastEval.discBaselineLoss.toFixed(4)})`
      : '';
    const factLines = Object.entries(facts).map(([k, v]) => `  ${k}: ${v}\n`).join('');
    const q = (t: string) => `'${t.replace(/'/g, "'\\''")}'`;
    process.stderr.write(
      `electra-native: ${res.aborted ? 'stopped' : 'done'} at step ${res.globalStep} in ${secs.toFixed(0)} s${final}${evalLine}\n` +
        (factLines ? `electra-native: what the run learned (held-out data)\n${factLines}` : '') +
        `electra-native: run directory ${out}\n` +
        `  checkpoint  ${ckpt}\n  report      ${report}\n  metrics     ${metricsFile}${evalBatches ? `, ${evalFile}` : ''}\n` +
        `electra-native: next\n` +
        `  export      electra-native export ${out} --out ${path.join(out, 'hf')}\n` +
        `  detect      electra-native detect --model ${out} ${example ? q(example.text) : "'some text'"}\n` +
        `  resume      electra-native train --resume ${out} --steps ${argv.steps + 1000}\n` +
        `  finetune    electra-native finetune --model ${out} --task brown-pos --out ${path.join(out, 'finetune-brown-pos')}\n` +
        `  eval-suite  electra-native eval-suite ${out}\n`,
    );
  } finally {
    metrics.close();
    evals.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
