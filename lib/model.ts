/**
 * ElectraModel: a generator/discriminator pair whose parameters, gradients and
 * optimizer state live natively. Save/load use safetensors with HF tensor names.
 */
import * as fs from 'fs';
import * as path from 'path';

import { verifyCheckpoint } from './checkpoint-manifest';
import { ConfigOptions, ElectraConfig, electraConfig, validateConfig } from './config';
import { createOnDevice, DeviceOptions, parseDevice, parsePrecision, ResolvedDevice, toResolvedDevice } from './device';
import { ElectraError, toElectraError } from './errors';
import { readFileChecked, writeFileAtomic } from './io/atomic';
import type { FileDigest } from './io/checksum';
import { parseSafetensors, serializeSafetensors, toFloat32, TensorToWrite } from './io/safetensors';
import { loadNative } from './native';
import type { NativeBatch, NativeMemoryInfo, NativeModel, NativeTensorSpec } from './native-model';

/** A named tensor of the model: HF name, shape, and whether AdamW decays it. */
export type TensorSpec = NativeTensorSpec;

/** Token ids for inference or training: `rows` sequences of `seqLen`, row-major. */
export type TokenBatch = NativeBatch;

/** Bytes a model's backend holds now and at most (device memory on CUDA). */
export type MemoryInfo = NativeMemoryInfo;

/** Options of ElectraModel.create. */
export interface CreateOptions extends DeviceOptions {
  /** Seeds the weight initialisation (default 0). */
  seed?: number;
}

export const MODEL_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';

/** The native config of an ElectraConfig (drops the discriminator for 'mlm'). */
function nativeConfig(c: ElectraConfig) {
  return { ...c, discriminator: c.objective === 'electra' ? c.discriminator : undefined };
}

/** HF `config.json` fields for one encoder of this model. */
export function hfConfig(c: ElectraConfig, which: 'discriminator' | 'generator'): Record<string, unknown> {
  const e = which === 'discriminator' ? c.discriminator : c.generator;
  return {
    model_type: 'electra',
    architectures: [which === 'discriminator' ? 'ElectraForPreTraining' : 'ElectraForMaskedLM'],
    vocab_size: c.vocabSize,
    embedding_size: c.embeddingSize,
    hidden_size: e.hidden,
    num_hidden_layers: e.layers,
    num_attention_heads: e.heads,
    intermediate_size: e.intermediate,
    hidden_act: 'gelu',
    hidden_dropout_prob: c.hiddenDropout,
    attention_probs_dropout_prob: c.attentionDropout,
    max_position_embeddings: c.maxPosition,
    type_vocab_size: c.typeVocabSize,
    initializer_range: 0.02,
    layer_norm_eps: c.layerNormEps,
    pad_token_id: c.padId,
    position_embedding_type: 'absolute',
    summary_type: 'first',
    summary_use_proj: true,
    summary_activation: 'gelu',
    summary_last_dropout: 0.1,
    tie_word_embeddings: true,
  };
}

export class ElectraModel {
  /** The architecture (validated, frozen). */
  readonly config: Readonly<ElectraConfig>;
  private readonly handle: NativeModel;
  private disposed = false;
  /** Where the model lives and computes: {backend: 'cpu', ...} or {backend: 'cuda', index, precision, description}. */
  readonly device: Readonly<ResolvedDevice>;

  private constructor(config: ElectraConfig, native: NativeModel) {
    this.config = Object.freeze({ ...config });
    this.handle = native;
    let dev: ResolvedDevice;
    try {
      dev = toResolvedDevice(native.device());
    } catch (e) {
      throw toElectraError(e);
    }
    this.device = Object.freeze(dev);
  }

