import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ArrayDataset, ElectraModel, Trainer, electraConfig, toyCorpus, buildWordVocab, toyExamples } from '../lib';
import { CheckpointManager } from '../lib/checkpoints';

describe('CheckpointManager', () => {
  test('saves every N steps, keeps the newest K, and LATEST names a complete checkpoint', async () => {
    const run = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-rot-'));
    try {
      const docs = toyCorpus(40, 2);
      const vocab = buildWordVocab(docs);
      const model = ElectraModel.create(electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 32, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 }));
      const t = new Trainer({ model, data: new ArrayDataset(toyExamples(docs, vocab, 32)), batchSize: 2, seqLen: 32, optimizer: { lr: 1e-3, totalSteps: 20 } });
      const cm = new CheckpointManager(run, { everySteps: 2, keep: 2 });
      const saved: number[] = [];
      await t.train({ steps: 7, onStep: async (m) => void (cm.due(m.step) && saved.push(m.step) && (await cm.save(t, { 'vocab.txt': vocab.tokens.join('\n') }))) });
      expect(saved).toEqual([2, 4, 6]);
      expect(cm.list()).toEqual(['step-000004', 'step-000006']);
      const latest = CheckpointManager.latest(run)!;
      expect(path.basename(latest)).toBe('step-000006');
      expect(fs.existsSync(path.join(latest, 'vocab.txt'))).toBe(true);
      expect(JSON.parse(fs.readFileSync(path.join(latest, 'trainer.json'), 'utf8')).step).toBe(6);
      expect(CheckpointManager.latest(latest)).toBe(latest);
      expect(CheckpointManager.latest(path.join(run, 'nothing'))).toBeNull();
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});
