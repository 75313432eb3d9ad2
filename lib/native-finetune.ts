/**
 * Hand-written types of the addon's `FinetuneModel` class
 * (native/addon/finetune_wrap.cpp). Keep in step with the C++.
 */
import type { NativeBatch, NativeTrainConfig } from './native-model';

/** What the native head computes (TaskKind of finetune/task.ts). */
export type NativeHeadKind = 'classification' | 'regression' | 'token';

/** The encoder (embeddings + discriminator) and the head of a fine-tuning model. */
export interface NativeFinetuneConfig {
  vocabSize: number;
  embeddingSize: number;
  maxPosition: number;
  typeVocabSize: number;
  discriminator: { hidden: number; layers: number; heads: number; intermediate: number };
  layerNormEps: number;
  hiddenDropout: number;
  attentionDropout: number;
  padId: number;
  unkId: number;
  clsId: number;
  sepId: number;
  maskId: number;
  head: NativeHeadKind;
  /** Classes (or tags); 1 for regression. */
  numLabels: number;
  /** Dropout inside the head; absent or < 0: hiddenDropout (HF classifier_dropout None). */
  classifierDropout?: number;
}

/** A tensor of the fine-tuning model, with its layer-wise learning-rate multiplier. */
export interface NativeFinetuneTensorSpec {
  name: string;
  shape: number[];
  decay: boolean;
  lrScale: number;
}

export interface NativeFinetuneMetrics {
  /** Mean loss over the counted examples (or labelled tokens). */
  loss: number;
  counted: number;
  /** argmax == label (classification and token heads). */
  correct: number;
  gradNorm: number;
  lr: number;
  logits?: Float32Array;
}

export interface NativeFinetuneModel {
  numParameters(): number;
  tensorSpecs(): NativeFinetuneTensorSpec[];
  getTensor(name: string, kind?: 'params' | 'grads' | 'm' | 'v'): Float32Array;
  setTensor(name: string, data: Float32Array, kind?: 'params' | 'grads' | 'm' | 'v'): void;
  initWeights(seed: number): void;
  /** Sets every tensor's learning-rate scale from the layer-wise decay (0, 1]. */
  setLayerDecay(decay: number): void;
  /** labels: Int32Array (class per row, or tag per token with -1 ignored), Float32Array for regression. */
  trainStep(
    batch: NativeBatch,
    labels: Int32Array | Float32Array,
    train: Pick<NativeTrainConfig, 'batch' | 'seqLen' | 'lr' | 'totalSteps'> & Partial<NativeTrainConfig>,
    step: number,
    opts?: { applyUpdate?: boolean; returnLogits?: boolean },
  ): Promise<NativeFinetuneMetrics>;
  /** Logits [rows, numLabels] (token head: [rows*seqLen, numLabels]), dropout off. */
  predict(batch: NativeBatch): Promise<Float32Array>;
  device(): { backend: string; device: number; precision: string; description: string };
}

export type NativeFinetuneModelConstructor = new (config: NativeFinetuneConfig, exec?: unknown) => NativeFinetuneModel;
