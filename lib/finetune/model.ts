/**
 * ClassifierModel: an ELECTRA discriminator with a task head (sequence
 * classification, regression, or token classification), its parameters,
 * gradients and AdamW state native. Tensor names are HF transformers' names,
 * so `save` writes a directory that transformers loads as
 * ElectraForSequenceClassification / ElectraForTokenClassification, and
 * `fromPretrained` starts from our runs and checkpoints, our HF export, or
 * any HF ELECTRA discriminator saved with save_pretrained.
 */
import * as fs from 'fs';
import * as path from 'path';

import { CheckpointManager } from '../checkpoints';
import { BERT_SPECIAL_IDS, ElectraConfig } from '../config';
import { createOnDevice, DeviceOptions, ResolvedDevice, toResolvedDevice } from '../device';
import { ElectraError, toElectraError } from '../errors';
import { readFileChecked, writeFileAtomic } from '../io/atomic';
import { writeTokenizerFiles } from '../io/hf-export';
import { parseSafetensors, serializeSafetensors, toFloat32, TensorToWrite } from '../io/safetensors';
import { configFromHf, CONFIG_FILE, hfConfig, MODEL_FILE, readJson, specialIds } from '../model';
import type { TokenBatch } from '../model';
import { loadNative } from '../native';
import type { NativeFinetuneModel, NativeFinetuneTensorSpec } from '../native-finetune';
import type { EncodedExamples, TaskSpec } from './task';

/** The encoder part of an ElectraConfig: embeddings and the discriminator. */
export type EncoderConfig = Omit<ElectraConfig, 'generator' | 'objective'>;

/** A fine-tuning model's architecture: encoder, task and head dropout. */
export interface ClassifierConfig {
  encoder: EncoderConfig;
  task: TaskSpec;
  /** Dropout inside the head; undefined: encoder.hiddenDropout (as HF with classifier_dropout null). */
  classifierDropout?: number;
}

/** A tensor of the model with its AdamW decay flag and layer-wise learning-rate scale. */
export type ClassifierTensorSpec = NativeFinetuneTensorSpec;

/** Options of ClassifierModel.create / fromPretrained / load. */
export interface ClassifierCreateOptions extends DeviceOptions {
  /** Seeds the initialisation of what is not loaded (the head; default 0). */
  seed?: number;
}

/** Options of ClassifierModel.save. */
export interface ClassifierSaveOptions {
  /** The vocabulary (one token per id): writes vocab.txt and the HF tokenizer files. */
  vocab?: string[];
  /** The tokenizer lowercases (default true). */
  lowercase?: boolean;
}

/** config.json key holding this package's own description of a fine-tuned model. */
export const FINETUNE_CONFIG_KEY = 'electra_native_finetune';

function numLabels(task: TaskSpec): number {
  return task.kind === 'regression' ? 1 : task.labels.length;
}

function validateTask(task: TaskSpec): void {
  const bad = (m: string) => new ElectraError('ERR_INVALID_ARGUMENT', `task ${JSON.stringify(task?.name)}: ${m}`);
  if (!task || typeof task.name !== 'string' || task.name === '') throw bad('a task needs a name');
  if (!['classification', 'regression', 'token'].includes(task.kind)) throw bad(`unknown kind '${String(task.kind)}'`);
  if (!Array.isArray(task.labels)) throw bad('labels must be an array');
  if (task.kind !== 'regression' && task.labels.length < 2) throw bad(`needs at least 2 labels, got ${task.labels.length}`);
  if (task.kind === 'regression' && task.labels.length !== 0) throw bad('a regression task has no labels');
  if (new Set(task.labels).size !== task.labels.length) throw bad('labels must be unique');
}

export class ClassifierModel {
  readonly config: Readonly<ClassifierConfig>;
  /** @internal The native model; the FinetuneTrainer drives it. */
  readonly native: NativeFinetuneModel;
  readonly device: Readonly<ResolvedDevice>;

  private constructor(config: ClassifierConfig, native: NativeFinetuneModel) {
    this.config = Object.freeze({ ...config });
    this.native = native;
    this.device = Object.freeze(toResolvedDevice(native.device() as Parameters<typeof toResolvedDevice>[0]));
  }

