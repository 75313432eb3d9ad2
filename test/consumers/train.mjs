// Node ESM consumer: the README's import, then 2 training steps on the CPU.
// Prints one JSON line: what it checked and the steps' losses.
import Trainer, { ElectraModel, AdamW, ArrayDataset, electraConfig, toyCorpus, buildWordVocab, toyExamples } from 'electra-native';
import * as api from 'electra-native';

if (typeof Trainer !== 'function') throw new Error(`default import is a ${typeof Trainer}, not the Trainer class`);
if (Trainer !== api.Trainer) throw new Error('default import and named Trainer differ');

const docs = toyCorpus(8);
const vocab = buildWordVocab(docs);
const config = electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 32, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 });
const model = ElectraModel.create(config, { seed: 0, device: 'cpu' });
const trainer = new Trainer({
  model,
  data: new ArrayDataset(toyExamples(docs, vocab, 32)),
  optimizer: new AdamW({ lr: 1e-3, totalSteps: 2 }),
  batchSize: 2,
  seqLen: 32,
});
const losses = [];
await trainer.train({ steps: 2, onStep: (m) => void losses.push(m.loss) });
if (losses.length !== 2 || !losses.every(Number.isFinite)) throw new Error(`expected 2 finite losses, got ${JSON.stringify(losses)}`);
console.log(JSON.stringify({ format: 'esm', steps: losses.length, losses }));
