/**
 * Trainer: batches in, metrics out. Each step is one asynchronous native call
 * that runs masking, generator, sampling, discriminator, backward, clipping
 * and AdamW without returning to JavaScript, so the event loop stays free.
 */
import * as fs from 'fs';
import * as path from 'path';

import type { BatchSource } from './data/array-dataset';
import { Device, DeviceLabel, deviceLabel, deviceMatches, DeviceNotice, parseDevice, Precision } from './device';
import { MANIFEST_FILE, writeManifest } from './checkpoint-manifest';
import { checkNativeConfig, stepMetricNames, trainDefaults } from './defaults';
import { ElectraError, toElectraError } from './errors';
import { readFileChecked, writeFileAtomic } from './io/atomic';
import type { ElectraConfig } from './config';
import { getInfo } from './info';
import { ElectraModel, TokenBatch } from './model';
import type { MaskingMode, NativeStepMetrics, NativeTrainConfig } from './native-model';
import { addHistogram, aucFromHistograms, constantBaselineLoss } from './metrics/auc';
import { availableHostBytes, checkFits, MemoryPlan } from './memory-plan';
import { AdamW, AdamWOptions } from './optimizer';
import { assertSound, LossSpikeGuard, LossSpikeGuardOptions, MAX_ABS_WEIGHT } from './soundness';

export type { Device } from './device';

export interface TrainerOptions {
  model: ElectraModel;
  /** An AdamW, or its options (default: AdamW's defaults, the native training-config defaults in config_table.h). */
  optimizer?: AdamW | AdamWOptions;
  data: BatchSource;
  /**
   * A check, not a choice: training runs where the model lives (pass `device`
   * to ElectraModel.create / load, or to Trainer.resume). When given, it must
   * agree with the model's device ('auto' agrees with any, 'cuda' with any
   * CUDA device), else ERR_INVALID_ARGUMENT.
   */
  device?: Device;
  /** Seeds masking, sampling and dropout: the same seed gives bit-identical runs on the CPU. */
  seed?: number;
  /**
   * Sequences per micro-batch; a step runs `gradAccum` of them, so a step sees
   * batchSize x gradAccum sequences (the CLI's --batch is that product).
   * Defaults here and below: the native training config's (trainDefaults()).
   */
  batchSize?: number;
  /** Tokens per sequence. */
  seqLen?: number;
  /** Micro-batches per optimizer step. */
  gradAccum?: number;
  /** Fraction of tokens selected for masking. */
  maskProb?: number;
  /** How masked positions are drawn: 'reference' (the ELECTRA reference) or 'exact' (exactly round(p x candidates)). */
  masking?: MaskingMode;
  /** Weight of the discriminator loss. */
  discWeight?: number;
  /** Generator sampling temperature. */
  temperature?: number;
  /** Optional loss-spike guard: stop (ERR_DIVERGED), or skip the update of a step whose loss spikes. Off by default. */
  lossSpike?: LossSpikeGuardOptions;
  /** A checkpoint is refused (ERR_DIVERGED) when any |weight| exceeds this (default MAX_ABS_WEIGHT, 1e4). */
  maxAbsWeight?: number;
}

/** Losses and detection quality, reported by training steps and evaluations alike. */
export interface LossMetrics {
  loss: number;
  genLoss: number;
  /** The objective's discriminator loss: mean BCE over all non-padding tokens, [CLS] and [SEP] included (as the reference). */
  discLoss: number;
  /**
   * Mean BCE over the candidates only: the tokens the masking may pick (not
   * [CLS], [SEP], [MASK] or padding), which are the only ones that can be
   * replaced. The detection metrics below count the same tokens.
   */
  discCandidateLoss: number;
  /** Generator argmax accuracy at masked positions. */
  genAccuracy: number;
  /** Discriminator accuracy over the candidate tokens. */
  discAccuracy: number;
  /** Precision and recall of "replaced". */
  discPrecision: number;
  discRecall: number;
  /** Replaced tokens / candidate tokens. */
  replacedFraction: number;
  /** ROC-AUC of the discriminator for "replaced" (0.5: no better than chance; NaN when nothing was replaced). */
  discAuc: number;
}

