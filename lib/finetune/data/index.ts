/**
 * Fine-tuning data: readers (GLUE TSV by task name, generic CSV/TSV/JSONL,
 * CoNLL-style token files), tokenization into EncodedExamples, and the
 * embedded Brown evaluation tasks (loadBrownTask). Every reader is a pure function of
 * (bytes or text, file name, options); the *File variants add the disk read.
 */
export { BROWN_GENRES, BROWN_POS_TAGS, BROWN_SPECS, BROWN_SPLITS, BROWN_TASKS, brownTaskFile, loadBrownTask } from './brown';
export type { BrownLoadOptions, BrownSplit, BrownTaskName } from './brown';
export { readConll, readConllFile } from './conll';
export type { ConllReadOptions } from './conll';
export { encodeExamples, wordGold, wordPredictions } from './encode';
export type { Encoded, EncodeExamplesOptions, WordAlignment } from './encode';
export { inferLabelSet } from './examples';
export type { TaskData, TextExample, TokenExample } from './examples';
export { DEFAULT_METRICS, formatOf, readTable, readTableFile } from './generic';
export type { TableFormat, TableReadOptions } from './generic';
export { GLUE_TASKS, glueTask, isGlueTask, readGlue, readGlueFile } from './glue';
export type { GlueReadOptions, GlueTask } from './glue';
export { decodeUtf8, firstInvalidUtf8 } from './text';
