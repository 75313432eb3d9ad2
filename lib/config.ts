/**
 * ElectraConfig: the architecture of a generator/discriminator pair, with the
 * presets of the ELECTRA paper and validation that names what is wrong.
 */
import { checkConfigKeys } from './config-keys';
import { ElectraError } from './errors';

/** Size of one transformer encoder. */
export interface EncoderSize {
  /** Hidden width H. */
  hidden: number;
  /** Number of layers L. */
  layers: number;
  /** Attention heads A (must divide `hidden`). */
  heads: number;
  /** Feed-forward width. */
  intermediate: number;
}

/** `electra`: replaced token detection; `mlm`: plain BERT-style masked LM (for comparison). */
export type Objective = 'electra' | 'mlm';

/** The model architecture. Tensor names and shapes follow HF transformers' ELECTRA. */
export interface ElectraConfig {
  vocabSize: number;
  /** Shared embedding width E; each encoder projects E -> H when they differ. */
  embeddingSize: number;
  maxPosition: number;
  typeVocabSize: number;
  discriminator: EncoderSize;
  /** For objective 'mlm' this is the whole model. */
  generator: EncoderSize;
  layerNormEps: number;
  hiddenDropout: number;
  attentionDropout: number;
  objective: Objective;
  padId: number;
  unkId: number;
  clsId: number;
  sepId: number;
  maskId: number;
}

/** The pre-training recipe that comes with a preset. */
export interface Recipe {
  seqLen: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  totalSteps: number;
  maskProb: number;
}

export type PresetName = 'tiny' | 'small' | 'base' | 'large';

export interface Preset {
  discriminator: EncoderSize;
  embeddingSize: number;
  generatorFraction: number;
  recipe: Recipe;
}

/** The paper's model sizes. `tiny` is ours, for tests and CPU demos. */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  tiny: {
    discriminator: { hidden: 64, layers: 2, heads: 2, intermediate: 256 },
    embeddingSize: 32,
    generatorFraction: 0.5,
    recipe: { seqLen: 64, batchSize: 16, lr: 2e-3, warmupSteps: 30, totalSteps: 1000, maskProb: 0.15 },
  },
  small: {
    discriminator: { hidden: 256, layers: 12, heads: 4, intermediate: 1024 },
    embeddingSize: 128,
    generatorFraction: 0.25,
    recipe: { seqLen: 128, batchSize: 128, lr: 5e-4, warmupSteps: 10000, totalSteps: 1000000, maskProb: 0.15 },
  },
  base: {
    discriminator: { hidden: 768, layers: 12, heads: 12, intermediate: 3072 },
    embeddingSize: 768,
    generatorFraction: 1 / 3,
    recipe: { seqLen: 512, batchSize: 256, lr: 2e-4, warmupSteps: 10000, totalSteps: 766000, maskProb: 0.15 },
  },
  large: {
    discriminator: { hidden: 1024, layers: 24, heads: 16, intermediate: 4096 },
    embeddingSize: 1024,
    generatorFraction: 0.25,
    recipe: { seqLen: 128, batchSize: 2048, lr: 2e-4, warmupSteps: 10000, totalSteps: 400000, maskProb: 0.25 },
  },
};

/** BERT's uncased vocabulary and its special token ids. */
export const BERT_SPECIAL_IDS = { padId: 0, unkId: 100, clsId: 101, sepId: 102, maskId: 103 } as const;

/**
 * The generator for a discriminator of this size: width round(H * fraction),
 * heads max(1, width / 64), FFN 4 * width, the same depth.
 */
export function generatorSize(disc: EncoderSize, fraction: number): EncoderSize {
  if (!(fraction > 0 && fraction <= 1)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `generator fraction must be in (0, 1], got ${fraction}`);
  }
  const hidden = Math.max(1, Math.round(disc.hidden * fraction));
  const heads = Math.max(1, Math.floor(hidden / 64));
  return { hidden, layers: disc.layers, heads, intermediate: 4 * hidden };
}