/** Held-out evaluation results: losses averaged over the evaluated batches, AUC and baselines over all their tokens. */
export interface EvalMetrics extends LossMetrics {
  /** The trainer's global step when evaluated. */
  step: number;
  batches: number;
  /** Loss of the constant predictor that always says the replaced fraction, over the candidate tokens: what discCandidateLoss must beat. */
  discBaselineLoss: number;
  /** Accuracy of the constant predictor "never replaced" (or "always", when most tokens are replaced). */
  discBaselineAccuracy: number;
}

/** What one optimizer step reports. */
export interface StepMetrics extends LossMetrics {
  /** 1-based number of this step. */
  step: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  lr: number;
  tokens: number;
  maskedTokens: number;
  tokensPerSecond: number;
  stepMs: number;
  /** The loss-spike guard ('skip') withheld this step's update. */
  skipped: boolean;
}

export interface TrainRunOptions {
  /** Steps to run in this call. */
  steps: number;
  /** Stops cleanly after the step in flight. */
  signal?: AbortSignal;
  /**
   * Read the metrics of the steps whose (1-based, global) number is a multiple
   * of N, and of this call's last step; default 1, every step. The other steps run without them (`trainStep({ metrics: false })`):
   * on CUDA the host then prepares the next step while the device still runs
   * this one, and the step's device part has no host wait. The loss-spike
   * guard and the non-finite check see only the steps with metrics.
   */
  metricsEvery?: number;
  /** Called with the metrics of each step that reads them. */
  onStep?: (m: StepMetrics) => void | Promise<void>;
}

export interface TrainResult {
  /** Where the steps ran: 'cpu' or 'cuda:N' (details in trainer.model.device). */
  device: DeviceLabel;
  /** Steps completed by this call. */
  steps: number;
  /** Total steps completed by this trainer. */
  globalStep: number;
  aborted: boolean;
  last?: StepMetrics;
}

/** Options of Trainer.resume: the trainer's (but the model), and where to load the model. */
export interface ResumeOptions extends Omit<TrainerOptions, 'model'> {
  /** Where to load the model: 'auto' by default (see ElectraModel.create). */
  device?: Device;
  /** The model's precision (default: 'bf16' on CUDA, 'fp32' on the CPU). */
  precision?: Precision;
  /** Receives the notice of an 'auto' fallback to the CPU (see ElectraModel.create). */
  onDeviceNotice?: DeviceNotice;
}

export const TRAINER_STATE_FILE = 'trainer.json';
export const OPTIMIZER_FILE = 'optimizer.safetensors';

export class Trainer {
  readonly model: ElectraModel;
  readonly optimizer: AdamW;
  readonly data: BatchSource;
  /** The model's device, 'cpu' or 'cuda:N' (details in model.device). */
  readonly device: DeviceLabel;
  readonly seed: number;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly gradAccum: number;
  readonly maskProb: number;
  readonly masking: MaskingMode;
  readonly discWeight: number;
  readonly temperature: number;
  /** A checkpoint is refused when any |weight| exceeds this. */
  readonly maxAbsWeight: number;
  /** The loss-spike guard, when enabled. */
  readonly lossSpike: LossSpikeGuard | null;
  /** Bytes this training needs (weights, optimizer state, activations, workspace), checked against free memory at construction. */
  readonly memoryPlan: MemoryPlan;
  private completed = 0;
  /** Steps run since the last one that read its metrics (this one included), and when the first began. */
  private unreported: { t0: number | undefined; steps: number } = { t0: undefined, steps: 0 };
  private running = false;

