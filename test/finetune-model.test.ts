import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ClassifierModel, ElectraModel, electraConfig, exportHf, FinetuneTrainer, finetuneRecipe, FINETUNE_RECIPES } from '../lib';
import type { EncodedExamples, EncoderConfig, TaskSpec } from '../lib';

const CHECK = path.join(__dirname, '..', 'scripts', 'reference', 'check_finetune_export.py');
const probe = spawnSync('python3', ['-c', 'import torch, transformers, safetensors'], { encoding: 'utf8' });
const pythonReason = probe.error
  ? `python3 not runnable (${probe.error.message})`
  : probe.status !== 0
    ? `python3 lacks torch/transformers/safetensors: ${probe.stderr.trim().split('\n').pop()}`
    : '';
if (pythonReason) console.warn(`fine-tuning HF parity tests skipped: ${pythonReason}`);

const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 59 }, (_, i) => `w${i}`)];
// layerNormEps far from HF's default, so an export that drops it fails the parity check.
const full = electraConfig({ preset: 'tiny', vocabSize: vocab.length, maxPosition: 32, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4, layerNormEps: 0.05 });
const { generator: _g, objective: _o, ...encoder } = full;
const enc: EncoderConfig = encoder;

const sst: TaskSpec = { name: 'toy-sst', kind: 'classification', labels: ['negative', 'positive', 'neutral'], metrics: ['accuracy'] };
const sts: TaskSpec = { name: 'toy-sts', kind: 'regression', labels: [], metrics: ['pearson', 'spearman'] };
const pos: TaskSpec = { name: 'toy-pos', kind: 'token', labels: ['NOUN', 'VERB', 'DET', 'ADJ'], metrics: ['token_accuracy'] };

const S = 10;
const ids = [2, 5, 9, 4, 12, 40, 7, 3, 0, 0, 2, 33, 4, 21, 8, 3, 17, 3, 0, 0];
const types = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0];
const mask = ids.map((id, i) => (id === 0 && i % S > 0 ? 0 : 1));

function perturb(model: ClassifierModel): void {
  for (const s of model.tensorSpecs()) {
    if (s.name.includes('LayerNorm') || s.name.endsWith('bias') || s.name.startsWith('classifier')) {
      const t = model.getTensor(s.name);
      for (let i = 0; i < t.length; i++) t[i] += 0.1 * Math.sin(i + s.name.length);
      model.setTensor(s.name, t);
    }
  }
}