  /** A freshly initialised model (weights N(0, 0.02), as HF). */
  static create(config: ClassifierConfig, opts: ClassifierCreateOptions = {}): ClassifierModel {
    validateTask(config.task);
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `seed must be an integer >= 0, got ${seed}`);
    const e = config.encoder;
    const Native = loadNative().FinetuneModel;
    const native = createOnDevice(opts, (exec) =>
      new Native(
        {
          vocabSize: e.vocabSize,
          embeddingSize: e.embeddingSize,
          maxPosition: e.maxPosition,
          typeVocabSize: e.typeVocabSize,
          discriminator: e.discriminator,
          layerNormEps: e.layerNormEps,
          hiddenDropout: e.hiddenDropout,
          attentionDropout: e.attentionDropout,
          padId: e.padId,
          unkId: e.unkId,
          clsId: e.clsId,
          sepId: e.sepId,
          maskId: e.maskId,
          head: config.task.kind,
          numLabels: numLabels(config.task),
          ...(config.classifierDropout !== undefined ? { classifierDropout: config.classifierDropout } : {}),
        },
        exec,
      ),
    );
    try {
      native.initWeights(seed);
    } catch (e2) {
      throw toElectraError(e2);
    }
    return new ClassifierModel({ encoder: stripEncoder(e), task: config.task, classifierDropout: config.classifierDropout }, native);
  }

  /**
   * A model for `task` whose encoder comes from `source` and whose head is new:
   *  - a fine-tuned directory written by `save` (its head is kept when the task's labels match);
   *  - a pre-training run (its newest checkpoint) or checkpoint, or a directory `ElectraModel.save` wrote;
   *  - our HF export (`discriminator/` inside), or any HF ELECTRA directory saved with save_pretrained.
   */
  static async fromPretrained(source: string, task: TaskSpec, opts: ClassifierCreateOptions & { classifierDropout?: number } = {}): Promise<ClassifierModel> {
    validateTask(task);
    const dir = resolveSource(source);
    const cfgFile = path.join(dir, CONFIG_FILE);
    const raw = await readJson(cfgFile);
    let encoder: EncoderConfig;
    // An MLM run (objective 'mlm') has no discriminator: its encoder is the
    // masked-LM network, stored under generator.* names.
    let sourceName = (n: string): string => n;
    const saved = raw[FINETUNE_CONFIG_KEY] as ClassifierConfig | undefined;
    if (saved) {
      encoder = saved.encoder;
    } else if (raw.electra_native) {
      const native = raw.electra_native as ElectraConfig;
      if (native.objective === 'mlm') {
        encoder = stripEncoder({ ...native, discriminator: { ...native.generator } });
        sourceName = (n) => (n.startsWith('electra.embeddings.') ? n : n.replace(/^electra\./, 'generator.'));
      } else {
        encoder = stripEncoder(native);
      }
    } else {
      const hf = configFromHf(raw, cfgFile);
      encoder = stripEncoder({ ...bertIdsWithin(hf.vocabSize ?? 0), ...hf, ...specialIds(dir) } as ElectraConfig);
    }
    const model = ClassifierModel.create({ encoder, task, classifierDropout: opts.classifierDropout ?? saved?.classifierDropout }, opts);
    const sameHead = saved !== undefined && saved.task.kind === task.kind && JSON.stringify(saved.task.labels) === JSON.stringify(task.labels);
    await model.loadTensors(path.join(dir, MODEL_FILE), (n) => n.startsWith('electra.') || (sameHead && n.startsWith('classifier')), sourceName);
    return model;
  }

  /** Loads a fine-tuned model written by `save` (its own task and head). */
  static async load(dir: string, opts: ClassifierCreateOptions = {}): Promise<ClassifierModel> {
    const cfgFile = path.join(dir, CONFIG_FILE);
    const raw = await readJson(cfgFile);
    const saved = raw[FINETUNE_CONFIG_KEY] as ClassifierConfig | undefined;
    if (!saved || !saved.encoder || !saved.task) {
      throw new ElectraError('ERR_CORRUPT_FILE', `${cfgFile}: not a fine-tuned model (no '${FINETUNE_CONFIG_KEY}'); start one with \`finetune\``);
    }
    const model = ClassifierModel.create(saved, opts);
    await model.loadTensors(path.join(dir, MODEL_FILE), () => true);
    return model;
  }

  get numParameters(): number {
    return this.native.numParameters();
  }

  /** Logits per example (or per token) for `numLabels` outputs; 1 for regression. */
  get numLabels(): number {
    return numLabels(this.config.task);
  }

  tensorSpecs(): ClassifierTensorSpec[] {
    return this.native.tensorSpecs();
  }

  getTensor(name: string): Float32Array {
    try {
      return this.native.getTensor(name);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  setTensor(name: string, data: Float32Array): void {
    try {
      this.native.setTensor(name, data);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Logits of one batch, dropout off: [rows, numLabels], or [rows*seqLen, numLabels] for a token task. */
  async logits(batch: TokenBatch): Promise<Float32Array> {
    try {
      return await this.native.predict(batch);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Logits of every example, in batches of `batchSize`, concatenated in example order. */
  async predictLogits(ex: EncodedExamples, batchSize = 32): Promise<Float32Array> {
    checkExamples(ex, this.config.task, this.config.encoder.maxPosition);
    const perRow = (ex.kind === 'token' ? ex.seqLen : 1) * this.numLabels;
    const out = new Float32Array(ex.count * perRow);
    for (let r0 = 0; r0 < ex.count; r0 += batchSize) {
      const rows = Math.min(batchSize, ex.count - r0);
      const lo = r0 * ex.seqLen, hi = (r0 + rows) * ex.seqLen;
      const l = await this.logits({
        inputIds: ex.inputIds.subarray(lo, hi),
        tokenTypeIds: ex.tokenTypeIds.subarray(lo, hi),
        attentionMask: ex.attentionMask.subarray(lo, hi),
        rows,
        seqLen: ex.seqLen,
      });
      out.set(l, r0 * perRow);
    }
    return out;
  }

  /**
   * Predictions: the class index per example (classification), the value per
   * example (regression), or the tag index per token (token; [count*seqLen],
   * every position, padding included: score with the encoded labels).
   */
  async predict(ex: EncodedExamples, batchSize = 32): Promise<Int32Array | Float32Array> {
    const logits = await this.predictLogits(ex, batchSize);
    return this.config.task.kind === 'regression' ? logits : argmaxRows(logits, this.numLabels);
  }

  /**
   * Writes an HF transformers directory: model.safetensors (HF names),
   * config.json (ElectraForSequenceClassification or ElectraForTokenClassification,
   * id2label/label2id, problem_type, and this package's config) and, given the
   * vocabulary, the tokenizer files. Every file is written atomically.
   */
  async save(dir: string, opts: ClassifierSaveOptions = {}): Promise<void> {
    await fs.promises.mkdir(dir, { recursive: true });
    let tensors: TensorToWrite[];
    try {
      tensors = this.tensorSpecs().map((s) => ({ name: s.name, shape: s.shape, data: this.native.getTensor(s.name) }));
    } catch (e) {
      throw toElectraError(e);
    }
    await writeFileAtomic(path.join(dir, MODEL_FILE), serializeSafetensors(tensors, { format: 'pt', electra_native: '1' }));
    await writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify(this.hfConfig(), null, 2) + '\n');
    if (opts.vocab) {
      if (opts.vocab.length !== this.config.encoder.vocabSize) {
        throw new ElectraError('ERR_INVALID_ARGUMENT', `the vocabulary has ${opts.vocab.length} tokens but the model expects ${this.config.encoder.vocabSize}`);
      }
      await writeTokenizerFiles(dir, opts.vocab, opts.lowercase ?? true, this.config.encoder.maxPosition);
    }
  }

  /** The HF config.json of this model. */
  hfConfig(): Record<string, unknown> {
    const { encoder, task, classifierDropout } = this.config;
    const base = hfConfig({ ...encoder, generator: encoder.discriminator, objective: 'electra' } as ElectraConfig, 'discriminator');
    const names = task.kind === 'regression' ? ['LABEL_0'] : task.labels;
    return {
      ...base,
      architectures: [task.kind === 'token' ? 'ElectraForTokenClassification' : 'ElectraForSequenceClassification'],
      finetuning_task: task.name,
      num_labels: names.length,
      id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
      label2id: Object.fromEntries(names.map((n, i) => [n, i])),
      ...(task.kind === 'token' ? {} : { problem_type: task.kind === 'regression' ? 'regression' : 'single_label_classification' }),
      classifier_dropout: classifierDropout ?? null,
      torch_dtype: 'float32',
      [FINETUNE_CONFIG_KEY]: { encoder, task, ...(classifierDropout !== undefined ? { classifierDropout } : {}) },
    };
  }

  /** Reads the tensors `want` selects from a safetensors file; every selected table tensor must be there. */
  /** Sets every wanted tensor from `file`, where tensor `name` is stored as `sourceName(name)`. */
  private async loadTensors(file: string, want: (name: string) => boolean, sourceName: (name: string) => string = (n) => n): Promise<void> {
    const st = parseSafetensors(await readFileChecked(file), file);
    const seen = new Set<string>();
    for (const s of this.tensorSpecs()) {
      if (!want(s.name)) continue;
      const stored = sourceName(s.name);
      const t = st.tensors.get(stored);
      if (!t) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${stored}' is missing`);
      if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
        throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${stored}' has shape [${t.shape.join(', ')}], but the config needs [${s.shape.join(', ')}]`);
      }
      const data = toFloat32(t, file, s.name);
      if (!data.every(Number.isFinite)) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${s.name}' contains non-finite values`);
      this.setTensor(s.name, data);
      seen.add(s.name);
    }
    if (seen.size === 0) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: no tensor of this model`);
  }
}

/** Row-wise argmax of logits [rows, n] (ties: the lowest index, as the native loss). */
export function argmaxRows(logits: Float32Array, n: number): Int32Array {
  const rows = logits.length / n;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let j = 1; j < n; j++) if (logits[r * n + j] > logits[r * n + best]) best = j;
    out[r] = best;
  }
  return out;
}

/** Checks that encoded examples fit the task and the model; ERR_INVALID_ARGUMENT otherwise. */
export function checkExamples(ex: EncodedExamples, task: TaskSpec, maxPosition: number): void {
  const bad = (m: string) => new ElectraError('ERR_INVALID_ARGUMENT', `examples for task '${task.name}': ${m}`);
  if (ex.kind !== task.kind) throw bad(`they are ${ex.kind} examples, the model's task is ${task.kind}`);
  if (!Number.isInteger(ex.count) || ex.count < 1) throw bad(`count must be >= 1, got ${ex.count}`);
  if (!Number.isInteger(ex.seqLen) || ex.seqLen < 2) throw bad(`seqLen must be >= 2, got ${ex.seqLen}`);
  if (ex.seqLen > maxPosition) throw bad(`seqLen ${ex.seqLen} exceeds the model's ${maxPosition} positions`);
  const n = ex.count * ex.seqLen;
  for (const k of ['inputIds', 'tokenTypeIds', 'attentionMask'] as const) {
    if (!(ex[k] instanceof Int32Array) || ex[k].length !== n) throw bad(`${k} must be an Int32Array of count*seqLen = ${n}`);
  }
  const want = ex.kind === 'token' ? n : ex.count;
  if (ex.labels.length !== want) throw bad(`labels has ${ex.labels.length} entries, expected ${want}`);
  if ((ex.kind === 'regression') !== ex.labels instanceof Float32Array) {
    throw bad(ex.kind === 'regression' ? 'regression labels must be a Float32Array' : 'labels must be an Int32Array');
  }
}

function stripEncoder(c: ElectraConfig | EncoderConfig): EncoderConfig {
  return {
    vocabSize: c.vocabSize,
    embeddingSize: c.embeddingSize,
    maxPosition: c.maxPosition,
    typeVocabSize: c.typeVocabSize,
    discriminator: { ...c.discriminator },
    layerNormEps: c.layerNormEps,
    hiddenDropout: c.hiddenDropout,
    attentionDropout: c.attentionDropout,
    padId: c.padId,
    unkId: c.unkId,
    clsId: c.clsId,
    sepId: c.sepId,
    maskId: c.maskId,
  };
}

/**
 * BERT's special ids, for an HF directory without vocab.txt; a vocabulary too
 * small for them (test models) gets the last id instead: fine-tuning never
 * reads them (they matter for masking in pre-training only).
 */
function bertIdsWithin(vocabSize: number): Partial<EncoderConfig> {
  const clamp = (x: number) => Math.max(0, Math.min(vocabSize - 1, x));
  return { padId: 0, unkId: clamp(BERT_SPECIAL_IDS.unkId), clsId: clamp(BERT_SPECIAL_IDS.clsId), sepId: clamp(BERT_SPECIAL_IDS.sepId), maskId: clamp(BERT_SPECIAL_IDS.maskId) };
}

/** The directory holding config.json + model.safetensors for a source path. */
export function resolveSource(source: string): string {
  if (!fs.existsSync(source)) throw new ElectraError('ERR_IO', `${source}: no such file or directory`);
  if (fs.existsSync(path.join(source, CONFIG_FILE)) && fs.existsSync(path.join(source, MODEL_FILE))) return source;
  const disc = path.join(source, 'discriminator');
  if (fs.existsSync(path.join(disc, CONFIG_FILE)) && fs.existsSync(path.join(disc, MODEL_FILE))) return disc;
  const ckpt = CheckpointManager.latest(source);
  if (ckpt && fs.existsSync(path.join(ckpt, CONFIG_FILE))) return ckpt;
  throw new ElectraError(
    'ERR_IO',
    `${source}: not a model: expected ${CONFIG_FILE} + ${MODEL_FILE}, an HF export (discriminator/), or a run with checkpoints`,
  );
}