  constructor(opts: TrainerOptions) {
    if (!(opts.model instanceof ElectraModel)) throw new ElectraError('ERR_INVALID_ARGUMENT', 'Trainer needs `model`, an ElectraModel');
    if (!opts.data || typeof opts.data.next !== 'function') throw new ElectraError('ERR_INVALID_ARGUMENT', 'Trainer needs `data`, a BatchSource with next(rows, seqLen)');
    this.model = opts.model;
    this.data = opts.data;
    this.device = deviceLabel(this.model.device);
    if (opts.device !== undefined) {
      parseDevice(opts.device);
      if (!deviceMatches(opts.device, this.model.device)) {
        throw new ElectraError(
          'ERR_INVALID_ARGUMENT',
          `Trainer device '${opts.device}' does not match the model's device (${this.model.device.description}): ` +
            `training runs where the model lives, so pass device to ElectraModel.create / ElectraModel.load (or Trainer.resume) instead`,
        );
      }
    }
    const d = trainDefaults();
    this.optimizer = opts.optimizer instanceof AdamW ? opts.optimizer : new AdamW(opts.optimizer ?? {});
    this.seed = opts.seed ?? d.seed;
    this.batchSize = opts.batchSize ?? d.batch;
    this.seqLen = opts.seqLen ?? d.seqLen;
    this.gradAccum = opts.gradAccum ?? d.gradAccum;
    this.maskProb = opts.maskProb ?? d.maskProb;
    this.masking = opts.masking ?? d.masking;
    this.discWeight = opts.discWeight ?? d.discWeight;
    this.temperature = opts.temperature ?? d.temperature;
    this.maxAbsWeight = opts.maxAbsWeight ?? MAX_ABS_WEIGHT;
    if (!(this.maxAbsWeight > 0)) throw new ElectraError('ERR_INVALID_ARGUMENT', `maxAbsWeight must be > 0, got ${opts.maxAbsWeight}`);
    this.lossSpike = opts.lossSpike ? new LossSpikeGuard(opts.lossSpike) : null;
    // The core's validation, the one that guards every step, run now so a bad option fails here.
    checkNativeConfig(this.model.config, this.nativeTrainConfig());
    // Before the first step allocates activations: a batch that cannot fit fails here, with the numbers.
    const onCuda = this.model.device.backend === 'cuda';
    const shape = {
      batchSize: this.batchSize,
      seqLen: this.seqLen,
      maskProb: this.maskProb,
      gradAccum: this.gradAccum,
      backendWorkspace: this.model.stepWorkspaceBytes(this.batchSize, this.seqLen),
      attentionSavedFloats: (B: number, S: number, heads: number, headDim: number) => this.model.attentionSavedFloats(B, S, heads, headDim),
      ffnGeluBf16: (hidden: number, intermediate: number) => this.model.ffnGeluBf16(hidden, intermediate),
      attentionQkvBf16: (seqLen: number, heads: number, headDim: number) => this.model.attentionQkvBf16(seqLen, heads, headDim),
    };
    const available = onCuda ? cudaBytesLeft(this.model) : availableHostBytes();
    this.memoryPlan = checkFits(this.model.config as ElectraConfig, this.model.numParameters, shape, available, onCuda ? this.model.device.description : 'this machine (free memory)');
  }

  /** Optimizer steps completed so far (the next step's 0-based index). */
  get globalStep(): number {
    return this.completed;
  }

  /** The native step's hyper-parameters. */
  nativeTrainConfig(): NativeTrainConfig {
    const h = this.optimizer.hyper;
    return {
      batch: this.batchSize,
      seqLen: this.seqLen,
      maskProb: this.maskProb,
      discWeight: this.discWeight,
      temperature: this.temperature,
      lr: h.lr,
      warmupSteps: h.warmupSteps,
      totalSteps: h.totalSteps,
      beta1: h.beta1,
      beta2: h.beta2,
      eps: h.eps,
      weightDecay: h.weightDecay,
      clipNorm: h.clipNorm,
      biasCorrection: h.biasCorrection,
      gradAccum: this.gradAccum,
      seed: this.seed,
      masking: this.masking,
    };
  }

