import { AdamW, ArrayDataset, BERT_SPECIAL_IDS, ElectraModel, Trainer, buildWordVocab, electraConfig, toyCorpus, toyExamples } from '../lib';
import { configSchema, modelDefaults, stepMetricNames, trainDefaults } from '../lib/defaults';
import { loadNative } from '../lib/native';
import type { NativeModelConfig, NativeStepMetrics, NativeTrainConfig } from '../lib/native-model';
import type { StepMetrics } from '../lib/trainer';

// The TypeScript field lists, exhaustive by type: adding a field to an
// interface without listing it here (or the reverse) fails to compile.
const TRAIN_KEYS: Record<keyof NativeTrainConfig, true> = {
  batch: true, seqLen: true, maskProb: true, discWeight: true, temperature: true, lr: true, warmupSteps: true, totalSteps: true,
  beta1: true, beta2: true, eps: true, weightDecay: true, clipNorm: true, biasCorrection: true, gradAccum: true, seed: true, masking: true, skipAboveLoss: true,
};
const MODEL_KEYS: Record<Exclude<keyof NativeModelConfig, 'discriminator' | 'generator'>, true> = {
  vocabSize: true, embeddingSize: true, maxPosition: true, typeVocabSize: true, layerNormEps: true, hiddenDropout: true,
  attentionDropout: true, objective: true, padId: true, unkId: true, clsId: true, sepId: true, maskId: true,
};
// (skipped is a flag beside the metrics, not one of them.)
const METRIC_KEYS: Record<Exclude<keyof NativeStepMetrics, 'discHistReplaced' | 'discHistOriginal' | 'genLogits' | 'discLogits' | 'skipped'>, true> = {
  loss: true, genLoss: true, discLoss: true, discCandidateLoss: true, genAccuracy: true, discAccuracy: true, discPrecision: true, discRecall: true,
  replacedFraction: true, gradNorm: true, lr: true, maskedTokens: true, tokens: true, replacedTokens: true, candidateTokens: true,
};

const docs = toyCorpus(40, 3);
const vocab = buildWordVocab(docs);
const ids = { padId: vocab.padId, unkId: vocab.unkId, clsId: vocab.clsId, sepId: vocab.sepId, maskId: vocab.maskId };

