/**
 * The embedded evaluation tasks, built from the tagged Brown corpus by
 * scripts/corpus/convert-brown-tasks.js and shipped in corpus/eval/ (see
 * corpus/NOTICE for the split and sizes):
 *  - 'brown-pos': universal part-of-speech tags (12) per word, CoNLL-style;
 *  - 'brown-genre': Brown's 15 categories for passages of 3 sentences, TSV.
 * The test split is the documents held out of the pre-training corpus.
 */
import * as path from 'node:path';

import { ElectraError } from '../../errors';
import type { TaskSpec } from '../task';
import { readConll } from './conll';
import type { TaskData, TextExample, TokenExample } from './examples';
import { readTable } from './generic';
import { readDataFile } from './text';

export type BrownTaskName = 'brown-pos' | 'brown-genre';
export type BrownSplit = 'train' | 'dev' | 'test';

export const BROWN_TASKS: readonly BrownTaskName[] = ['brown-pos', 'brown-genre'];
export const BROWN_SPLITS: readonly BrownSplit[] = ['train', 'dev', 'test'];

/** The universal tagset (Petrov et al. 2012) in label order; must equal UNIVERSAL_TAGS of the converter (tested). */
export const BROWN_POS_TAGS: readonly string[] = ['ADJ', 'ADP', 'ADV', 'CONJ', 'DET', 'NOUN', 'NUM', 'PRT', 'PRON', 'VERB', '.', 'X'];

/** Brown's categories A..R in file-prefix order, named as NLTK names them; must equal the converter's GENRES (tested). */
export const BROWN_GENRES: readonly string[] = [
  'news',
  'editorial',
  'reviews',
  'religion',
  'hobbies',
  'lore',
  'belles_lettres',
  'government',
  'learned',
  'fiction',
  'mystery',
  'science_fiction',
  'adventure',
  'romance',
  'humor',
];

/** The TaskSpec of each Brown task (the first metric picks the checkpoint). */
export const BROWN_SPECS: Readonly<Record<BrownTaskName, TaskSpec>> = {
  'brown-pos': { name: 'brown-pos', kind: 'token', labels: [...BROWN_POS_TAGS], metrics: ['token_accuracy', 'token_macro_f1'] },
  'brown-genre': { name: 'brown-genre', kind: 'classification', labels: [...BROWN_GENRES], metrics: ['accuracy', 'macro_f1'] },
};

/** The package root (this file is lib/finetune/data/*.ts under ts-jest, dist/finetune/data/*.js when built). */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..', '..');

/** The shipped file of a Brown task's split. */
export function brownTaskFile(task: BrownTaskName, split: BrownSplit): string {
  const ext = task === 'brown-pos' ? 'conll' : 'tsv';
  return path.join(PACKAGE_ROOT, 'corpus', 'eval', `${task}-${split}.${ext}.gz`);
}

export interface BrownLoadOptions {
  /** Keep at most this many examples, evenly spaced over the split (deterministic). Default: all. */
  limit?: number;
}

function check(task: string, split: string, limit: number | undefined): void {
  if (!(BROWN_TASKS as readonly string[]).includes(task)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown Brown task '${task}' (known: ${BROWN_TASKS.join(', ')})`);
  }
  if (!(BROWN_SPLITS as readonly string[]).includes(split)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown split '${split}' (known: ${BROWN_SPLITS.join(', ')})`);
  }
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `limit must be an integer >= 1, got ${limit}`);
  }
}

/** `limit` evenly spaced items of `items` (the converter's rule), all when there are no more. */
function evenlySpaced<T>(items: T[], limit: number | undefined): T[] {
  if (limit === undefined || items.length <= limit) return items;
  const out: T[] = [];
  for (let k = 0; k < limit; k++) out.push(items[Math.floor((k * items.length) / limit)]);
  return out;
}

/** Loads a split of an embedded Brown task: its examples and TaskSpec; `rows` is the number read before `limit`. */
export function loadBrownTask(task: 'brown-pos', split: BrownSplit, opts?: BrownLoadOptions): TaskData<TokenExample>;
export function loadBrownTask(task: 'brown-genre', split: BrownSplit, opts?: BrownLoadOptions): TaskData<TextExample>;
export function loadBrownTask(task: BrownTaskName, split: BrownSplit, opts?: BrownLoadOptions): TaskData;
export function loadBrownTask(task: BrownTaskName, split: BrownSplit, opts: BrownLoadOptions = {}): TaskData {
  check(task, split, opts.limit);
  const file = brownTaskFile(task, split);
  const spec = BROWN_SPECS[task];
  const bytes = readDataFile(file);
  const data =
    task === 'brown-pos'
      ? readConll(bytes, file, { labels: spec.labels, requireLabels: true, name: spec.name, metrics: spec.metrics })
      : readTable(bytes, file, {
          format: 'tsv',
          textColumn: 'text',
          labelColumn: 'label',
          idColumn: 'id',
          requireLabels: true,
          labels: spec.labels,
          name: spec.name,
          metrics: spec.metrics,
        });
  const examples = evenlySpaced(data.examples as (TextExample | TokenExample)[], opts.limit);
  return { ...data, examples } as TaskData;
}
