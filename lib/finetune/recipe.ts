/**
 * The ELECTRA paper's fine-tuning recipe (its appendix, "Fine-tuning details"),
 * declared once: the trainer, the CLI's defaults and --help read it from here.
 */
import { ElectraError } from '../errors';

/** Every hyper-parameter of a fine-tuning run. */
export interface FinetuneHyperParameters {
  /** Peak learning rate (the head's and the top layer's). */
  lr: number;
  /** Layer-wise learning-rate decay: layer i of L gets decay^(L-1-i), the embeddings decay^L (1: off). */
  layerDecay: number;
  /** Fraction of the steps spent in linear warm-up; then linear decay to 0. */
  warmupFraction: number;
  weightDecay: number;
  batchSize: number;
  /** Passes over the training set. */
  epochs: number;
  /** Clip the global gradient norm to this (<= 0: off). */
  clipNorm: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Tokens per example, [CLS] and [SEP] included. */
  seqLen: number;
  /** Seeds shuffling and dropout. */
  seed: number;
}

/** The recipe's size classes, picked by the encoder's hidden width. */
export type RecipeSize = 'small' | 'base' | 'large';

/** Learning rate and layer-wise decay per size (ELECTRA paper, Table 7). */
export const FINETUNE_RECIPES: Readonly<Record<RecipeSize, { lr: number; layerDecay: number }>> = {
  small: { lr: 3e-4, layerDecay: 0.8 },
  base: { lr: 1e-4, layerDecay: 0.8 },
  large: { lr: 5e-5, layerDecay: 0.9 },
};

/** What every size shares. */
export const FINETUNE_DEFAULTS = {
  warmupFraction: 0.1,
  weightDecay: 0.01,
  batchSize: 32,
  epochs: 3,
  /** Epochs for small training sets (fewer than SMALL_TASK_EXAMPLES examples: CoLA, MRPC, STS-B, RTE, WNLI). */
  smallTaskEpochs: 10,
  clipNorm: 1.0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-6,
  seqLen: 128,
  seed: 0,
} as const;

/** Training sets smaller than this count as small tasks (10 epochs instead of 3). */
export const SMALL_TASK_EXAMPLES = 10_000;

/** Small up to hidden 256 (tiny included), base up to 768, large above. */
export function recipeSize(hidden: number): RecipeSize {
  return hidden <= 256 ? 'small' : hidden <= 768 ? 'base' : 'large';
}

/**
 * The recipe for an encoder of width `hidden` and `trainExamples` training
 * examples, with `overrides` applied field by field (each checked).
 */
export function finetuneRecipe(hidden: number, trainExamples: number, overrides: Partial<FinetuneHyperParameters> = {}): FinetuneHyperParameters {
  const size = FINETUNE_RECIPES[recipeSize(hidden)];
  const d = FINETUNE_DEFAULTS;
  const hp: FinetuneHyperParameters = {
    lr: size.lr,
    layerDecay: size.layerDecay,
    warmupFraction: d.warmupFraction,
    weightDecay: d.weightDecay,
    batchSize: d.batchSize,
    epochs: trainExamples < SMALL_TASK_EXAMPLES ? d.smallTaskEpochs : d.epochs,
    clipNorm: d.clipNorm,
    beta1: d.beta1,
    beta2: d.beta2,
    eps: d.eps,
    seqLen: d.seqLen,
    seed: d.seed,
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    if (!(k in hp)) throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown fine-tuning option '${k}'`);
    (hp as unknown as Record<string, number>)[k] = v as number;
  }
  validateRecipe(hp);
  return hp;
}

/** Throws ERR_INVALID_ARGUMENT naming the first bad field. */
export function validateRecipe(hp: FinetuneHyperParameters): void {
  const bad = (msg: string) => new ElectraError('ERR_INVALID_ARGUMENT', msg);
  const num = (k: keyof FinetuneHyperParameters) => {
    if (typeof hp[k] !== 'number' || !Number.isFinite(hp[k])) throw bad(`${k} must be a finite number, got ${String(hp[k])}`);
    return hp[k];
  };
  if (!(num('lr') >= 0)) throw bad(`lr must be >= 0, got ${hp.lr}`);
  if (!(num('layerDecay') > 0 && hp.layerDecay <= 1)) throw bad(`layerDecay must be in (0, 1], got ${hp.layerDecay}`);
  if (!(num('warmupFraction') >= 0 && hp.warmupFraction < 1)) throw bad(`warmupFraction must be in [0, 1), got ${hp.warmupFraction}`);
  if (!(num('weightDecay') >= 0)) throw bad(`weightDecay must be >= 0, got ${hp.weightDecay}`);
  for (const k of ['batchSize', 'epochs', 'seqLen'] as const) {
    if (!Number.isInteger(num(k)) || hp[k] < 1) throw bad(`${k} must be an integer >= 1, got ${hp[k]}`);
  }
  if (hp.seqLen < 2) throw bad(`seqLen must be at least 2, got ${hp.seqLen}`);
  num('clipNorm');
  if (!(num('beta1') >= 0 && hp.beta1 < 1) || !(num('beta2') >= 0 && hp.beta2 < 1)) throw bad('beta1 and beta2 must be in [0, 1)');
  if (!(num('eps') > 0)) throw bad(`eps must be > 0, got ${hp.eps}`);
  if (!Number.isInteger(num('seed')) || hp.seed < 0) throw bad(`seed must be an integer >= 0, got ${hp.seed}`);
}
