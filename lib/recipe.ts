/**
 * A run's whole recipe: the preset's published values (PRESETS in config.ts),
 * overridden by a --config JSON file, overridden by command-line flags. The
 * CLI resolves it once, prints it, and writes it to <run>/recipe.json.
 */
import type { ConfigOptions, PresetName } from './config';
import { PRESETS } from './config';
import { trainDefaults } from './defaults';
import { ElectraError } from './errors';
import type { MaskingMode } from './native-model';

/** The training half of a recipe. */
export interface TrainingRecipe {
  /** Optimizer steps: the run's length and the horizon of the linear decay. */
  steps: number;
  /** Sequences per optimizer step. */
  batch: number;
  /** Micro-batches the batch is split into (batch / gradAccum sequences each); the batch stays the same. */
  gradAccum: number;
  seqLen: number;
  /** Peak learning rate. */
  lr: number;
  warmupSteps: number;
  maskProb: number;
  masking: MaskingMode;
  discWeight: number;
  temperature: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  clipNorm: number;
  seed: number;
}

/** The keys of TrainingRecipe: in a --config file they set training, every other key the model. */
export const TRAINING_KEYS: ReadonlyArray<keyof TrainingRecipe> = [
  'steps', 'batch', 'gradAccum', 'seqLen', 'lr', 'warmupSteps', 'maskProb', 'masking', 'discWeight', 'temperature',
  'weightDecay', 'beta1', 'beta2', 'eps', 'clipNorm', 'seed',
];

export interface RunRecipe {
  preset: PresetName;
  /** Model options for electraConfig (the preset fills what is absent). */
  model: ConfigOptions & { preset: PresetName };
  training: TrainingRecipe;
}

/** The preset's full recipe, with the native defaults for what a preset does not set. */
export function presetRecipe(preset: PresetName): RunRecipe {
  const p = PRESETS[preset];
  if (!p) throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown preset '${String(preset)}' (expected ${Object.keys(PRESETS).join(', ')})`);
  const d = trainDefaults();
  return {
    preset,
    model: {
      preset,
      discriminator: { ...p.discriminator },
      embeddingSize: p.embeddingSize,
      generatorFraction: p.generatorFraction,
      generatorLayers: p.generatorLayers,
      maxPosition: p.maxPosition,
      hiddenDropout: p.dropout,
      attentionDropout: p.dropout,
    },
    training: {
      steps: p.recipe.totalSteps,
      batch: p.recipe.batchSize,
      gradAccum: d.gradAccum,
      seqLen: p.recipe.seqLen,
      lr: p.recipe.lr,
      warmupSteps: p.recipe.warmupSteps,
      maskProb: p.recipe.maskProb,
      masking: d.masking,
      discWeight: d.discWeight,
      temperature: p.recipe.temperature,
      weightDecay: d.weightDecay,
      beta1: d.beta1,
      beta2: d.beta2,
      eps: d.eps,
      clipNorm: d.clipNorm,
      seed: d.seed,
    },
  };
}

function bad(m: string): never {
  throw new ElectraError('ERR_INVALID_ARGUMENT', m);
}

/**
 * preset < file < flags. `file` is a --config object (training keys and model
 * options mixed); `flags` holds only the flags the user gave. Checks that the
 * batch splits into gradAccum equal micro-batches.
 */
export function resolveRecipe(
  preset: PresetName,
  file: Record<string, unknown> = {},
  flags: Partial<TrainingRecipe> & Pick<ConfigOptions, 'generatorFraction' | 'generatorLayers' | 'objective'> = {},
): RunRecipe {
  const r = presetRecipe(preset);
  const training: Record<string, unknown> = { ...r.training };
  const model: Record<string, unknown> = { ...r.model };
  for (const [k, v] of Object.entries(file)) {
    if ((TRAINING_KEYS as readonly string[]).includes(k)) training[k] = v;
    else if (k === 'discriminator' && typeof v === 'object' && v !== null) model.discriminator = { ...(model.discriminator as object), ...v };
    else model[k] = v;
  }
  for (const [k, v] of Object.entries(flags)) {
    if (v === undefined) continue;
    if ((TRAINING_KEYS as readonly string[]).includes(k)) training[k] = v;
    else model[k] = v;
  }
  const t = training as unknown as TrainingRecipe;
  for (const k of TRAINING_KEYS) {
    const v = t[k];
    if (k === 'masking') {
      if (v !== 'reference' && v !== 'exact') bad(`masking must be 'reference' or 'exact', got ${JSON.stringify(v)}`);
    } else if (typeof v !== 'number' || !Number.isFinite(v)) {
      bad(`${k} must be a number, got ${JSON.stringify(v)}`);
    }
  }
  for (const k of ['steps', 'batch', 'gradAccum', 'seqLen', 'warmupSteps', 'seed'] as const) {
    if (!Number.isInteger(t[k]) || t[k] < (k === 'warmupSteps' || k === 'seed' || k === 'steps' ? 0 : 1)) {
      bad(`${k} must be an integer >= ${k === 'warmupSteps' || k === 'seed' || k === 'steps' ? 0 : 1}, got ${t[k]}`);
    }
  }
  if (t.batch % t.gradAccum !== 0) {
    bad(`batch ${t.batch} does not split into ${t.gradAccum} equal micro-batches: --batch is sequences per optimizer step, --grad-accum divides it`);
  }
  return { preset, model: model as unknown as RunRecipe['model'], training: t };
}

/** Sequences per micro-batch. */
export function microBatch(t: TrainingRecipe): number {
  return t.batch / t.gradAccum;
}

/** The recipe in two lines for the log. */
export function describeRecipe(r: RunRecipe, model: { discriminator: { hidden: number; layers: number; heads: number; intermediate: number }; generator: { hidden: number; layers: number }; embeddingSize: number; maxPosition: number; vocabSize: number; objective: string }): string {
  const t = r.training;
  const d = model.discriminator;
  const micro = t.gradAccum > 1 ? ` (${t.gradAccum} micro-batches of ${microBatch(t)})` : '';
  return (
    `recipe ${r.preset}: model ${model.objective}, discriminator H${d.hidden} L${d.layers} A${d.heads} FFN ${d.intermediate}, ` +
    `generator H${model.generator.hidden} L${model.generator.layers}, embeddings ${model.embeddingSize}, ` +
    `vocab ${model.vocabSize}, max positions ${model.maxPosition}\n` +
    `  training: ${t.steps} steps of ${t.batch} sequences${micro} x ${t.seqLen} tokens, lr ${t.lr} (warm-up ${t.warmupSteps}, linear decay), ` +
    `mask ${t.maskProb} (${t.masking}), disc weight ${t.discWeight}, temperature ${t.temperature}, ` +
    `weight decay ${t.weightDecay}, Adam (${t.beta1}, ${t.beta2}, eps ${t.eps}), clip ${t.clipNorm}, seed ${t.seed}`
  );
}