export interface ConfigOptions extends Partial<Omit<ElectraConfig, 'discriminator' | 'generator'>> {
  preset?: PresetName;
  discriminator?: Partial<EncoderSize>;
  generator?: Partial<EncoderSize>;
  /** Generator width as a fraction of the discriminator's (preset default). */
  generatorFraction?: number;
}

/** Builds a validated config from a preset (default `small`) and overrides. */
export function electraConfig(opts: ConfigOptions = {}): ElectraConfig {
  checkConfigKeys(opts);
  const presetName = opts.preset ?? 'small';
  const preset = PRESETS[presetName];
  if (!preset) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown preset '${String(presetName)}' (expected ${Object.keys(PRESETS).join(', ')})`);
  }
  const discriminator = { ...preset.discriminator, ...opts.discriminator };
  const fraction = opts.generatorFraction ?? (opts.objective === 'mlm' ? 1 : preset.generatorFraction);
  const generator = { ...generatorSize(discriminator, fraction), ...opts.generator };
  const cfg: ElectraConfig = {
    vocabSize: opts.vocabSize ?? 30522,
    embeddingSize: opts.embeddingSize ?? preset.embeddingSize,
    maxPosition: opts.maxPosition ?? 512,
    typeVocabSize: opts.typeVocabSize ?? 2,
    discriminator,
    generator,
    layerNormEps: opts.layerNormEps ?? 1e-12,
    hiddenDropout: opts.hiddenDropout ?? 0.1,
    attentionDropout: opts.attentionDropout ?? 0.1,
    objective: opts.objective ?? 'electra',
    padId: opts.padId ?? BERT_SPECIAL_IDS.padId,
    unkId: opts.unkId ?? BERT_SPECIAL_IDS.unkId,
    clsId: opts.clsId ?? BERT_SPECIAL_IDS.clsId,
    sepId: opts.sepId ?? BERT_SPECIAL_IDS.sepId,
    maskId: opts.maskId ?? BERT_SPECIAL_IDS.maskId,
  };
  validateConfig(cfg);
  return cfg;
}

function bad(msg: string): never {
  throw new ElectraError('ERR_INVALID_ARGUMENT', `invalid ELECTRA config: ${msg}`);
}

function checkInt(name: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) bad(`${name} must be an integer >= ${min}, got ${String(v)}`);
}

function checkEncoder(which: string, e: EncoderSize): void {
  checkInt(`${which}.hidden`, e.hidden, 1);
  checkInt(`${which}.layers`, e.layers, 1);
  checkInt(`${which}.heads`, e.heads, 1);
  checkInt(`${which}.intermediate`, e.intermediate, 1);
  if (e.hidden % e.heads !== 0) bad(`${which}: heads must divide hidden (${e.heads} does not divide ${e.hidden})`);
}

/** Throws an ElectraError (ERR_INVALID_ARGUMENT) naming the first problem. */
export function validateConfig(c: ElectraConfig): void {
  checkInt('vocabSize', c.vocabSize, 1);
  if (c.vocabSize < 8) bad(`vocab too small: need at least 8 entries, got ${c.vocabSize}`);
  checkInt('embeddingSize', c.embeddingSize, 1);
  checkInt('maxPosition', c.maxPosition, 2);
  checkInt('typeVocabSize', c.typeVocabSize, 1);
  if (c.objective !== 'electra' && c.objective !== 'mlm') bad(`objective must be 'electra' or 'mlm', got '${String(c.objective)}'`);
  if (c.objective === 'electra') checkEncoder('discriminator', c.discriminator);
  checkEncoder('generator', c.generator);
  if (!(c.layerNormEps > 0)) bad('layerNormEps must be positive');
  for (const k of ['hiddenDropout', 'attentionDropout'] as const) {
    if (!(c[k] >= 0 && c[k] < 1)) bad(`${k} must be in [0, 1), got ${c[k]}`);
  }
  for (const k of ['padId', 'unkId', 'clsId', 'sepId', 'maskId'] as const) {
    checkInt(k, c[k], 0);
    if (c[k] >= c.vocabSize) bad(`${k} ${c[k]} is outside the vocabulary of ${c.vocabSize}`);
  }
}
