// Type-checks under module nodenext as a CommonJS module: import = require,
// its named exports and its default.
import electra = require('electra-native');
import Trainer, { ElectraModel, ArrayDataset, electraConfig } from 'electra-native';

const config: electra.ElectraConfig = electraConfig({ preset: 'tiny', vocabSize: 16, maxPosition: 32 });
const model: electra.ElectraModel = ElectraModel.create(config, { device: 'cpu' });
const viaDefault: electra.Trainer = new electra.default({ model, data: new ArrayDataset([{ ids: [2, 5, 3] }]) });
const viaNamed: InstanceType<typeof electra.Trainer> = new Trainer({ model, data: new ArrayDataset([{ ids: [2, 5, 3] }]) });
export = { viaDefault, viaNamed };
