/**
 * FinetuneTrainer: fine-tunes a ClassifierModel on encoded examples with the
 * paper's recipe (recipe.ts), one asynchronous native call per step, a dev
 * evaluation after every epoch (the task's first metric picks the best
 * checkpoint), atomic checkpoints and exact resume.
 *
 * Run directory (outDir):
 *   checkpoints/step-000123/  model (HF directory) + optimizer.safetensors + finetune.json
 *   checkpoints/LATEST        newest complete checkpoint (written last, atomically)
 *   checkpoints/BEST          checkpoint with the best dev metric
 * Shuffling is a seeded permutation per epoch and dropout is keyed by the
 * step, so a resumed run takes exactly the steps the uninterrupted one would.
 */
import * as fs from 'fs';
import * as path from 'path';

import { epochPermutation } from '../data/shard-reader';
import { ElectraError, toElectraError } from '../errors';
import { readFileChecked, writeFileAtomic } from '../io/atomic';
import { parseSafetensors, serializeSafetensors, toFloat32, TensorToWrite } from '../io/safetensors';
import { computeMetrics } from '../metrics';
import { checkExamples, ClassifierModel, ClassifierSaveOptions } from './model';
import { FinetuneHyperParameters, finetuneRecipe } from './recipe';
import type { EncodedExamples } from './task';

export const FINETUNE_STATE_FILE = 'finetune.json';
export const FINETUNE_OPTIMIZER_FILE = 'optimizer.safetensors';

/** One training step's metrics. */
export interface FinetuneStepMetrics {
  /** 1-based count of completed steps. */
  step: number;
  epoch: number;
  loss: number;
  /** Training accuracy of the batch (classification and token tasks). */
  accuracy?: number;
  gradNorm: number;
  lr: number;
}

/** A dev evaluation: the task's metrics and the mean loss. */
export interface FinetuneEvalMetrics {
  step: number;
  epoch: number;
  metrics: Record<string, number>;
}

export interface FinetuneTrainerOptions {
  model: ClassifierModel;
  train: EncodedExamples;
  /** Scored after every epoch; the task's first metric picks the best checkpoint. */
  dev?: EncodedExamples;
  /** Overrides of the recipe for this model's size and training-set size. */
  hyper?: Partial<FinetuneHyperParameters>;
  /** Run directory for checkpoints (none without it). */
  outDir?: string;
  /** Also checkpoint every N steps (0: only after each epoch). */
  checkpointEvery?: number;
  /** Newest checkpoints kept besides the best (default 2). */
  keep?: number;
  /** Written into every checkpoint's model directory (vocab -> tokenizer files). */
  save?: ClassifierSaveOptions;
}

export interface FinetuneRunOptions {
  signal?: AbortSignal;
  onStep?: (m: FinetuneStepMetrics) => void;
  onEval?: (m: FinetuneEvalMetrics) => void;
}

export interface FinetuneResult {
  steps: number;
  aborted: boolean;
  /** Every dev evaluation, in order. */
  evals: FinetuneEvalMetrics[];
  /** The best evaluation and its checkpoint directory (when there was a dev set and an outDir). */
  best?: FinetuneEvalMetrics & { checkpoint?: string };
}

interface SavedState {
  format: 'electra-native-finetune/1';
  step: number;
  hyper: FinetuneHyperParameters;
  trainCount: number;
  evals: FinetuneEvalMetrics[];
  best?: FinetuneEvalMetrics & { checkpoint?: string };
}

export class FinetuneTrainer {
  readonly model: ClassifierModel;
  readonly hyper: Readonly<FinetuneHyperParameters>;
  readonly stepsPerEpoch: number;
  readonly totalSteps: number;
  readonly warmupSteps: number;
  private readonly train: EncodedExamples;
  private readonly dev?: EncodedExamples;
  private readonly outDir?: string;
  private readonly checkpointEvery: number;
  private readonly keep: number;
  private readonly saveOpts: ClassifierSaveOptions;
  private completed = 0;
  private evals: FinetuneEvalMetrics[] = [];
  private best?: FinetuneEvalMetrics & { checkpoint?: string };
  private running = false;