  /** Rejects a malformed batch before any native work. */
  checkBatch(b: TokenBatch, rows = this.batchSize * this.gradAccum): void {
    const fail = (m: string): never => {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `bad batch: ${m} (expected a TokenBatch {inputIds: Int32Array(rows*seqLen), attentionMask?, tokenTypeIds?, rows: ${rows}, seqLen: ${this.seqLen}})`,
      );
    };
    if (typeof b !== 'object' || b === null || Array.isArray(b)) fail(`the data source returned ${b === null ? 'null' : Array.isArray(b) ? 'an array' : typeof b}`);
    if (!Number.isInteger(b.rows) || b.rows < 1) fail(`rows must be a positive integer, got ${b.rows}`);
    if (b.rows !== rows) fail(`expected ${rows} rows (batchSize ${this.batchSize} x gradAccum ${this.gradAccum}), got ${b.rows}`);
    if (b.seqLen !== this.seqLen) fail(`expected seqLen ${this.seqLen}, got ${b.seqLen}`);
    const n = rows * this.seqLen;
    if (!isInt32Array(b.inputIds) || b.inputIds.length !== n) fail(`inputIds must be an Int32Array of ${n} ids`);
    for (const [k, a] of [['tokenTypeIds', b.tokenTypeIds], ['attentionMask', b.attentionMask]] as const) {
      if (a !== undefined && (!isInt32Array(a) || a.length !== n)) fail(`${k} must be an Int32Array of ${n} values`);
    }
    const V = this.model.config.vocabSize;
    for (let i = 0; i < n; i++) {
      const id = b.inputIds[i];
      if (id < 0 || id >= V) fail(`token id ${id} at row ${Math.floor(i / this.seqLen)}, position ${i % this.seqLen} is outside the vocabulary of ${V}`);
    }
    // A row with no real token contributes nothing to any loss: a silent no-op, so it is refused.
    const mask = b.attentionMask;
    for (let r = 0; r < rows; r++) {
      let real = false;
      for (let s = 0; s < this.seqLen && !real; s++) real = mask ? mask[r * this.seqLen + s] !== 0 : true;
      if (!real) fail(`row ${r} is all padding (its attentionMask is all 0)`);
    }
  }

  /**
   * Runs one optimizer step and reads its metrics. With `{ metrics: false }`
   * the step runs without them and resolves to null: on CUDA as soon as the
   * step is enqueued, so the next step's host work (the data source, the
   * masking) overlaps it on the device. Anything that reads the model waits
   * for it. The next step with metrics reports `stepMs` and `tokensPerSecond`
   * as the mean over the steps since the previous step with metrics.
   */
  async trainStep(): Promise<StepMetrics>;
  async trainStep(opts: { metrics: false }): Promise<null>;
  async trainStep(opts: { metrics?: boolean }): Promise<StepMetrics | null>;
  async trainStep(opts: { metrics?: boolean } = {}): Promise<StepMetrics | null> {
    if (this.running) throw new ElectraError('ERR_BUSY', 'a training step is already running; await it first');
    this.running = true;
    try {
      const batch = await this.data.next(this.batchSize * this.gradAccum, this.seqLen);
      this.checkBatch(batch);
      const t0 = performance.now();
      this.unreported.t0 ??= t0;
      this.unreported.steps++;
      let m: NativeStepMetrics;
      const skipAboveLoss = this.lossSpike?.action === 'skip' ? this.lossSpike.threshold() : 0;
      const cfg = { ...this.nativeTrainConfig(), skipAboveLoss };
      try {
        if (opts.metrics === false) {
          await this.model.native.enqueueStep(batch, cfg, this.completed);
          this.completed++;
          return null;
        }
        m = await this.model.native.trainStep(batch, cfg, this.completed);
      } catch (e) {
        this.unreported = { t0: undefined, steps: 0 };
        throw toElectraError(e);
      }
      // The mean over this step and the ones before it that ran without metrics.
      const steps = this.unreported.steps;
      const stepMs = (performance.now() - this.unreported.t0) / steps;
      this.unreported = { t0: undefined, steps: 0 };
      // The native step refuses non-finite values itself (ERR_DIVERGED); this also holds for any backend that did not.
      if (!Number.isFinite(m.loss) || !Number.isFinite(m.gradNorm)) {
        throw new ElectraError('ERR_DIVERGED', `non-finite loss (${m.loss}) or gradient norm (${m.gradNorm}) at step ${this.completed + 1}: lower the learning rate`);
      }
      // 'stop' throws here, before the step is counted or anything saved.
      this.lossSpike?.observe(m.loss, this.completed + 1);
      this.completed++;
      const tokens = batch.rows * batch.seqLen;
      return {
        step: this.completed,
        ...(nativeScalars(m) as unknown as Omit<StepMetrics, 'step' | 'discAuc' | 'tokensPerSecond' | 'stepMs' | 'skipped'>),
        discAuc: aucFromHistograms(m.discHistReplaced, m.discHistOriginal),
        tokensPerSecond: (tokens * 1000) / stepMs,
        stepMs,
        skipped: m.skipped === true,
      };
    } finally {
      this.running = false;
    }
  }

  /**
   * Held-out evaluation: the training step's masking, sampling and losses with
   * dropout off and no update. Masks and samples depend only on (seed, batch
   * index), so evaluating the same batches again is directly comparable.
   * `data` is a list of batches (rows = batchSize), or a source to draw `batches` from.
   */
  async evaluate(data: TokenBatch[] | BatchSource, batches = 4): Promise<EvalMetrics> {
    if (this.running) throw new ElectraError('ERR_BUSY', 'a training step is running; await it before evaluating');
    const list: TokenBatch[] = [];
    if (Array.isArray(data)) list.push(...data);
    else for (let i = 0; i < batches; i++) list.push(await data.next(this.batchSize, this.seqLen));
    if (list.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', 'evaluate needs at least one batch');
    const cfg = { ...this.nativeTrainConfig(), gradAccum: 1, seed: this.seed + 0x5eed };
    const keys = ['loss', 'genLoss', 'discLoss', 'discCandidateLoss', 'genAccuracy', 'discAccuracy', 'discPrecision', 'discRecall', 'replacedFraction'] as const;
    const sum = Object.fromEntries(keys.map((k) => [k, 0])) as Record<(typeof keys)[number], number>;
    let histReplaced: Float64Array | null = null;
    let histOriginal: Float64Array | null = null;
    let candidates = 0;
    let replaced = 0;
    this.running = true;
    try {
      for (let i = 0; i < list.length; i++) {
        const b = list[i];
        this.checkBatch(b, b.rows);
        let m: NativeStepMetrics;
        try {
          m = await this.model.native.evaluate(b, { ...cfg, batch: b.rows }, i);
        } catch (e) {
          throw toElectraError(e);
        }
        for (const k of keys) sum[k] += m[k];
        histReplaced = addHistogram(histReplaced, m.discHistReplaced);
        histOriginal = addHistogram(histOriginal, m.discHistOriginal);
        candidates += m.candidateTokens;
        replaced += m.replacedTokens;
      }
    } finally {
      this.running = false;
    }
    const out = { step: this.completed, batches: list.length } as EvalMetrics;
    for (const k of keys) out[k] = sum[k] / list.length;
    out.discAuc = aucFromHistograms(histReplaced!, histOriginal!);
    const q = candidates > 0 ? replaced / candidates : 0;
    out.discBaselineLoss = constantBaselineLoss(q);
    out.discBaselineAccuracy = Math.max(q, 1 - q);
    return out;
  }

  /**
   * Step metrics as they come (of every `metricsEvery`th step and the last);
   * stops after `steps` or when `signal` aborts.
   */
  async *iterate(opts: { steps: number; signal?: AbortSignal; metricsEvery?: number }): AsyncGenerator<StepMetrics, void, undefined> {
    if (!Number.isInteger(opts.steps) || opts.steps < 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `steps must be an integer >= 0, got ${opts.steps}`);
    const every = opts.metricsEvery ?? 1;
    if (!Number.isInteger(every) || every < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `metricsEvery must be an integer >= 1, got ${every}`);
    for (let i = 0; i < opts.steps; i++) {
      if (opts.signal?.aborted) return;
      // By the global step, so a resumed run reads the same steps' metrics.
      if ((this.completed + 1) % every === 0 || i === opts.steps - 1) yield await this.trainStep();
      else await this.trainStep({ metrics: false });
    }
  }

  /** Trains for `steps` steps; resolves early with aborted: true when `signal` aborts. */
  async train(opts: TrainRunOptions): Promise<TrainResult> {
    const first = this.completed;
    let last: StepMetrics | undefined;
    for await (const m of this.iterate(opts)) {
      last = m;
      if (opts.onStep) await opts.onStep(m);
    }
    const done = this.completed - first;
    return { device: this.device, steps: done, globalStep: this.completed, aborted: done < opts.steps, last };
  }

  /**
   * Writes a checkpoint directory: model (weights + config), optimizer moments,
   * and trainer.json (step, seed, data position, hyper-parameters). Each file
   * is written atomically; trainer.json goes last, so it names a complete set.
   */
  async saveCheckpoint(dir: string, extraFiles: Record<string, string | Buffer> = {}): Promise<void> {
    if (this.running) throw new ElectraError('ERR_BUSY', 'a training step is running; await it before saving');
    // Nothing is written from a diverged state: LATEST keeps naming a sound checkpoint.
    assertSound(this.model, this.completed, this.maxAbsWeight);
    await fs.promises.mkdir(dir, { recursive: true });
    const digests = await this.model.save(dir);
    digests[OPTIMIZER_FILE] = await this.optimizer.saveState(this.model, path.join(dir, OPTIMIZER_FILE), { step: String(this.completed) });
    const state = {
      format: 'electra-native-checkpoint/1',
      step: this.completed,
      seed: this.seed,
      batchSize: this.batchSize,
      seqLen: this.seqLen,
      gradAccum: this.gradAccum,
      maskProb: this.maskProb,
      masking: this.masking,
      discWeight: this.discWeight,
      temperature: this.temperature,
      optimizer: this.optimizer.hyper,
      data: this.data.state ? this.data.state() : null,
    };
    digests[TRAINER_STATE_FILE] = await writeFileAtomic(path.join(dir, TRAINER_STATE_FILE), JSON.stringify(state, null, 2) + '\n');
    for (const [file, content] of Object.entries(extraFiles)) {
      if (file === MANIFEST_FILE || file.includes('/') || file.startsWith('.')) throw new ElectraError('ERR_INVALID_ARGUMENT', `extra checkpoint file name '${file}' is not allowed`);
      digests[file] = await writeFileAtomic(path.join(dir, file), content);
    }
    await writeManifest(dir, digests);
  }

  /** Frees the model's native memory now (see ElectraModel.dispose); the trainer is unusable afterwards. */
  dispose(): void {
    this.model.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Restores optimizer moments, the step counter and the data position from a
   * checkpoint written by saveCheckpoint. The model's weights are loaded by
   * ElectraModel.load(dir); use Trainer.resume to do both.
   */
  async loadCheckpointState(dir: string): Promise<void> {
    const file = path.join(dir, TRAINER_STATE_FILE);
    const st = parseTrainerState((await readFileChecked(file)).toString('utf8'), file);
    if (st.seed !== this.seed) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `${file}: checkpoint was trained with seed ${String(st.seed)}, this trainer has seed ${this.seed}`);
    }
    await this.optimizer.loadState(this.model, path.join(dir, OPTIMIZER_FILE));
    if (st.data !== null && st.data !== undefined && this.data.restore) this.data.restore(st.data);
    this.completed = st.step;
  }

  /** A trainer that continues a checkpoint exactly where it stopped, with the model loaded on `opts.device` ('auto' by default). */
  static async resume(dir: string, opts: ResumeOptions): Promise<Trainer> {
    const { precision, onDeviceNotice, ...trainerOpts } = opts;
    const model = await ElectraModel.load(dir, { device: opts.device, precision, onDeviceNotice });
    try {
      const trainer = new Trainer({ ...trainerOpts, model });
      await trainer.loadCheckpointState(dir);
      return trainer;
    } catch (e) {
      model.dispose(); // a caller falling back to an older checkpoint should not hold two models
      throw e;
    }
  }
}

