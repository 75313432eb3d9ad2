/**
 * ElectraConfig: the architecture of a generator/discriminator pair, with the
 * presets of the ELECTRA paper and validation that names what is wrong.
 */
import { checkConfigKeys } from './config-keys';
import { checkNativeConfig, modelDefaults } from './defaults';
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

/** The pre-training recipe that comes with a preset (the training half; the model half is in Preset). */
export interface Recipe {
  /** Tokens per sequence. */
  seqLen: number;
  /** Sequences per optimizer step (gradient accumulation splits it, it does not multiply it). */
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  /** Optimizer steps, and the horizon of the linear decay. */
  totalSteps: number;
  maskProb: number;
  /** Generator sampling temperature (the reference's `temperature`; 1 in the paper). */
  temperature: number;
}

export type PresetName = 'tiny' | 'small' | 'base' | 'large';

export interface Preset {
  discriminator: EncoderSize;
  embeddingSize: number;
  /** Generator width / discriminator width. */
  generatorFraction: number;
  /** Generator layers / discriminator layers (the reference's `generator_layers`). */
  generatorLayers: number;
  /** Position embeddings. */
  maxPosition: number;
  /** Hidden and attention dropout (the paper: 0.1). */
  dropout: number;
  /**
   * On the embedded Brown corpus without --vocab: use the vocabulary learned
   * from that corpus (vocab/brown-2048.txt) instead of BERT's 30,522 tokens.
   */
  corpusVocab: boolean;
  recipe: Recipe;
}

/**
 * The recipes of the ELECTRA paper (Clark et al. 2020, Table 6, and
 * google-research/electra configure_pretraining.py) for small, base and large.
 * `tiny` is ours: the default CPU run (a few minutes on 2 cores), and the size
 * the tests use. The default run of `electra-native train` is the `tiny` entry
 * on the CPU (`small` on a GPU): change it here.
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = {
  tiny: {
    discriminator: { hidden: 64, layers: 2, heads: 2, intermediate: 256 },
    embeddingSize: 32,
    generatorFraction: 0.25,
    generatorLayers: 0.5,
    maxPosition: 128,
    dropout: 0,
    corpusVocab: true,
    recipe: { seqLen: 16, batchSize: 128, lr: 2e-3, warmupSteps: 800, totalSteps: 16000, maskProb: 0.25, temperature: 1 },
  },
  small: {
    discriminator: { hidden: 256, layers: 12, heads: 4, intermediate: 1024 },
    embeddingSize: 128,
    generatorFraction: 0.25,
    generatorLayers: 1,
    maxPosition: 512,
    dropout: 0.1,
    corpusVocab: false,
    recipe: { seqLen: 128, batchSize: 128, lr: 5e-4, warmupSteps: 10000, totalSteps: 1000000, maskProb: 0.15, temperature: 1 },
  },
  base: {
    discriminator: { hidden: 768, layers: 12, heads: 12, intermediate: 3072 },
    embeddingSize: 768,
    generatorFraction: 1 / 3,
    generatorLayers: 1,
    maxPosition: 512,
    dropout: 0.1,
    corpusVocab: false,
    recipe: { seqLen: 512, batchSize: 256, lr: 2e-4, warmupSteps: 10000, totalSteps: 766000, maskProb: 0.15, temperature: 1 },
  },
  large: {
    discriminator: { hidden: 1024, layers: 24, heads: 16, intermediate: 4096 },
    embeddingSize: 1024,
    generatorFraction: 0.25,
    generatorLayers: 1,
    maxPosition: 512,
    dropout: 0.1,
    corpusVocab: false,
    recipe: { seqLen: 512, batchSize: 2048, lr: 2e-4, warmupSteps: 10000, totalSteps: 400000, maskProb: 0.25, temperature: 1 },
  },
};

/** BERT's uncased vocabulary and its special token ids (the native defaults; test/defaults.test.ts checks they agree). */
export const BERT_SPECIAL_IDS = { padId: 0, unkId: 100, clsId: 101, sepId: 102, maskId: 103 } as const;

/**
 * The generator for a discriminator of this size: width round(H * fraction),
 * heads max(1, width / 64), FFN 4 * width, depth round(L * layerFraction)
 * (at least 1; the same depth by default, as the paper).
 */
export function generatorSize(disc: EncoderSize, fraction: number, layerFraction = 1): EncoderSize {
  if (!(fraction > 0 && fraction <= 1)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `generator fraction must be in (0, 1], got ${fraction}`);
  }
  if (!(layerFraction > 0 && layerFraction <= 1)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `generator layers (a fraction of the discriminator's) must be in (0, 1], got ${layerFraction}`);
  }
  const hidden = Math.max(1, Math.round(disc.hidden * fraction));
  const heads = Math.max(1, Math.floor(hidden / 64));
  return { hidden, layers: Math.max(1, Math.round(disc.layers * layerFraction)), heads, intermediate: 4 * hidden };
}

export interface ConfigOptions extends Partial<Omit<ElectraConfig, 'discriminator' | 'generator'>> {
  preset?: PresetName;
  discriminator?: Partial<EncoderSize>;
  generator?: Partial<EncoderSize>;
  /** Generator width as a fraction of the discriminator's (preset default). */
  generatorFraction?: number;
  /** Generator depth as a fraction of the discriminator's (the reference's `generator_layers`; preset default, 1 in the paper). */
  generatorLayers?: number;
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
  const layerFraction = opts.generatorLayers ?? (opts.objective === 'mlm' ? 1 : preset.generatorLayers);
  const generator = { ...generatorSize(discriminator, fraction, layerFraction), ...opts.generator };
  const d = modelDefaults();
  const cfg: ElectraConfig = {
    vocabSize: opts.vocabSize ?? d.vocabSize,
    embeddingSize: opts.embeddingSize ?? preset.embeddingSize,
    maxPosition: opts.maxPosition ?? preset.maxPosition,
    typeVocabSize: opts.typeVocabSize ?? d.typeVocabSize,
    discriminator,
    generator,
    layerNormEps: opts.layerNormEps ?? d.layerNormEps,
    hiddenDropout: opts.hiddenDropout ?? d.hiddenDropout,
    attentionDropout: opts.attentionDropout ?? d.attentionDropout,
    objective: opts.objective ?? 'electra',
    padId: opts.padId ?? d.padId,
    unkId: opts.unkId ?? d.unkId,
    clsId: opts.clsId ?? d.clsId,
    sepId: opts.sepId ?? d.sepId,
    maskId: opts.maskId ?? d.maskId,
  };
  validateConfig(cfg);
  return cfg;
}

/**
 * Throws an ElectraError (ERR_INVALID_ARGUMENT) naming the first problem. The
 * rules are the native core's (validate() in native/core/model_config.cpp),
 * the same that guard every native call.
 */
export function validateConfig(c: ElectraConfig): void {
  try {
    checkNativeConfig(c);
  } catch (e) {
    if (e instanceof ElectraError && e.code === 'ERR_INVALID_ARGUMENT') {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `invalid ELECTRA config: ${e.message}`);
    }
    throw e;
  }
}
