import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ElectraModel, electraConfig, exportHf, parseSafetensors } from '../lib';

const CHECK = path.join(__dirname, '..', 'scripts', 'reference', 'check_export.py');
const probe = spawnSync('python3', ['-c', 'import torch, transformers, safetensors'], { encoding: 'utf8' });
const pythonReason = probe.error ? `python3 not runnable (${probe.error.message})` : probe.status !== 0 ? `python3 lacks torch/transformers/safetensors: ${probe.stderr.trim().split('\n').pop()}` : '';
if (pythonReason) console.warn(`export parity test skipped: ${pythonReason}`);

const vocab = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...Array.from({ length: 59 }, (_, i) => `w${i}`)];
// layerNormEps far from HF's default (1e-12), so an export that drops it from
// config.json gives HF logits off by much more than the 1e-4 tolerance.
const cfg = electraConfig({ preset: 'tiny', vocabSize: vocab.length, maxPosition: 32, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4, layerNormEps: 0.05 });

describe('HF export', () => {
  let dir: string;
  let model: ElectraModel;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-export-'));
    model = ElectraModel.create(cfg, { seed: 4, device: 'cpu' }); // fp32: compared with HF at 1e-4
    // Give LayerNorms and biases non-trivial values so every tensor matters.
    for (const s of model.tensorSpecs()) {
      if (s.name.includes('LayerNorm') || s.name.endsWith('bias')) {
        const t = model.getTensor(s.name);
        for (let i = 0; i < t.length; i++) t[i] += 0.1 * Math.sin(i + s.name.length);
        model.setTensor(s.name, t);
      }
    }
    await exportHf(model, dir, { vocab });
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('writes two save_pretrained directories with HF names and configs', () => {
    for (const which of ['discriminator', 'generator']) {
      expect(fs.readdirSync(path.join(dir, which)).sort()).toEqual(['config.json', 'model.safetensors', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.txt']);
      const conf = JSON.parse(fs.readFileSync(path.join(dir, which, 'config.json'), 'utf8'));
      expect(conf.model_type).toBe('electra');
      expect(conf.architectures).toEqual([which === 'discriminator' ? 'ElectraForPreTraining' : 'ElectraForMaskedLM']);
    }
    const g = parseSafetensors(fs.readFileSync(path.join(dir, 'generator', 'model.safetensors')), 'g');
    expect(g.tensors.has('electra.encoder.layer.0.attention.self.query.weight')).toBe(true);
    expect(g.tensors.has('generator_lm_head.bias')).toBe(true);
    const d = parseSafetensors(fs.readFileSync(path.join(dir, 'discriminator', 'model.safetensors')), 'd');
    expect([...d.tensors.keys()].some((k) => k.startsWith('generator'))).toBe(false);
    expect(d.tensors.has('discriminator_predictions.dense_prediction.weight')).toBe(true);
  });

  test('an export loads back as the same model', async () => {
    const back = await ElectraModel.load(dir, { specialIds: { unkId: 1, clsId: 2, sepId: 3, maskId: 4 }, device: 'cpu' });
    for (const s of model.tensorSpecs()) expect(back.getTensor(s.name)).toEqual(model.getTensor(s.name));
  });

  (pythonReason ? test.skip : test)('HF transformers loads both directories and its logits match ours within 1e-4', async () => {
    const S = 10;
    const ids = [2, 5, 9, 4, 12, 40, 7, 3, 0, 0, 2, 33, 4, 21, 8, 3, 17, 3, 0, 0];
    const types = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0];
    const mask = ids.map((id, i) => (id === 0 && i % S > 0 ? 0 : 1));
    const batch = { inputIds: Int32Array.from(ids), tokenTypeIds: Int32Array.from(types), attentionMask: Int32Array.from(mask), rows: 2, seqLen: S };
    const positions = [3, 5, 12, 14];
    const ours = { disc: await model.discriminate(batch), gen: await model.generatorLogits(batch, Int32Array.from(positions)) };
    const r = spawnSync('python3', [CHECK], {
      input: JSON.stringify({ dir, input_ids: [ids.slice(0, S), ids.slice(S)], token_type_ids: [types.slice(0, S), types.slice(S)], attention_mask: [mask.slice(0, S), mask.slice(S)], positions }),
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    expect(r.stderr).not.toMatch(/Traceback/);
    expect(r.status).toBe(0);
    const hf = JSON.parse(r.stdout) as { disc_logits: number[]; gen_logits: number[][]; tied: boolean };
    expect(hf.tied).toBe(true);
    let maxDiff = 0;
    hf.disc_logits.forEach((v, i) => {
      if (mask[i]) maxDiff = Math.max(maxDiff, Math.abs(v - ours.disc[i]));
    });
    hf.gen_logits.flat().forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - ours.gen[i]))));
    expect(maxDiff).toBeLessThan(1e-4);
  });
});
