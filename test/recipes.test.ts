import { PRESETS, electraConfig } from '../lib';
import { presetRecipe, resolveRecipe, TRAINING_KEYS } from '../lib/recipe';
import { trainDefaults } from '../lib/defaults';

// The published recipes, restated from the sources (not from lib/config.ts):
// Clark et al. 2020, "ELECTRA", Table 6 (pre-training hyper-parameters), and
// google-research/electra configure_pretraining.py (model_size small/base/large).
const PUBLISHED = {
  small: { H: 256, L: 12, A: 4, FFN: 1024, E: 128, gen: 1 / 4, batch: 128, lr: 5e-4, warmup: 10000, steps: 1000000, mask: 0.15, seq: 128, maxPos: 512 },
  base: { H: 768, L: 12, A: 12, FFN: 3072, E: 768, gen: 1 / 3, batch: 256, lr: 2e-4, warmup: 10000, steps: 766000, mask: 0.15, seq: 512, maxPos: 512 },
  large: { H: 1024, L: 24, A: 16, FFN: 4096, E: 1024, gen: 1 / 4, batch: 2048, lr: 2e-4, warmup: 10000, steps: 400000, mask: 0.25, seq: 512, maxPos: 512 },
} as const;

describe('presets', () => {
  test.each(Object.keys(PUBLISHED) as Array<keyof typeof PUBLISHED>)('%s is the published recipe, model and training', (name) => {
    const p = PUBLISHED[name];
    const r = presetRecipe(name);
    expect(r.model.discriminator).toEqual({ hidden: p.H, layers: p.L, heads: p.A, intermediate: p.FFN });
    expect(r.model.embeddingSize).toBe(p.E);
    expect(r.model.generatorFraction).toBeCloseTo(p.gen, 12);
    expect(r.model.maxPosition).toBe(p.maxPos);
    // BERT's and the reference's dropout; BERT's uncased vocabulary whatever the corpus.
    expect(r.model).toMatchObject({ hiddenDropout: 0.1, attentionDropout: 0.1 });
    expect(PRESETS[name].corpusVocab).toBe(false);
    expect(r.training).toMatchObject({ batch: p.batch, lr: p.lr, warmupSteps: p.warmup, steps: p.steps, maskProb: p.mask, seqLen: p.seq, gradAccum: 1 });
    // The reference's shared settings: Adam eps 1e-6, weight decay 0.01, lambda 50, no bias correction.
    expect(r.training).toMatchObject({ eps: 1e-6, weightDecay: 0.01, discWeight: 50, temperature: 1, beta1: 0.9, beta2: 0.999, clipNorm: 1, masking: 'reference' });
    const cfg = electraConfig(r.model);
    expect(cfg.generator.hidden).toBe(Math.round(p.H * p.gen));
    expect(cfg.generator.layers).toBe(p.L);
    expect(cfg.maxPosition).toBe(p.maxPos);
  });

  test('every preset has a full recipe, and tiny (the default CPU run) fits its own max positions', () => {
    for (const p of Object.values(PRESETS)) {
      expect(Object.keys(p.recipe).sort()).toEqual(['batchSize', 'lr', 'maskProb', 'seqLen', 'temperature', 'totalSteps', 'warmupSteps']);
      expect(p.recipe.seqLen).toBeLessThanOrEqual(p.maxPosition);
    }
  });
});

describe('generator depth (generatorLayers, the reference generator_layers)', () => {
  test('a fraction of the discriminator layers, rounded, at least 1; the paper presets keep the full depth', () => {
    expect(electraConfig({ preset: 'tiny' }).generator.layers).toBe(1);
    expect(electraConfig({ preset: 'small' }).generator.layers).toBe(12);
    expect(electraConfig({ preset: 'small', generatorLayers: 0.25 }).generator.layers).toBe(3);
    expect(electraConfig({ preset: 'small', generatorLayers: 0.01 }).generator.layers).toBe(1);
    expect(resolveRecipe('small', {}, { generatorLayers: 0.5 }).model.generatorLayers).toBe(0.5);
    for (const bad of [0, -1, 1.5, NaN]) {
      expect(() => electraConfig({ preset: 'small', generatorLayers: bad })).toThrow(/generator layers .* must be in \(0, 1\]/);
    }
  });
});

