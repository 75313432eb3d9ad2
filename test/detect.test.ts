import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ArrayDataset, ElectraModel, Trainer, buildWordVocab, electraConfig, toyCorpus, toyExamples } from '../lib';
import { exportHf } from '../lib/io/hf-export';

const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');

interface Row {
  token: string;
  id: number;
  p_replaced: number;
}
const TEXT = 'the old cat sees the dog . a young bird follows the king near the river .';
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('electra-native detect', () => {
  let run: string;
  const detect = (model: string) => {
    const r = spawnSync(process.execPath, [BIN, 'detect', '--model', model, '--json', TEXT], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as Row[];
  };
  beforeAll(async () => {
    run = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-detect-'));
    const docs = toyCorpus(100, 4);
    const vocab = buildWordVocab(docs);
    // A LayerNorm epsilon other than HF's default 1e-12, so that an export that loses it changes p.
    const model = ElectraModel.create(electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 64, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4, layerNormEps: 1e-5 }));
    const t = new Trainer({ model, data: new ArrayDataset(toyExamples(docs, vocab, 32)), batchSize: 8, seqLen: 32, optimizer: { lr: 2e-3, warmupSteps: 5, totalSteps: 40 } });
    await t.train({ steps: 40 });
    await t.saveCheckpoint(path.join(run, 'checkpoint'));
    fs.writeFileSync(path.join(run, 'vocab.txt'), vocab.tokens.join('\n') + '\n');
    await exportHf(model, path.join(run, 'hf'), { vocab: vocab.tokens });
  });
  afterAll(() => fs.rmSync(run, { recursive: true, force: true }));

  test.each([['a run directory', ''], ['an HF export', 'hf']])('--json gives [{token, id, p_replaced}] from %s', (_what, sub) => {
    const r = spawnSync(process.execPath, [BIN, 'detect', '--model', path.join(run, sub), '--json', 'the old cat sees the dog .'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ token: string; id: number; p_replaced: number }>;
    expect(rows.map((x) => x.token)).toEqual(['[CLS]', 'the', 'old', 'cat', 'sees', 'the', 'dog', '.', '[SEP]']);
    for (const x of rows) expect(x.p_replaced >= 0 && x.p_replaced <= 1).toBe(true);
  });

  test("p_replaced is the sigmoid of the discriminator's logit, and a run and its HF export give the same p", async () => {
    // The logits come from the model's own forward pass; that this pass
    // matches HF transformers' ElectraForPreTraining is export.test.ts's job.
    // Mutations checked by hand: detect printing 1 - p (the sigmoid of the
    // negated logit) fails the first check; the export writing no
    // layer_norm_eps into config.json (so a load falls back to HF's 1e-12, not
    // this model's 1e-5) fails the last.
    const fromRun = detect(run);
    const ids = Int32Array.from(fromRun.map((x) => x.id));
    const model = await ElectraModel.load(path.join(run, 'checkpoint'), { device: 'cpu' });
    const logits = await model.discriminate({ inputIds: ids, tokenTypeIds: new Int32Array(ids.length), attentionMask: new Int32Array(ids.length).fill(1), rows: 1, seqLen: ids.length });
    expect(logits).toHaveLength(fromRun.length);
    expect(Math.max(...fromRun.map((x, i) => Math.abs(x.p_replaced - sigmoid(logits[i]))))).toBeLessThan(1e-9);
    // At p = 0.5 everywhere, 1 - p and p would be indistinguishable.
    expect(Math.max(...fromRun.map((x) => Math.abs(x.p_replaced - 0.5)))).toBeGreaterThan(0.05);
    expect(detect(path.join(run, 'hf'))).toEqual(fromRun);
  });

  test('prints a readable table, and fails clearly on a missing model', () => {
    const r = spawnSync(process.execPath, [BIN, 'detect', '--model', run, 'the cat'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[1]).toMatch(/^the\s+\d+\s+0\.\d{3}\s+[█·]{20}$/);
    const bad = spawnSync(process.execPath, [BIN, 'detect', '--model', path.join(run, 'nope'), 'x'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ERR_IO: .*nope/);
  });
});
