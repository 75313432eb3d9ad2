// Type-checks under module commonjs (classic node resolution: package.json
// "types", no exports map) with esModuleInterop: the README's import.
import Trainer, { ElectraModel, AdamW, ArrayDataset, electraConfig } from 'electra-native';
import type { StepMetrics } from 'electra-native';

const model = ElectraModel.create(electraConfig({ preset: 'tiny', vocabSize: 16, maxPosition: 32 }), { device: 'cpu' });
const trainer = new Trainer({ model, data: new ArrayDataset([{ ids: [2, 5, 3] }]), optimizer: new AdamW({ lr: 1e-3, totalSteps: 2 }) });
export const run = (): Promise<unknown> => trainer.train({ steps: 2, onStep: (m: StepMetrics) => void m.loss });