describe('resolveRecipe: preset < --config < flags', () => {
  test('a config file overrides the preset, a flag overrides both; model keys go to the model', () => {
    const r = resolveRecipe('small', { lr: 1e-4, batch: 64, discriminator: { layers: 6 }, embeddingSize: 64 }, { lr: 3e-4, steps: 100 });
    expect(r.training).toMatchObject({ lr: 3e-4, batch: 64, steps: 100, seqLen: 128, warmupSteps: 10000, maskProb: 0.15 });
    expect(r.model.discriminator).toEqual({ hidden: 256, layers: 6, heads: 4, intermediate: 1024 });
    expect(r.model.embeddingSize).toBe(64);
    // Flags left undefined change nothing.
    expect(resolveRecipe('large', {}, { lr: undefined }).training).toEqual(presetRecipe('large').training);
  });

  test('training fields the presets do not set come from the native defaults', () => {
    const d = trainDefaults();
    const t = presetRecipe('tiny').training;
    for (const k of ['discWeight', 'weightDecay', 'beta1', 'beta2', 'eps', 'clipNorm', 'seed', 'gradAccum', 'masking'] as const) {
      expect(t[k]).toBe(d[k]);
    }
    expect([...TRAINING_KEYS].sort()).toEqual(Object.keys(t).sort());
  });

  test('--batch is per optimizer step: --grad-accum must divide it; bad values name the field', () => {
    expect(resolveRecipe('small', {}, { gradAccum: 4 }).training).toMatchObject({ batch: 128, gradAccum: 4 });
    expect(() => resolveRecipe('small', {}, { batch: 10, gradAccum: 4 })).toThrow(/batch 10 does not split into 4 equal micro-batches/);
    expect(() => resolveRecipe('small', { lr: 'fast' })).toThrow(/lr must be a number, got "fast"/);
    expect(() => resolveRecipe('small', { masking: 'random' })).toThrow(/masking must be 'reference' or 'exact'/);
    expect(() => resolveRecipe('small', {}, { batch: 0 })).toThrow(/batch must be an integer >= 1/);
  });
});

describe('the benchmarks build the presets as lib/config.ts does', () => {
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  const root = path.join(__dirname, '..');
  const expected = (name: keyof typeof PRESETS) => {
    const p = PRESETS[name];
    const d = p.discriminator;
    return [d.hidden, d.layers, d.heads, d.intermediate, p.embeddingSize, p.generatorFraction, p.generatorLayers];
  };
  const num = (x: string) => (x.includes('/') ? Number(x.split('/')[0]) / Number(x.split('/')[1]) : Number(x));

  test('native/bench/bench_step.cpp kPresets', () => {
    const src = fs.readFileSync(path.join(root, 'native', 'bench', 'bench_step.cpp'), 'utf8');
    for (const name of Object.keys(PRESETS) as Array<keyof typeof PRESETS>) {
      const m = new RegExp(`\\{"${name}", \\{(\\d+), (\\d+), (\\d+), (\\d+)\\}, (\\d+), ([\\d./ ]+), ([\\d./ ]+), (\\d+)\\}`).exec(src);
      expect(m).not.toBeNull();
      const got = m!.slice(1, 8).map((x) => num(x.replace(/ /g, '')));
      expect(got.map((x) => +x.toFixed(6))).toEqual(expected(name).map((x) => +x.toFixed(6)));
      expect(Number(m![8])).toBe(PRESETS[name].maxPosition);
    }
  });

  test('scripts/bench/peer_hf.py PRESETS', () => {
    const src = fs.readFileSync(path.join(root, 'scripts', 'bench', 'peer_hf.py'), 'utf8');
    for (const name of Object.keys(PRESETS) as Array<keyof typeof PRESETS>) {
      const m = new RegExp(`"${name}": \\(\\((\\d+), (\\d+), (\\d+), (\\d+)\\), (\\d+), ([\\d./ ]+), ([\\d./ ]+)\\)`).exec(src);
      expect(m).not.toBeNull();
      const got = m!.slice(1, 8).map((x) => num(x.replace(/ /g, '')));
      expect(got.map((x) => +x.toFixed(6))).toEqual(expected(name).map((x) => +x.toFixed(6)));
    }
  });
});
