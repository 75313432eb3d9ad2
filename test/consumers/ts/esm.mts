// Type-checks under module nodenext as an ES module: the README's import.
import Trainer, { ElectraModel, AdamW, ArrayDataset, ElectraError, electraConfig } from 'electra-native';
import type { ElectraConfig, Example, StepMetrics, TrainerOptions } from 'electra-native';

const examples: Example[] = [{ ids: [2, 5, 6, 3] }];
const config: ElectraConfig = electraConfig({ preset: 'tiny', vocabSize: 16, maxPosition: 32 });
const options: TrainerOptions = {
  model: ElectraModel.create(config, { seed: 0, device: 'cpu' }),
  data: new ArrayDataset(examples),
  optimizer: new AdamW({ lr: 1e-3, totalSteps: 2 }),
  batchSize: 2,
  seqLen: 32,
};
const trainer: Trainer = new Trainer(options);
export async function twoSteps(): Promise<number[]> {
  const losses: number[] = [];
  await trainer.train({ steps: 2, onStep: (m: StepMetrics) => void losses.push(m.loss) });
  return losses;
}
export const isElectraError = (e: unknown): e is ElectraError => e instanceof ElectraError;
