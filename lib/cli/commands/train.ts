/**
 * `electra-native train`: pre-trains ELECTRA on the CPU. Until the data
 * pipeline lands it trains on the embedded synthetic corpus (lib/data/toy-corpus.ts)
 * with its word-level vocabulary; the run directory gets metrics.jsonl,
 * a checkpoint every --checkpoint-every steps, and the final checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { PresetName, PRESETS, electraConfig } from '../../config';
import { ArrayDataset } from '../../data/array-dataset';
import { buildWordVocab, toyCorpus, toyExamples } from '../../data/toy-corpus';
import { ElectraModel } from '../../model';
import { AdamW } from '../../optimizer';
import { Device, StepMetrics, Trainer } from '../../trainer';

export const command = 'train';
export const describe = 'Pre-train an ELECTRA model (embedded corpus)';

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
}

export function builder(y: Argv): Argv<TrainArgs> {
  return y
    .option('preset', { choices: Object.keys(PRESETS) as PresetName[], default: 'tiny' as PresetName, describe: 'model size' })
    .option('steps', { type: 'number', default: 300, describe: 'optimizer steps' })
    .option('batch', { type: 'number', default: 16, describe: 'sequences per step' })
    .option('seq', { type: 'number', default: 64, describe: 'tokens per sequence' })
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
    .example('$0 train', 'train the tiny preset on the embedded corpus')
    .example('$0 train --steps 1000 --out runs/a && $0 train --resume runs/a/checkpoint --steps 1500 --out runs/a', 'train, then continue') as unknown as Argv<TrainArgs>;
}

function fmt(m: StepMetrics, total: number): string {
  return (
    `step ${String(m.step).padStart(String(total).length)}/${total}  loss ${m.loss.toFixed(4)}  gen ${m.genLoss.toFixed(3)} ` +
    `(acc ${(100 * m.genAccuracy).toFixed(1)}%)  disc ${m.discLoss.toFixed(4)} (acc ${(100 * m.discAccuracy).toFixed(1)}%)  ` +
    `lr ${m.lr.toExponential(2)}  ${Math.round(m.tokensPerSecond)} tok/s`
  );
}

export async function handler(argv: ArgumentsCamelCase<TrainArgs>): Promise<void> {
  const docs = toyCorpus(2000, 1);
  const vocab = buildWordVocab(docs);
  const examples = toyExamples(docs, vocab, argv.seq);
  const data = new ArrayDataset(examples, { seed: argv.seed, padId: vocab.padId });
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
  } else {
    const config = electraConfig({
      preset: argv.preset,
      objective: argv.objective,
      vocabSize: vocab.tokens.length,
      maxPosition: Math.max(argv.seq, 128),
      padId: vocab.padId,
      unkId: vocab.unkId,
      clsId: vocab.clsId,
      sepId: vocab.sepId,
      maskId: vocab.maskId,
    });
    trainer = new Trainer({ ...common, model: ElectraModel.create(config, { seed: argv.seed }) });
  }
  const out = path.resolve(argv.out ?? path.join('runs', new Date().toISOString().replace(/[:.]/g, '-')));
  await fs.promises.mkdir(out, { recursive: true });
  await fs.promises.writeFile(path.join(out, 'vocab.txt'), vocab.tokens.join('\n') + '\n');
  const metrics = fs.createWriteStream(path.join(out, 'metrics.jsonl'), { flags: 'a' });
  const ckpt = path.join(out, 'checkpoint');
  const remaining = Math.max(0, argv.steps - trainer.globalStep);
  process.stderr.write(
    `electra-native: training ${argv.preset} (${(trainer.model.numParameters / 1e6).toFixed(2)}M parameters, ${argv.objective}) ` +
      `on the embedded corpus (${examples.length} examples, vocab ${vocab.tokens.length}), ${remaining} steps on the ${trainer.device}\n`,
  );
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
        metrics.write(JSON.stringify(m) + '\n');
        if (argv.json) process.stdout.write(JSON.stringify(m) + '\n');
        else if (m.step % argv.logEvery === 0 || m.step === argv.steps) process.stdout.write(fmt(m, argv.steps) + '\n');
        if (argv.checkpointEvery > 0 && m.step % argv.checkpointEvery === 0) await trainer.saveCheckpoint(ckpt);
      },
    });
    await trainer.saveCheckpoint(ckpt);
    await new Promise<void>((r) => metrics.end(() => r()));
    process.stderr.write(
      `electra-native: ${res.aborted ? 'stopped' : 'done'} at step ${res.globalStep}; checkpoint ${ckpt}, metrics ${path.join(out, 'metrics.jsonl')}\n`,
    );
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