describe('one source of defaults: native/core/config_table.h', () => {
  test('the native schema declares exactly the fields the TypeScript types have', () => {
    const s = configSchema();
    expect(Object.keys(s.train).sort()).toEqual(Object.keys(TRAIN_KEYS).sort());
    expect(Object.keys(s.model).sort()).toEqual(Object.keys(MODEL_KEYS).sort());
    expect(Object.keys(s.encoder).sort()).toEqual(['heads', 'hidden', 'intermediate', 'layers']);
    expect(stepMetricNames().sort()).toEqual(Object.keys(METRIC_KEYS).sort());
  });

  test('the reference values: warm-up 10000, lr 5e-4, eps 1e-6, weight decay 0.01, lambda 50, mask 0.15, reference masking', () => {
    // Float defaults come back as the decimals written in config_table.h, not their float32 roundings.
    expect(trainDefaults()).toMatchObject({ warmupSteps: 10000, lr: 5e-4, eps: 1e-6, weightDecay: 0.01, discWeight: 50, maskProb: 0.15, beta2: 0.999, masking: 'reference', biasCorrection: false, gradAccum: 1 });
    expect(configSchema().model).toMatchObject({ layerNormEps: 1e-12, hiddenDropout: 0.1, attentionDropout: 0.1 });
  });

  test('AdamW, Trainer and electraConfig take their defaults from the schema', () => {
    const d = trainDefaults();
    const h = new AdamW().hyper;
    for (const k of ['lr', 'warmupSteps', 'totalSteps', 'beta1', 'beta2', 'eps', 'weightDecay', 'clipNorm', 'biasCorrection'] as const) expect(h[k]).toBe(d[k]);
    const cfg = electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, ...ids });
    const model = ElectraModel.create(cfg, { device: 'cpu' });
    const t = new Trainer({ model, data: new ArrayDataset(toyExamples(docs, vocab, 32)) });
    // skipAboveLoss is set per step by the loss-spike guard (off: 0, the default).
    expect({ skipAboveLoss: d.skipAboveLoss, ...t.nativeTrainConfig() }).toEqual({ ...d });
    const m = modelDefaults();
    const plain = electraConfig({ preset: 'tiny' });
    for (const k of ['vocabSize', 'typeVocabSize', 'layerNormEps', 'hiddenDropout', 'attentionDropout', 'padId', 'unkId', 'clsId', 'sepId', 'maskId'] as const) expect(plain[k]).toBe(m[k]);
    expect(BERT_SPECIAL_IDS).toEqual({ padId: m.padId, unkId: m.unkId, clsId: m.clsId, sepId: m.sepId, maskId: m.maskId });
  });

  test('one validation: the core rejects what Trainer and electraConfig reject, with the same message', () => {
    expect(() => electraConfig({ preset: 'tiny', discriminator: { heads: 3 } })).toThrow(/heads must divide hidden/);
    expect(() => loadNative().checkConfig({ ...electraConfig({ preset: 'tiny' }), discriminator: { hidden: 64, layers: 2, heads: 3, intermediate: 8 } })).toThrow(/heads must divide hidden/);
    const model = ElectraModel.create(electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, ...ids }), { device: 'cpu' });
    const data = new ArrayDataset(toyExamples(docs, vocab, 32));
    expect(() => new Trainer({ model, data, maskProb: 1.5 })).toThrow(/mask probability must be in \(0, 1\)/);
    expect(() => new Trainer({ model, data, seqLen: 4096 })).toThrow(/sequence length 4096 exceeds max position embeddings/);
    expect(() => new Trainer({ model, data, masking: 'random' as never })).toThrow(/masking must be 'reference' or 'exact'/);
  });

  test('step metrics: the trainer reports every native scalar metric under its native name', async () => {
    const model = ElectraModel.create(electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 32, ...ids }), { device: 'cpu' });
    const t = new Trainer({ model, data: new ArrayDataset(toyExamples(docs, vocab, 32)), batchSize: 2, seqLen: 32, optimizer: { lr: 1e-3, warmupSteps: 0, totalSteps: 5 } });
    const m: StepMetrics = await t.trainStep();
    for (const k of stepMetricNames()) expect(typeof (m as unknown as Record<string, unknown>)[k]).toBe('number');
  });
});

describe('AdamW.lrAt is the native schedule', () => {
  test.each([
    [5e-4, 10000, 1000000],
    [2e-3, 250, 2500],
    [1e-3, 0, 37],
    [3e-4, 7, 7],
  ])('lr %p, warm-up %p, total %p: equal at every step (sampled) and past the end', (lr, warmupSteps, totalSteps) => {
    const opt = new AdamW({ lr, warmupSteps, totalSteps });
    const cfg: Partial<NativeTrainConfig> = { lr, warmupSteps, totalSteps };
    const steps = new Set<number>();
    for (let t = 0; t <= Math.min(totalSteps + 3, 3000); t++) steps.add(t);
    for (const t of [warmupSteps - 1, warmupSteps, warmupSteps + 1, totalSteps - 1, totalSteps, totalSteps + 10, Math.floor(totalSteps / 3)]) if (t >= 0) steps.add(t);
    for (const t of steps) expect(opt.lrAt(t)).toBe(loadNative().learningRate(cfg, t));
  });

  test('the step reports the same lr as lrAt', async () => {
    const model = ElectraModel.create(electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 32, ...ids }), { device: 'cpu' });
    const opt = new AdamW({ lr: 1e-3, warmupSteps: 3, totalSteps: 6 });
    const t = new Trainer({ model, optimizer: opt, data: new ArrayDataset(toyExamples(docs, vocab, 32)), batchSize: 2, seqLen: 32 });
    for (let i = 0; i < 6; i++) expect((await t.trainStep()).lr).toBe(opt.lrAt(i));
  });
});