  constructor(opts: FinetuneTrainerOptions) {
    this.model = opts.model;
    const task = opts.model.config.task;
    checkExamples(opts.train, task, opts.model.config.encoder.maxPosition);
    if (opts.dev) checkExamples(opts.dev, task, opts.model.config.encoder.maxPosition);
    this.train = opts.train;
    this.dev = opts.dev;
    this.hyper = Object.freeze(finetuneRecipe(opts.model.config.encoder.discriminator.hidden, opts.train.count, { seqLen: opts.train.seqLen, ...opts.hyper }));
    if (this.hyper.seqLen !== opts.train.seqLen) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `seqLen ${this.hyper.seqLen} differs from the encoded examples' ${opts.train.seqLen}`);
    }
    this.stepsPerEpoch = Math.ceil(opts.train.count / this.hyper.batchSize);
    this.totalSteps = this.stepsPerEpoch * this.hyper.epochs;
    this.warmupSteps = Math.round(this.hyper.warmupFraction * this.totalSteps);
    this.outDir = opts.outDir;
    this.checkpointEvery = opts.checkpointEvery ?? 0;
    this.keep = opts.keep ?? 2;
    if (!Number.isInteger(this.checkpointEvery) || this.checkpointEvery < 0) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `checkpointEvery must be an integer >= 0, got ${opts.checkpointEvery}`);
    }
    if (!Number.isInteger(this.keep) || this.keep < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `keep must be an integer >= 1, got ${opts.keep}`);
    this.saveOpts = opts.save ?? {};
    try {
      this.model.native.setLayerDecay(this.hyper.layerDecay);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Steps completed so far. */
  get globalStep(): number {
    return this.completed;
  }

  /** Rows of the training set in step `t`'s batch (0-based step). */
  private batchRows(t: number): Uint32Array {
    const epoch = Math.floor(t / this.stepsPerEpoch);
    const perm = epochPermutation(this.train.count, this.hyper.seed, epoch);
    const i0 = (t % this.stepsPerEpoch) * this.hyper.batchSize;
    return perm.subarray(i0, Math.min(i0 + this.hyper.batchSize, this.train.count));
  }

  /** One optimizer step on the next batch. */
  async trainStep(): Promise<FinetuneStepMetrics> {
    if (this.completed >= this.totalSteps) throw new ElectraError('ERR_INVALID_ARGUMENT', `all ${this.totalSteps} steps are done`);
    const t = this.completed;
    const rows = this.batchRows(t);
    const S = this.train.seqLen;
    const n = rows.length;
    const ids = new Int32Array(n * S), types = new Int32Array(n * S), mask = new Int32Array(n * S);
    const token = this.train.kind === 'token';
    const labels = this.train.kind === 'regression' ? new Float32Array(n) : new Int32Array(token ? n * S : n);
    for (let i = 0; i < n; i++) {
      const r = rows[i];
      ids.set(this.train.inputIds.subarray(r * S, (r + 1) * S), i * S);
      types.set(this.train.tokenTypeIds.subarray(r * S, (r + 1) * S), i * S);
      mask.set(this.train.attentionMask.subarray(r * S, (r + 1) * S), i * S);
      if (token) labels.set(this.train.labels.subarray(r * S, (r + 1) * S), i * S);
      else labels[i] = this.train.labels[r];
    }
    const h = this.hyper;
    let m;
    try {
      m = await this.model.native.trainStep(
        { inputIds: ids, tokenTypeIds: types, attentionMask: mask, rows: n, seqLen: S },
        labels,
        {
          batch: n,
          seqLen: S,
          lr: h.lr,
          warmupSteps: this.warmupSteps,
          totalSteps: this.totalSteps,
          beta1: h.beta1,
          beta2: h.beta2,
          eps: h.eps,
          weightDecay: h.weightDecay,
          clipNorm: h.clipNorm,
          seed: h.seed,
        },
        t,
      );
    } catch (e) {
      throw toElectraError(e);
    }
    this.completed = t + 1;
    const out: FinetuneStepMetrics = { step: this.completed, epoch: Math.floor(t / this.stepsPerEpoch) + 1, loss: m.loss, gradNorm: m.gradNorm, lr: m.lr };
    if (this.train.kind !== 'regression' && m.counted > 0) out.accuracy = m.correct / m.counted;
    return out;
  }

  /** Scores `data` (default: the dev set) with the task's metrics. */
  async evaluate(data?: EncodedExamples): Promise<Record<string, number>> {
    const ex = data ?? this.dev;
    if (!ex) throw new ElectraError('ERR_INVALID_ARGUMENT', 'no examples to evaluate: pass them, or give the trainer a dev set');
    const pred = await this.model.predict(ex);
    return computeMetrics(this.model.config.task, pred, ex.labels);
  }

  /** Trains to the end (or until `signal` aborts), evaluating after each epoch. */
  async run(opts: FinetuneRunOptions = {}): Promise<FinetuneResult> {
    if (this.running) throw new ElectraError('ERR_BUSY', 'this trainer is already running');
    this.running = true;
    try {
      let aborted = false;
      while (this.completed < this.totalSteps) {
        if (opts.signal?.aborted) {
          aborted = true;
          break;
        }
        const m = await this.trainStep();
        opts.onStep?.(m);
        const endOfEpoch = this.completed % this.stepsPerEpoch === 0 || this.completed === this.totalSteps;
        if (endOfEpoch && this.dev) {
          const ev: FinetuneEvalMetrics = { step: this.completed, epoch: m.epoch, metrics: await this.evaluate() };
          this.evals.push(ev);
          opts.onEval?.(ev);
          const key = this.model.config.task.metrics[0];
          const isBest = !this.best || ev.metrics[key] > this.best.metrics[key];
          if (isBest) this.best = { ...ev };
          if (this.outDir) {
            const dir = await this.saveCheckpoint();
            if (isBest) {
              this.best!.checkpoint = dir;
              await writeFileAtomic(path.join(this.outDir, 'checkpoints', 'BEST'), path.basename(dir) + '\n');
              await this.writeState(dir);  // records itself as the best
            }
            await this.prune();
          }
        } else if (this.outDir && (endOfEpoch || (this.checkpointEvery > 0 && this.completed % this.checkpointEvery === 0))) {
          await this.saveCheckpoint();
          await this.prune();
        }
      }
      return { steps: this.completed, aborted, evals: [...this.evals], ...(this.best ? { best: { ...this.best } } : {}) };
    } finally {
      this.running = false;
    }
  }

  /** Writes checkpoints/step-NNNNNN (model, optimizer moments, trainer state), then LATEST. Returns its path. */
  async saveCheckpoint(): Promise<string> {
    if (!this.outDir) throw new ElectraError('ERR_INVALID_ARGUMENT', 'the trainer has no outDir');
    const name = `step-${String(this.completed).padStart(6, '0')}`;
    const dir = path.join(this.outDir, 'checkpoints', name);
    await this.model.save(dir, this.saveOpts);
    const tensors: TensorToWrite[] = [];
    try {
      for (const s of this.model.tensorSpecs()) {
        tensors.push({ name: `m/${s.name}`, shape: s.shape, data: this.model.native.getTensor(s.name, 'm') });
        tensors.push({ name: `v/${s.name}`, shape: s.shape, data: this.model.native.getTensor(s.name, 'v') });
      }
    } catch (e) {
      throw toElectraError(e);
    }
    await writeFileAtomic(path.join(dir, FINETUNE_OPTIMIZER_FILE), serializeSafetensors(tensors, { step: String(this.completed) }));
    await this.writeState(dir);
    await writeFileAtomic(path.join(this.outDir, 'checkpoints', 'LATEST'), name + '\n');
    return dir;
  }

  private async writeState(dir: string): Promise<void> {
    const state: SavedState = {
      format: 'electra-native-finetune/1',
      step: this.completed,
      hyper: { ...this.hyper },
      trainCount: this.train.count,
      evals: this.evals,
      ...(this.best ? { best: this.best } : {}),
    };
    await writeFileAtomic(path.join(dir, FINETUNE_STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  }

  /** Keeps the newest `keep` checkpoints and the best one. */
  private async prune(): Promise<void> {
    const root = path.join(this.outDir!, 'checkpoints');
    const names = fs.readdirSync(root).filter((n) => /^step-\d+$/.test(n)).sort();
    const bestName = this.best?.checkpoint ? path.basename(this.best.checkpoint) : undefined;
    for (const old of names.slice(0, Math.max(0, names.length - this.keep))) {
      if (old !== bestName) await fs.promises.rm(path.join(root, old), { recursive: true, force: true });
    }
  }

  /** The newest complete checkpoint of a run directory (or the checkpoint directory itself), or null. */
  static latestCheckpoint(runOrCheckpoint: string): string | null {
    if (fs.existsSync(path.join(runOrCheckpoint, FINETUNE_STATE_FILE))) return runOrCheckpoint;
    const file = path.join(runOrCheckpoint, 'checkpoints', 'LATEST');
    if (!fs.existsSync(file)) return null;
    const dir = path.join(runOrCheckpoint, 'checkpoints', fs.readFileSync(file, 'utf8').trim());
    return fs.existsSync(path.join(dir, FINETUNE_STATE_FILE)) ? dir : null;
  }

  /** The best checkpoint of a run directory by the dev metric, else the newest; null when there is none. */
  static bestCheckpoint(runDir: string): string | null {
    const file = path.join(runDir, 'checkpoints', 'BEST');
    if (fs.existsSync(file)) {
      const dir = path.join(runDir, 'checkpoints', fs.readFileSync(file, 'utf8').trim());
      if (fs.existsSync(path.join(dir, FINETUNE_STATE_FILE))) return dir;
    }
    return FinetuneTrainer.latestCheckpoint(runDir);
  }

  /**
   * Continues a run from its newest checkpoint: the model (weights and moments)
   * and the step come from the checkpoint; the data must be the same (its size
   * is checked), the hyper-parameters are the checkpoint's.
   */
  static async resume(
    runDir: string,
    opts: Omit<FinetuneTrainerOptions, 'model' | 'hyper' | 'outDir'> & { device?: ClassifierModelLoadDevice },
  ): Promise<FinetuneTrainer> {
    const dir = FinetuneTrainer.latestCheckpoint(runDir);
    if (!dir) throw new ElectraError('ERR_IO', `${runDir}: no fine-tuning checkpoint to resume from`);
    const stateFile = path.join(dir, FINETUNE_STATE_FILE);
    let state: SavedState;
    try {
      state = JSON.parse((await readFileChecked(stateFile)).toString('utf8')) as SavedState;
    } catch (e) {
      throw new ElectraError('ERR_CORRUPT_FILE', `${stateFile}: ${(e as Error).message}`);
    }
    if (state.format !== 'electra-native-finetune/1') throw new ElectraError('ERR_CORRUPT_FILE', `${stateFile}: unknown format '${String(state.format)}'`);
    if (state.trainCount !== opts.train.count) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `${runDir}: the checkpoint was trained on ${state.trainCount} examples, these are ${opts.train.count}`);
    }
    const model = await ClassifierModel.load(dir, opts.device ?? {});
    const t = new FinetuneTrainer({ ...opts, model, hyper: state.hyper, outDir: runDir });
    const optFile = path.join(dir, FINETUNE_OPTIMIZER_FILE);
    const st = parseSafetensors(await readFileChecked(optFile), optFile);
    for (const s of model.tensorSpecs()) {
      for (const kind of ['m', 'v'] as const) {
        const tt = st.tensors.get(`${kind}/${s.name}`);
        if (!tt || tt.shape.join(',') !== s.shape.join(',')) throw new ElectraError('ERR_CORRUPT_FILE', `${optFile}: tensor '${kind}/${s.name}' is missing or has the wrong shape`);
        try {
          model.native.setTensor(s.name, toFloat32(tt, optFile, `${kind}/${s.name}`), kind);
        } catch (e) {
          throw toElectraError(e);
        }
      }
    }
    t.completed = state.step;
    t.evals = state.evals ?? [];
    t.best = state.best;
    return t;
  }
}

/** Device options for a resumed model. */
export type ClassifierModelLoadDevice = Parameters<typeof ClassifierModel.load>[1];
