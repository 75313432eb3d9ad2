/**
 * What the fine-tuning readers return: examples with their labels already
 * mapped to indices of the task's label set, the TaskSpec, and how many rows
 * were read (every row is an example; readers never drop one).
 */
import type { TaskSpec } from '../task';
import { dataError } from './text';

/** A sentence or sentence pair with an optional label. */
export interface TextExample {
  /** The 1-based line of the file the example starts on (for messages). */
  line: number;
  /** The row's id: the file's `index`/`id` column when it has one, else the 0-based row number. Predictions carry it. */
  id: string;
  text: string;
  /** The second segment of a pair task. */
  pair?: string;
  /** classification: index into `spec.labels`; regression: the target value. Absent in unlabeled (test) files. */
  label?: number;
}

/** A sentence of words with optional word-level tags. */
export interface TokenExample {
  /** The 1-based line of the sentence's first word. */
  line: number;
  /** The 0-based sentence number in its file. */
  id: string;
  words: string[];
  /** Per word, an index into `spec.labels`. Absent in unlabeled files. */
  tags?: number[];
}

/** The result of reading one file. */
export interface TaskData<E extends TextExample | TokenExample = TextExample | TokenExample> {
  /** The file name the examples came from (as given to the reader). */
  file: string;
  spec: TaskSpec;
  examples: E[];
  /** The number of rows (sentences for token files) read: examples.length, unless a loader's `limit` kept fewer. */
  rows: number;
  /** False for a file without labels (e.g. GLUE's test.tsv): the examples have no `label`/`tags`. */
  labeled: boolean;
}

/**
 * The label set of a file when the caller gave none: the distinct values,
 * sorted numerically when every one is a number (so "0","1","2" and "10" keep
 * their order), else by code point. Deterministic whatever the row order, so
 * a train and a dev file with the same labels agree.
 */
export function inferLabelSet(values: Iterable<string>): string[] {
  const set = [...new Set(values)];
  const numeric = set.every((v) => v.trim() !== '' && Number.isFinite(Number(v)));
  return numeric ? set.sort((a, b) => Number(a) - Number(b) || (a < b ? -1 : a > b ? 1 : 0)) : set.sort();
}

/** Maps label names to indices; an unknown one is an error naming the file, line and column. */
export class LabelMap {
  private readonly index = new Map<string, number>();

  constructor(readonly labels: readonly string[]) {
    labels.forEach((l, i) => this.index.set(l, i));
  }

  indexOf(value: string, file: string, line: number, column?: number, columnName?: string): number {
    const k = this.index.get(value);
    if (k === undefined) {
      const known = this.labels.length <= 20 ? ` (known: ${this.labels.map((l) => `'${l}'`).join(', ')})` : '';
      throw dataError(file, { line, column, columnName }, `unknown label '${value}'${known}`);
    }
    return k;
  }
}

/** Parses a regression target; anything but a finite number is an error. */
export function parseTarget(value: string, file: string, line: number, column?: number, columnName?: string): number {
  const v = value.trim() === '' ? NaN : Number(value);
  if (!Number.isFinite(v)) throw dataError(file, { line, column, columnName }, `label '${value}' is not a finite number`);
  return v;
}