function hf(dirs: string[], tokenizer: boolean) {
  const req = { dirs, input_ids: [ids.slice(0, S), ids.slice(S)], token_type_ids: [types.slice(0, S), types.slice(S)], attention_mask: [mask.slice(0, S), mask.slice(S)], tokenizer };
  const r = spawnSync('python3', [CHECK], { input: JSON.stringify(req), encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`check_finetune_export.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Array<{ class: string; logits: number[]; id2label: Record<string, string>; num_labels: number; problem_type: string | null; tokenizer: string | null; tokens: string[] | null }>;
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 1e-30;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / den;
}

describe('ClassifierModel', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-finetune-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  (pythonReason ? test.skip : test)('HF transformers loads each saved directory (3 heads) with labels and tokenizer, and its logits match ours within 1e-4', async () => {
    const tasks = [sst, sts, pos];
    const dirs: string[] = [];
    const ours: Float32Array[] = [];
    for (const task of tasks) {
      const model = ClassifierModel.create({ encoder: enc, task }, { seed: 3, device: 'cpu' });
      perturb(model);
      const out = path.join(dir, `hf-${task.kind}`);
      await model.save(out, { vocab });
      dirs.push(out);
      ours.push(await model.logits({ inputIds: Int32Array.from(ids), tokenTypeIds: Int32Array.from(types), attentionMask: Int32Array.from(mask), rows: 2, seqLen: S }));
    }
    const res = hf(dirs, true);
    tasks.forEach((task, k) => {
      const r = res[k];
      expect(r.class).toBe(task.kind === 'token' ? 'ElectraForTokenClassification' : 'ElectraForSequenceClassification');
      expect(r.num_labels).toBe(task.kind === 'regression' ? 1 : task.labels.length);
      if (task.kind !== 'regression') expect(Object.values(r.id2label)).toEqual(task.labels);
      expect(r.problem_type).toBe(task.kind === 'regression' ? 'regression' : task.kind === 'token' ? null : 'single_label_classification');
      expect(r.tokenizer).toMatch(/^(Electra|Bert)Tokenizer/); // transformers maps ElectraTokenizer to the BERT class
      expect(r.tokens![1]).toBe('w0');
      expect(r.logits.length).toBe(ours[k].length);
      // Padding positions of the token head carry logits too; all are compared.
      expect(maxRel(ours[k], r.logits)).toBeLessThan(1e-4);
    });
  }, 120_000);

  test('save -> load round trip keeps every tensor, the task and the head', async () => {
    const model = ClassifierModel.create({ encoder: enc, task: pos, classifierDropout: 0.2 }, { seed: 5, device: 'cpu' });
    const out = path.join(dir, 'roundtrip');
    await model.save(out);
    const back = await ClassifierModel.load(out, { device: 'cpu' });
    expect(back.config.task).toEqual(pos);
    expect(back.config.classifierDropout).toBe(0.2);
    for (const s of model.tensorSpecs()) expect(back.getTensor(s.name)).toEqual(model.getTensor(s.name));
  });

  test('fromPretrained takes the encoder of a pre-trained model, our HF export and an HF save_pretrained directory; the head is new', async () => {
    const pre = ElectraModel.create(full, { seed: 9, device: 'cpu' });
    const saved = path.join(dir, 'pretrained');
    await pre.save(saved);
    const exported = path.join(dir, 'export');
    await exportHf(pre, exported, { vocab });
    for (const src of [saved, exported, path.join(exported, 'discriminator')]) {
      const m = await ClassifierModel.fromPretrained(src, sst, { device: 'cpu', seed: 1 });
      for (const s of m.tensorSpecs()) {
        if (s.name.startsWith('electra.')) expect(m.getTensor(s.name)).toEqual(pre.getTensor(s.name));
      }
      expect(m.config.encoder.layerNormEps).toBeCloseTo(0.05, 6);
    }
    // The HF golden directory (written by transformers' save_pretrained).
    const golden = path.join(__dirname, 'golden', 'electra_tiny_hf', 'discriminator');
    const m = await ClassifierModel.fromPretrained(golden, sts, { device: 'cpu' });
    expect(m.config.encoder.discriminator).toEqual({ hidden: 32, layers: 2, heads: 2, intermediate: 64 });
    expect(m.tensorSpecs().map((s) => s.name)).toContain('electra.embeddings_project.weight');
    await expect(ClassifierModel.fromPretrained(path.join(dir, 'nothing-here'), sst)).rejects.toMatchObject({ code: 'ERR_IO' });
    await expect(ClassifierModel.load(saved)).rejects.toMatchObject({ code: 'ERR_CORRUPT_FILE' });
  });

  test('bad tasks and examples are ERR_INVALID_ARGUMENT', async () => {
    expect(() => ClassifierModel.create({ encoder: enc, task: { ...sst, labels: ['only'] } })).toThrow(/at least 2 labels/);
    const model = ClassifierModel.create({ encoder: enc, task: sst }, { device: 'cpu' });
    const ex = toyData(4, 1).ex;
    await expect(model.predict({ ...ex, kind: 'token' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(model.predict({ ...ex, labels: new Int32Array(3) })).rejects.toThrow(/labels has 3 entries/);
  });
});

/** A learnable toy task: class y draws most of its words from its own 16-token range, the rest from anywhere. */
function toyData(count: number, seed: number): { ex: EncodedExamples } {
  let s = seed >>> 0;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const L = 12;
  const inputIds = new Int32Array(count * L), tokenTypeIds = new Int32Array(count * L), attentionMask = new Int32Array(count * L);
  const labels = new Int32Array(count);
  for (let r = 0; r < count; r++) {
    const len = 6 + Math.floor(rnd() * 6);
    const y = Math.floor(rnd() * 3);
    labels[r] = y;
    for (let i = 0; i < len; i++) {
      const own = rnd() < 0.7;
      const id = i === 0 ? 2 : i === len - 1 ? 3 : own ? 8 + 16 * y + Math.floor(rnd() * 16) : 8 + Math.floor(rnd() * 48);
      inputIds[r * L + i] = id;
      attentionMask[r * L + i] = 1;
    }
  }
  return { ex: { kind: 'classification', count, seqLen: L, inputIds, tokenTypeIds, attentionMask, labels } };
}

describe('FinetuneTrainer', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-finetune-trainer-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('the recipe: sizes, small-task epochs, overrides and their checks', () => {
    expect(finetuneRecipe(256, 50_000)).toMatchObject({ lr: FINETUNE_RECIPES.small.lr, layerDecay: 0.8, epochs: 3, batchSize: 32, warmupFraction: 0.1, weightDecay: 0.01 });
    expect(finetuneRecipe(768, 50_000)).toMatchObject({ lr: 1e-4, layerDecay: 0.8 });
    expect(finetuneRecipe(1024, 2_000)).toMatchObject({ lr: 5e-5, layerDecay: 0.9, epochs: 10 });
    expect(finetuneRecipe(256, 100, { lr: 1e-3, epochs: 2 })).toMatchObject({ lr: 1e-3, epochs: 2 });
    expect(() => finetuneRecipe(256, 100, { layerDecay: 1.5 })).toThrow(/layerDecay/);
    expect(() => finetuneRecipe(256, 100, { batchSize: 0 })).toThrow(/batchSize/);
  });

  test('learns a toy task, keeps the best checkpoint, and layer-wise rates reach the native tensors', async () => {
    const train = toyData(96, 1).ex, dev = toyData(48, 2).ex;
    const model = ClassifierModel.create({ encoder: enc, task: sst }, { seed: 2, device: 'cpu' });
    const before = (await new FinetuneTrainer({ model, train, dev, hyper: { epochs: 1 } }).evaluate()).accuracy;
    const out = path.join(dir, 'run');
    const t = new FinetuneTrainer({ model, train, dev, outDir: out, hyper: { lr: 1e-3, epochs: 10, batchSize: 16, layerDecay: 0.9 } });
    const scales = new Map(model.tensorSpecs().map((s) => [s.name, s.lrScale]));
    expect(scales.get('classifier.dense.weight')).toBe(1);
    expect(scales.get('electra.encoder.layer.1.output.dense.weight')).toBe(1);
    expect(scales.get('electra.encoder.layer.0.output.dense.weight')).toBeCloseTo(0.9, 6);
    expect(scales.get('electra.embeddings.word_embeddings.weight')).toBeCloseTo(0.81, 6);
    const res = await t.run();
    expect(res.steps).toBe(60);
    expect(res.evals).toHaveLength(10);
    const best = Math.max(...res.evals.map((e) => e.metrics.accuracy));
    expect(res.best!.metrics.accuracy).toBe(best);
    expect(best).toBeGreaterThan(Math.max(0.6, before + 0.2));
    const bestDir = FinetuneTrainer.bestCheckpoint(out)!;
    expect(path.basename(bestDir)).toBe(`step-${String(res.best!.step).padStart(6, '0')}`);
    const reloaded = await ClassifierModel.load(bestDir, { device: 'cpu' });
    const acc = (await new FinetuneTrainer({ model: reloaded, train, dev }).evaluate()).accuracy;
    expect(acc).toBe(best);
  }, 120_000);

  test('a token task: per-token tags (-1 ignored) are learned and scored on labelled tokens only', async () => {
    // Tag = which 12-token range a word id falls in; [CLS], [SEP] and padding carry -1.
    const tokenData = (count: number, seed: number): EncodedExamples => {
      const base = toyData(count, seed).ex;
      const labels = new Int32Array(count * base.seqLen).fill(-1);
      for (let i = 0; i < labels.length; i++) {
        const id = base.inputIds[i];
        if (id >= 8 && id < 56) labels[i] = Math.floor((id - 8) / 12);
      }
      return { ...base, kind: 'token', labels };
    };
    const train = tokenData(64, 5), dev = tokenData(32, 6);
    const model = ClassifierModel.create({ encoder: enc, task: pos }, { seed: 2, device: 'cpu' });
    const t = new FinetuneTrainer({ model, train, dev, hyper: { lr: 2e-3, epochs: 8, batchSize: 16 } });
    const res = await t.run();
    const acc = res.evals.map((e) => e.metrics.token_accuracy);
    expect(acc[acc.length - 1]).toBeGreaterThan(0.8);
    expect(acc[acc.length - 1]).toBeGreaterThan(acc[0]);
  }, 120_000);

  test('resume from a checkpoint takes exactly the steps of the uninterrupted run (bit-identical weights)', async () => {
    const train = toyData(40, 3).ex;
    const hyper = { lr: 1e-3, epochs: 2, batchSize: 8 };
    const a = ClassifierModel.create({ encoder: enc, task: sst }, { seed: 4, device: 'cpu' });
    await new FinetuneTrainer({ model: a, train, hyper }).run();
    const out = path.join(dir, 'resume');
    const b = ClassifierModel.create({ encoder: enc, task: sst }, { seed: 4, device: 'cpu' });
    const tb = new FinetuneTrainer({ model: b, train, hyper, outDir: out, checkpointEvery: 3 });
    const ac = new AbortController();
    await tb.run({ onStep: (m) => m.step === 7 && ac.abort(), signal: ac.signal });
    expect(tb.globalStep).toBe(7);
    const tc = await FinetuneTrainer.resume(out, { train, device: { device: 'cpu' } });
    expect(tc.globalStep).toBe(6); // the newest checkpoint (every 3 steps)
    const res = await tc.run();
    expect(res.steps).toBe(10);
    for (const s of a.tensorSpecs()) expect(tc.model.getTensor(s.name)).toEqual(a.getTensor(s.name));
    await expect(FinetuneTrainer.resume(out, { train: toyData(41, 3).ex })).rejects.toThrow(/trained on 40 examples/);
  }, 120_000);
});
