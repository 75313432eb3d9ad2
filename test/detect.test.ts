import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ArrayDataset, ElectraModel, Trainer, buildWordVocab, electraConfig, toyCorpus, toyExamples } from '../lib';
import { exportHf } from '../lib/io/hf-export';

const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');

describe('electra-native detect', () => {
  let run: string;
  beforeAll(async () => {
    run = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-detect-'));
    const docs = toyCorpus(100, 4);
    const vocab = buildWordVocab(docs);
    const model = ElectraModel.create(electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 64, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 }));
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

  test('prints a readable table, and fails clearly on a missing model', () => {
    const r = spawnSync(process.execPath, [BIN, 'detect', '--model', run, 'the cat'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[1]).toMatch(/^the\s+\d+\s+0\.\d{3}\s+[█·]{20}$/);
    const bad = spawnSync(process.execPath, [BIN, 'detect', '--model', path.join(run, 'nope'), 'x'], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ERR_IO: .*nope/);
  });
});
