/**
 * electra-native: ELECTRA pre-training for Node.js with a C++/CUDA core.
 */
export { ElectraError, ELECTRA_ERROR_CODES, isElectraErrorCode, toElectraError } from './errors';
export type { ElectraErrorCode } from './errors';
export { getInfo } from './info';
export type { BackendInfo, CudaDeviceInfo } from './info';
export { loadNative } from './native';
export type { NativeBinary, NativeBinding, NativeInfo, NativeDebugOps, NativeBuildInfo } from './native';
export { CUDA_DRIVER_MINIMUM, checkDriver, driverNeeded, parseNvidiaDriverVersion } from './driver';
export type { DriverCheck, MachineInfo } from './driver';

// The training API.
import { Trainer } from './trainer';
export default Trainer;
export { Trainer, TRAINER_STATE_FILE, OPTIMIZER_FILE } from './trainer';
export type { TrainerOptions, ResumeOptions, LossMetrics, StepMetrics, EvalMetrics, TrainRunOptions, TrainResult } from './trainer';
export { parseDevice, parsePrecision, formatCudaVersion, cudaVersions, deviceLabel, deviceMatches } from './device';
export type { Device, DeviceLabel, DeviceNotice, DeviceOptions, DeviceRequest, Precision, ResolvedDevice } from './device';
export { ElectraModel, MODEL_FILE, CONFIG_FILE, hfConfig } from './model';
export type { TensorSpec, TokenBatch, LoadOptions, CreateOptions, MemoryInfo } from './model';
export { AdamW } from './optimizer';
export { aucFromHistograms, addHistogram, constantBaselineLoss } from './metrics/auc';
export { configSchema, trainDefaults, modelDefaults, stepMetricNames } from './defaults';
export { presetRecipe, resolveRecipe, microBatch, TRAINING_KEYS } from './recipe';
export type { TrainingRecipe, RunRecipe } from './recipe';
export type { MaskingMode, NativeConfigSchema } from './native-model';
export type { AdamWOptions, AdamWHyperParameters } from './optimizer';
export { electraConfig, generatorSize, validateConfig, PRESETS, BERT_SPECIAL_IDS } from './config';
export type { ElectraConfig, EncoderSize, Objective, PresetName, Preset, Recipe, ConfigOptions } from './config';
export { ArrayDataset } from './data/array-dataset';
export type { BatchSource, Example, ArrayDatasetState } from './data/array-dataset';
export { toyCorpus, buildWordVocab, toyExamples } from './data/toy-corpus';
export type { WordVocab } from './data/toy-corpus';
export { parseSafetensors, serializeSafetensors, toFloat32, toInt32 } from './io/safetensors';
export type { DType, TensorEntry, SafetensorsFile, TensorToWrite } from './io/safetensors';
export { exportHf } from './io/hf-export';
export type { ExportOptions } from './io/hf-export';
export { buildDataset, ExampleBuilder, DEFAULT_CHUNK_BYTES } from './data/dataset-builder';
export type { BuildDatasetOptions, BuildProgress, BuildResult } from './data/dataset-builder';
export { ShardDataset, epochPermutation } from './data/shard-reader';
export type { ShardDatasetOptions, ShardDatasetState } from './data/shard-reader';
export type { DatasetManifest } from './data/dataset-format';
export { WordPieceTokenizer, BERT_UNCASED_VOCAB, SPECIAL_TOKENS } from './data/tokenizer';
export type { TokenizerOptions, EncodeOptions, Encoding, DecodeOptions, SpecialToken } from './data/tokenizer';
// Fine-tuning data (GLUE / CSV / TSV / JSONL / CoNLL readers, encoding, the embedded Brown tasks) and metrics.
export {
  readGlue, readGlueFile, glueTask, isGlueTask, GLUE_TASKS, readTable, readTableFile, formatOf, DEFAULT_METRICS,
  readConll, readConllFile, inferLabelSet, encodeExamples, wordPredictions, wordGold, decodeUtf8,
  loadBrownTask, brownTaskFile, BROWN_TASKS, BROWN_SPLITS, BROWN_SPECS, BROWN_POS_TAGS, BROWN_GENRES,
} from './finetune/data';
export type {
  TaskData, TextExample, TokenExample, GlueTask, GlueReadOptions, TableFormat, TableReadOptions, ConllReadOptions,
  Encoded, EncodeExamplesOptions, WordAlignment, BrownTaskName, BrownSplit, BrownLoadOptions,
} from './finetune/data';
export { computeMetrics, METRICS, METRIC_NAMES, accuracy, f1, macroF1, matthews, pearson, spearman } from './metrics';
export type { MetricDef } from './metrics';
export { buildVocab, learnWordPiece, countWords, writeVocab, bertPreTokenize } from './data/vocab-builder';
export type { VocabBuilderOptions, VocabProgress, VocabResult } from './data/vocab-builder';
export { defaultCorpusPaths, defaultDatasetCacheDir, ensureDataset, datasetKey } from './data/default-corpus';
export type { EnsureDatasetOptions, EnsuredDataset } from './data/default-corpus';
// Reliability: sound checkpoints, digests, the run lock, memory planning.
export { assertSound, findUnsound, LossSpikeGuard, MAX_ABS_WEIGHT } from './soundness';
export type { LossSpikeGuardOptions } from './soundness';
export { verifyCheckpoint, writeManifest, MANIFEST_FILE } from './checkpoint-manifest';
export type { CheckpointManifest } from './checkpoint-manifest';
export { crc32c } from './io/checksum';
export { RunLock, LOCK_FILE } from './run-lock';
export type { LockHolder } from './run-lock';
export { planMemory, countParameters, activationBytes } from './memory-plan';
export type { AttentionQkvBf16, AttentionSavedFloats, FfnGeluBf16, MemoryPlan, StepShape } from './memory-plan';

// Fine-tuning: the classifier model, its trainer and the paper's recipe.
export { ClassifierModel, FINETUNE_CONFIG_KEY, argmaxRows } from './finetune/model';
export type { ClassifierConfig, ClassifierCreateOptions, ClassifierSaveOptions, ClassifierTensorSpec, EncoderConfig } from './finetune/model';
export { FinetuneTrainer, FINETUNE_STATE_FILE, FINETUNE_OPTIMIZER_FILE } from './finetune/trainer';
export type { FinetuneTrainerOptions, FinetuneRunOptions, FinetuneResult, FinetuneStepMetrics, FinetuneEvalMetrics } from './finetune/trainer';
export { finetuneRecipe, validateRecipe, recipeSize, FINETUNE_RECIPES, FINETUNE_DEFAULTS, SMALL_TASK_EXAMPLES } from './finetune/recipe';
export type { FinetuneHyperParameters, RecipeSize } from './finetune/recipe';
export type { TaskKind, TaskSpec, EncodedExamples } from './finetune/task';