  /**
   * A freshly initialised model (weights N(0, 0.02), as HF) on `opts.device`
   * ('auto' by default: a usable GPU, else the CPU; see device.ts) in
   * `opts.precision` ('bf16' by default on CUDA, 'fp32' on the CPU).
   */
  static create(config: ElectraConfig | ConfigOptions = {}, opts: CreateOptions = {}): ElectraModel {
    const cfg = 'discriminator' in config && 'generator' in config && 'vocabSize' in config && typeof (config as ElectraConfig).discriminator.hidden === 'number'
      ? (config as ElectraConfig)
      : electraConfig(config as ConfigOptions);
    validateConfig(cfg);
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `seed must be an integer >= 0, got ${seed}`);
    const Native = loadNative().Model;
    const native = createOnDevice(opts, (exec) => new Native(nativeConfig(cfg), exec));
    try {
      native.initWeights(seed);
    } catch (e) {
      throw toElectraError(e);
    }
    return new ElectraModel(cfg, native);
  }

  /** @internal The native model; the Trainer drives it. ERR_INVALID_ARGUMENT after dispose(). */
  get native(): NativeModel {
    if (this.disposed) throw new ElectraError('ERR_INVALID_ARGUMENT', 'this ElectraModel was disposed; create or load a new one');
    return this.handle;
  }

  /** True once dispose() ran. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /**
   * Frees the native memory (parameters, gradients, optimizer moments,
   * activations; device memory on CUDA) now rather than whenever the garbage
   * collector runs. Any later use of the model is ERR_INVALID_ARGUMENT; a
   * second dispose() does nothing. ERR_BUSY while a step or inference runs.
   */
  dispose(): void {
    if (this.disposed) return;
    try {
      this.handle.dispose();
    } catch (e) {
      throw toElectraError(e);
    }
    this.disposed = true;
  }

  /** `using model = ElectraModel.create(...)` disposes it at the end of the scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Bytes the model's backend holds now and at most so far (device memory on CUDA, the backend's allocations on the CPU). */
  memory(): MemoryInfo {
    try {
      return this.native.memory();
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /**
   * At most how many bytes a training step on micro-batches of `batchSize` x
   * `seqLen` may still make the backend allocate beyond the model's buffers
   * and activations: CUDA's split-K and reduction workspaces and AdamW decay
   * mask, grown on first use. 0 on the CPU. The memory plan adds it.
   */
  stepWorkspaceBytes(batchSize: number, seqLen: number): number {
    try {
      return this.native.stepWorkspaceBytes(batchSize, seqLen);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /**
   * Floats of attention state one encoder layer with `heads` heads of
   * `headDim` keeps for the backward at `batchSize` x `seqLen` on this
   * model's backend, as it allocates them: the probabilities
   * (batch*heads*seq*seq) on the CPU and in fp32 on CUDA, one float per query
   * row (batch*heads*seq) where CUDA's bf16 tensor-core attention recomputes
   * them. The memory plan counts it.
   */
  attentionSavedFloats(batchSize: number, seqLen: number, heads: number, headDim: number): number {
    try {
      return this.native.attentionSavedFloats(batchSize, seqLen, heads, headDim);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /**
   * Whether an encoder of width `hidden` and FFN width `intermediate` keeps
   * its GELU output (batch*seq*intermediate) as bf16 on this model's backend:
   * CUDA in bf16, whose GEMMs round it to bf16 anyway; fp32 elsewhere. The
   * memory plan counts it.
   */
  ffnGeluBf16(hidden: number, intermediate: number): boolean {
    try {
      return this.native.ffnGeluBf16(hidden, intermediate);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /**
   * Whether an encoder with `heads` heads of `headDim` keeps its attention
   * q, k, v (batch*seq*hidden each) as bf16 at `seqLen` on this model's
   * backend: CUDA in bf16 where its tensor-core attention runs, which rounds
   * them to bf16 anyway; fp32 elsewhere. The memory plan counts it.
   */
  attentionQkvBf16(seqLen: number, heads: number, headDim: number): boolean {
    try {
      return this.native.attentionQkvBf16(seqLen, heads, headDim);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Number of trainable scalars (shared embeddings counted once). */
  get numParameters(): number {
    return this.native.numParameters();
  }

  /** Every tensor, in buffer order, with HF names. */
  tensorSpecs(): TensorSpec[] {
    return this.native.tensorSpecs();
  }

  /** A copy of one parameter tensor. */
  getTensor(name: string): Float32Array {
    try {
      return this.native.getTensor(name);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Overwrites one parameter tensor (same number of elements, finite values). */
  setTensor(name: string, data: Float32Array): void {
    try {
      this.native.setTensor(name, data);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Discriminator logits ("replaced" when > 0) for every token, dropout off. */
  async discriminate(batch: TokenBatch): Promise<Float32Array> {
    try {
      return await this.native.discriminate(batch);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Generator (masked LM) logits at flat positions b*seqLen+s: [positions.length * vocabSize], dropout off. */
  async generatorLogits(batch: TokenBatch, positions: Int32Array): Promise<Float32Array> {
    try {
      return await this.native.generatorLogits(batch, positions);
    } catch (e) {
      throw toElectraError(e);
    }
  }

  /** Writes `dir/model.safetensors` (all tensors, HF names) and `dir/config.json`, each atomically; returns their digests. */
  async save(dir: string): Promise<Record<string, FileDigest>> {
    await fs.promises.mkdir(dir, { recursive: true });
    let tensors: TensorToWrite[];
    try {
      tensors = this.tensorSpecs().map((s) => ({ name: s.name, shape: s.shape, data: this.native.getTensor(s.name) }));
    } catch (e) {
      throw toElectraError(e);
    }
    const model = await writeFileAtomic(path.join(dir, MODEL_FILE), serializeSafetensors(tensors, { format: 'pt', electra_native: '1' }));
    const config = { ...hfConfig(this.config as ElectraConfig, 'discriminator'), electra_native: this.config };
    return { [MODEL_FILE]: model, [CONFIG_FILE]: await writeFileAtomic(path.join(dir, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n') };
  }

  /**
   * Loads a model from:
   *  - a directory written by `save` (model.safetensors + config.json);
   *  - an HF pair `dir/discriminator` + `dir/generator` (save_pretrained, safetensors), as `export` writes;
   *  - a single HF ElectraForPreTraining directory: the generator is then freshly initialised (seed 0).
   */
  static async load(dir: string, opts: LoadOptions = {}): Promise<ElectraModel> {
    // Bad device options fail before any file is read.
    parseDevice(opts.device === undefined ? 'auto' : opts.device);
    parsePrecision(opts.precision);
    // A checkpoint with a manifest is verified (sizes and CRC-32C) before anything is read from it.
    await verifyCheckpoint(dir);
    const cfgFile = path.join(dir, CONFIG_FILE);
    if (fs.existsSync(cfgFile)) {
      const raw = await readJson(cfgFile);
      if (raw.electra_native) {
        const cfg = raw.electra_native as ElectraConfig;
        try {
          validateConfig(cfg);
        } catch (e) {
          throw new ElectraError('ERR_CORRUPT_FILE', `${cfgFile}: ${(e as Error).message}`);
        }
        const model = ElectraModel.create(cfg, opts);
        await model.loadTensors(path.join(dir, MODEL_FILE), (n) => n, true);
        return model;
      }
      // A single HF discriminator directory.
      const disc = configFromHf(raw, cfgFile);
      const cfg = electraConfig({ ...disc, ...specialIds(dir), ...opts.specialIds, generatorFraction: opts.generatorFraction ?? 0.25 });
      const model = ElectraModel.create(cfg, opts);
      await model.loadTensors(path.join(dir, MODEL_FILE), (n) => n, false, (n) => !n.startsWith('generator'));
      return model;
    }
    const dDir = path.join(dir, 'discriminator');
    const gDir = path.join(dir, 'generator');
    if (fs.existsSync(path.join(dDir, CONFIG_FILE)) && fs.existsSync(path.join(gDir, CONFIG_FILE))) {
      const d = configFromHf(await readJson(path.join(dDir, CONFIG_FILE)), path.join(dDir, CONFIG_FILE));
      const g = configFromHf(await readJson(path.join(gDir, CONFIG_FILE)), path.join(gDir, CONFIG_FILE));
      const cfg = electraConfig({ ...d, generator: g.discriminator, ...specialIds(dDir), ...opts.specialIds });
      const model = ElectraModel.create(cfg, opts);
      await model.loadTensors(path.join(dDir, MODEL_FILE), (n) => n, false, (n) => !n.startsWith('generator'));
      await model.loadTensors(path.join(gDir, MODEL_FILE), hfGeneratorName, false, (n) => n.startsWith('generator'));
      return model;
    }
    throw new ElectraError('ERR_IO', `${dir}: no ${CONFIG_FILE}, and no discriminator/ and generator/ HF directories`);
  }

  /**
   * Reads tensors from a safetensors file into the model. `rename` maps a file
   * name to a table name (null: ignore); `expect` selects which table tensors
   * this file must provide. With `strict`, unknown tensors are an error.
   */
  private async loadTensors(
    file: string,
    rename: (n: string) => string | null,
    strict: boolean,
    expect: (n: string) => boolean = () => true,
  ): Promise<void> {
    const st = parseSafetensors(await readFileChecked(file), file);
    const specs = new Map(this.tensorSpecs().map((s) => [s.name, s]));
    const seen = new Set<string>();
    for (const [fileName, t] of st.tensors) {
      const name = rename(fileName);
      if (name === null || name.endsWith('position_ids')) continue;
      const spec = specs.get(name);
      if (!spec) {
        if (strict) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${fileName}' is not part of this model`);
        continue;
      }
      if (t.shape.length !== spec.shape.length || t.shape.some((d, i) => d !== spec.shape[i])) {
        throw new ElectraError(
          'ERR_CORRUPT_FILE',
          `${file}: tensor '${fileName}' has shape [${t.shape.join(', ')}], but the config needs [${spec.shape.join(', ')}]`,
        );
      }
      const data = toFloat32(t, file, fileName);
      if (!data.every(Number.isFinite)) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${fileName}' contains non-finite values`);
      try {
        this.native.setTensor(name, data);
      } catch (e) {
        throw toElectraError(e);
      }
      seen.add(name);
    }
    for (const name of specs.keys()) {
      if (expect(name) && !seen.has(name)) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${name}' is missing`);
    }
  }
}

/** Options of ElectraModel.load: the device options of create, and: */
export interface LoadOptions extends DeviceOptions {
  /** Seeds the initialisation of anything the files do not provide (default 0). */
  seed?: number;
  /** For a lone discriminator directory: the new generator's width fraction (default 0.25). */
  generatorFraction?: number;
  /** Special token ids, when the directory has no vocab.txt and the vocabulary is not BERT's. */
  specialIds?: Partial<Pick<ElectraConfig, 'padId' | 'unkId' | 'clsId' | 'sepId' | 'maskId'>>;
}

/** Special token ids from `dir/vocab.txt` (one token per line), when there is one. */
export function specialIds(dir: string): Partial<ElectraConfig> {
  const file = path.join(dir, 'vocab.txt');
  if (!fs.existsSync(file)) return {};
  const ids = new Map(fs.readFileSync(file, 'utf8').split('\n').map((t, i) => [t.replace(/\r$/, ''), i]));
  const out: Partial<ElectraConfig> = {};
  for (const [key, tok] of [['padId', '[PAD]'], ['unkId', '[UNK]'], ['clsId', '[CLS]'], ['sepId', '[SEP]'], ['maskId', '[MASK]']] as const) {
    const id = ids.get(tok);
    if (id !== undefined) out[key] = id;
  }
  return out;
}

/** HF generator-directory names -> this model's table names. */
export function hfGeneratorName(n: string): string | null {
  if (n === 'generator_lm_head.weight') return null; // tied to the word embeddings
  if (n.startsWith('electra.embeddings.')) return null; // shared: the discriminator's copy is used
  if (n.startsWith('electra.')) return 'generator.' + n.slice('electra.'.length);
  return n;
}

export async function readJson(file: string): Promise<Record<string, unknown>> {
  const buf = await readFileChecked(file);
  try {
    const v = JSON.parse(buf.toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: malformed JSON: ${(e as Error).message}`);
  }
}

/** Reads an HF ELECTRA config.json into config options (its encoder as `discriminator`). */
export function configFromHf(raw: Record<string, unknown>, file: string): ConfigOptions & { discriminator: ElectraConfig['discriminator'] } {
  const num = (k: string, def?: number): number => {
    const v = raw[k];
    if (v === undefined && def !== undefined) return def;
    if (typeof v !== 'number') throw new ElectraError('ERR_CORRUPT_FILE', `${file}: ${k} is missing or not a number`);
    return v;
  };
  if (raw.model_type !== undefined && raw.model_type !== 'electra') {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: model_type is '${String(raw.model_type)}', expected 'electra'`);
  }
  if (raw.hidden_act !== undefined && raw.hidden_act !== 'gelu') {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: hidden_act '${String(raw.hidden_act)}' is not supported (only 'gelu')`);
  }
  const hidden = num('hidden_size');
  return {
    vocabSize: num('vocab_size'),
    embeddingSize: num('embedding_size', hidden),
    maxPosition: num('max_position_embeddings', 512),
    typeVocabSize: num('type_vocab_size', 2),
    layerNormEps: num('layer_norm_eps', 1e-12),
    hiddenDropout: num('hidden_dropout_prob', 0.1),
    attentionDropout: num('attention_probs_dropout_prob', 0.1),
    padId: num('pad_token_id', 0),
    discriminator: { hidden, layers: num('num_hidden_layers'), heads: num('num_attention_heads'), intermediate: num('intermediate_size') },
  };
}