/** What trainer.json must hold to be resumed from. */
export interface TrainerStateFile {
  step: number;
  seed: unknown;
  /** The data source's position (BatchSource.state()), or null. */
  data: unknown;
}

/** Parses a checkpoint's trainer.json: ERR_CORRUPT_FILE naming the file for anything that is not one. */
export function parseTrainerState(text: string, file: string): TrainerStateFile {
  let st: unknown;
  try {
    st = JSON.parse(text);
  } catch (e) {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: malformed JSON: ${(e as Error).message}`);
  }
  if (typeof st !== 'object' || st === null || Array.isArray(st)) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: expected a JSON object`);
  const o = st as Record<string, unknown>;
  if (!Number.isSafeInteger(o.step) || (o.step as number) < 0) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: step is missing or invalid`);
  return { step: o.step as number, seed: o.seed, data: o.data ?? null };
}

/** Device memory not yet held by the model's backend (the device's total, less what the model holds). */
function cudaBytesLeft(model: ElectraModel): number {
  const dev = getInfo().cuda.devices[model.device.backend === 'cuda' ? model.device.index : 0];
  return dev ? Math.max(0, dev.memory - model.memory().bytesInUse) : Infinity;
}

/** The native step's scalar metrics (their names: stepMetricNames()), without its histograms. */
function nativeScalars(m: NativeStepMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of stepMetricNames()) out[k] = (m as unknown as Record<string, number>)[k];
  return out;
}

/** By tag, not instanceof, so arrays from another realm (worker, vm, jest) pass. */
function isInt32Array(a: unknown): a is Int32Array {
  return Object.prototype.toString.call(a) === '[object Int32Array]';
}
