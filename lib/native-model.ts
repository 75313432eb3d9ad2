/**
 * Hand-written types of the addon's `Model` class (native/addon/model_wrap.cpp).
 * Kept beside native.ts, which loads the addon; keep both in step with the C++.
 */

/** The native side of ElectraConfig (same field names; see config.ts). */
export interface NativeModelConfig {
  vocabSize: number;
  embeddingSize: number;
  maxPosition: number;
  typeVocabSize: number;
  discriminator?: { hidden: number; layers: number; heads: number; intermediate: number };
  generator: { hidden: number; layers: number; heads: number; intermediate: number };
  layerNormEps: number;
  hiddenDropout: number;
  attentionDropout: number;
  objective: 'electra' | 'mlm';
  padId: number;
  unkId: number;
  clsId: number;
  sepId: number;
  maskId: number;
}

/** Hyper-parameters of one native training step. */
export interface NativeTrainConfig {
  batch: number;
  seqLen: number;
  maskProb: number;
  discWeight: number;
  temperature: number;
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  clipNorm: number;
  biasCorrection: boolean;
  gradAccum: number;
  seed: number;
  /** Loss-spike guard ('skip'): a step whose loss exceeds this (> 0) applies no update. 0 / absent: off. */
  skipAboveLoss?: number;
  /** 'reference': the ELECTRA reference's masking (draws with replacement); 'exact': exactly round(p x candidates) distinct positions. */
  masking: MaskingMode;
}

/** How positions are chosen for masking (see core/masking.h). */
export type MaskingMode = 'reference' | 'exact';

/** What configSchema() returns: defaults of every field (config_table.h), in declaration order. */
export interface NativeConfigSchema {
  model: Omit<NativeModelConfig, 'discriminator' | 'generator'>;
  encoder: { hidden: number; layers: number; heads: number; intermediate: number };
  train: NativeTrainConfig;
  /** The native step's scalar metrics, each with its initial value 0. */
  metrics: Record<string, number>;
}

/** Token ids of `rows` sequences of `seqLen`, row-major. */
export interface NativeBatch {
  inputIds: Int32Array;
  tokenTypeIds?: Int32Array;
  attentionMask?: Int32Array;
  rows: number;
  seqLen: number;
}

/** Test hook: fixes the random parts of a step (see StepOverrides in electra_model.h). */
export interface NativeStepOverrides {
  maskedPositions: Int32Array;
  generatorInputIds: Int32Array;
  sampledIds: Int32Array;
  /** false: compute losses and gradients only. */
  applyUpdate?: boolean;
  returnLogits?: boolean;
}

export interface NativeStepMetrics {
  loss: number;
  genLoss: number;
  discLoss: number;
  discCandidateLoss: number;
  genAccuracy: number;
  discAccuracy: number;
  discPrecision: number;
  discRecall: number;
  replacedFraction: number;
  gradNorm: number;
  lr: number;
  maskedTokens: number;
  tokens: number;
  replacedTokens: number;
  candidateTokens: number;
  /** Counts of candidate tokens' discriminator logits in fixed ascending bins (auc_bin in electra_model.h): replaced tokens. */
  discHistReplaced: Float64Array;
  /** The same for original (not replaced) tokens. */
  discHistOriginal: Float64Array;
  /** The step's loss exceeded skipAboveLoss: no update was applied. */
  skipped?: boolean;
  genLogits?: Float32Array;
  discLogits?: Float32Array;
}

export interface NativeTensorSpec {
  name: string;
  shape: number[];
  /** AdamW weight decay applies. */
  decay: boolean;
}

export type NativeBufferKind = 'params' | 'grads' | 'm' | 'v';

/** The Model constructor's second argument: where the model lives (validated by the addon). */
export interface NativeExecOptions {
  /** Default 'cpu'. */
  backend?: 'cpu' | 'cuda';
  /** CUDA device ordinal, an integer >= 0 (default 0; ignored on the CPU). */
  device?: number;
  /** Default: 'bf16' on CUDA, 'fp32' on the CPU ('bf16' there is ERR_INVALID_ARGUMENT). */
  precision?: 'fp32' | 'bf16';
}

/** What device() reports. */
export interface NativeDeviceInfo {
  backend: 'cpu' | 'cuda';
  /** CUDA ordinal (0 on the CPU). */
  device: number;
  precision: 'fp32' | 'bf16';
  /** The backend's description: "cpu", or e.g. "cuda:0 (NVIDIA H100 80GB HBM3, sm_90, bf16)". */
  description: string;
}

/** What memory() reports: bytes the backend holds (device memory on CUDA). */
export interface NativeMemoryInfo {
  bytesInUse: number;
  /** The most held at once since the model was created. */
  peakBytes: number;
}

export interface NativeModel {
  /** Where the model lives. */
  device(): NativeDeviceInfo;
  /** The backend's memory use; ERR_BUSY while an operation runs. */
  memory(): NativeMemoryInfo;
  /** Bytes a training step on rows x seq micro-batches may still make the backend allocate beyond the activations (0 on the CPU). */
  stepWorkspaceBytes(rows: number, seq: number): number;
  /** Floats of attention state an encoder layer of that shape keeps for the backward on this backend (rows*heads*seq*seq, or rows*heads*seq where it recomputes the probabilities). */
  attentionSavedFloats(rows: number, seq: number, heads: number, headDim: number): number;
  /** Whether an encoder of that hidden and intermediate width keeps its GELU output as bf16 on this backend (CUDA in bf16). */
  ffnGeluBf16(hidden: number, intermediate: number): boolean;
  /** Whether an encoder keeps its attention q, k, v as bf16 at that sequence length and head shape on this backend (CUDA in bf16, where its tensor-core attention runs). */
  attentionQkvBf16(seq: number, heads: number, headDim: number): boolean;
  numParameters(): number;
  tensorSpecs(): NativeTensorSpec[];
  getTensor(name: string, kind?: NativeBufferKind): Float32Array;
  setTensor(name: string, data: Float32Array, kind?: NativeBufferKind): void;
  initWeights(seed: number): void;
  trainStep(batch: NativeBatch, train: NativeTrainConfig, step: number, overrides?: NativeStepOverrides): Promise<NativeStepMetrics>;
  /**
   * The same training step without its metrics: resolves once the step is
   * enqueued (CUDA: the device may still be running it, so the next step's
   * host work overlaps it; whatever reads the model waits for it) or done (CPU).
   * A non-finite loss is not reported (the device skips such an update as always).
   */
  enqueueStep(batch: NativeBatch, train: NativeTrainConfig, step: number): Promise<void>;
  discriminate(batch: NativeBatch): Promise<Float32Array>;
  /** Forward-only step (dropout off, no update) at Philox index `index`. */
  evaluate(batch: NativeBatch, train: NativeTrainConfig, index: number): Promise<NativeStepMetrics>;
  /** Generator logits [positions.length * vocabSize] at flat positions b*seqLen+s. */
  generatorLogits(batch: NativeBatch, positions: Int32Array): Promise<Float32Array>;
  /** Frees all native memory now; ERR_BUSY while an operation runs; later calls (but isDisposed) are ERR_INVALID_ARGUMENT. */
  dispose(): void;
  isDisposed(): boolean;
}

export interface NativeModelConstructor {
  /** ERR_NO_DEVICE / ERR_DEVICE / ERR_OUT_OF_MEMORY when the backend cannot be created. */
  new (config: NativeModelConfig, options?: NativeExecOptions): NativeModel;
}
