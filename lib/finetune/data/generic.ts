/**
 * Generic labelled text files: CSV (RFC 4180, header row), TSV (header row,
 * no quoting) or JSON Lines (one object per line), with the text, optional
 * text-pair and label columns named by the caller.
 */
import * as path from 'node:path';

import { ElectraError } from '../../errors';
import type { TaskKind, TaskSpec } from '../task';
import { checkWidth, headerIndex, parseCsv, parseTsv } from './delimited';
import { inferLabelSet, LabelMap, parseTarget, TaskData, TextExample } from './examples';
import { dataError, decodeUtf8, readDataFile, splitLines } from './text';

export type TableFormat = 'csv' | 'tsv' | 'jsonl';

/** The metrics a generic task gets when the caller names none (first one picks the checkpoint). */
export const DEFAULT_METRICS: Readonly<Record<TaskKind, readonly string[]>> = {
  classification: ['accuracy', 'macro_f1'],
  regression: ['pearson', 'spearman'],
  token: ['token_accuracy', 'token_macro_f1'],
};

export interface TableReadOptions {
  /** Default: from the file extension (.csv; .tsv/.tab; .jsonl/.ndjson). */
  format?: TableFormat;
  /** The column (JSONL: key) holding the text. */
  textColumn: string;
  /** The column of the second segment, for pair tasks. */
  pairColumn?: string;
  /** The label column. When the file has no such column it is read unlabeled, unless requireLabels. */
  labelColumn?: string;
  /** A file without the label column is an error instead of an unlabeled file. Default false. */
  requireLabels?: boolean;
  /** Default 'classification'. */
  kind?: 'classification' | 'regression';
  /**
   * The label set (classification), in index order. Default: inferred from
   * this file (see inferLabelSet); pass the training file's labels when
   * reading its dev/test files, so that an unknown label is an error.
   */
  labels?: readonly string[];
  /** The id column (JSONL: key). Default: 'id' or 'index' when present, else the row number. */
  idColumn?: string;
  /** TaskSpec name. Default 'custom'. */
  name?: string;
  /** TaskSpec metrics. Default DEFAULT_METRICS[kind]. */
  metrics?: readonly string[];
}

/** The format a file name implies, or undefined. */
export function formatOf(file: string): TableFormat | undefined {
  const ext = path.extname(file.replace(/\.gz$/i, '')).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.tsv' || ext === '.tab') return 'tsv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  return undefined;
}

/** One raw row: where it starts and a cell getter by column name (undefined when absent). */
interface RawRow {
  line: number;
  get(name: string): { value: string; column?: number } | undefined;
}

function delimitedRows(text: string, file: string, format: 'csv' | 'tsv'): { columns: Set<string>; rows: RawRow[] } {
  const all = format === 'csv' ? parseCsv(text, file) : parseTsv(text);
  if (all.length === 0) throw dataError(file, null, 'is empty (expected a header row)');
  const header = all[0];
  const idx = headerIndex(header, file);
  const rows: RawRow[] = [];
  for (let k = 1; k < all.length; k++) {
    const r = all[k];
    checkWidth(r, header.fields.length, file, 'the header');
    rows.push({
      line: r.line,
      get: (name) => {
        const c = idx.get(name);
        return c === undefined ? undefined : { value: r.fields[c], column: c + 1 };
      },
    });
  }
  return { columns: new Set(idx.keys()), rows };
}

function cellString(v: unknown, file: string, line: number, key: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw dataError(file, { line, columnName: key }, `expected a string, number or boolean, got ${v === null ? 'null' : typeof v}`);
}

function jsonlRows(text: string, file: string): { columns: Set<string>; rows: RawRow[] } {
  const rows: RawRow[] = [];
  const columns = new Set<string>();
  splitLines(text).forEach((l, i) => {
    const line = i + 1;
    if (l.trim() === '') return; // a blank line is not a record in JSON Lines
    let obj: unknown;
    try {
      obj = JSON.parse(l);
    } catch (e) {
      const m = /position (\d+)/.exec((e as Error).message);
      throw dataError(file, { line, column: m ? Number(m[1]) + 1 : undefined }, `invalid JSON: ${(e as Error).message}`);
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw dataError(file, { line }, 'expected a JSON object per line');
    }
    const o = obj as Record<string, unknown>;
    for (const k of Object.keys(o)) columns.add(k);
    rows.push({
      line,
      get: (name) => (Object.prototype.hasOwnProperty.call(o, name) ? { value: cellString(o[name], file, line, name) } : undefined),
    });
  });
  return { columns, rows };
}

/**
 * Reads a CSV/TSV/JSONL file of text (pair) examples from its bytes (or
 * decoded text). `file` names it in errors and picks the format by extension.
 */
export function readTable(data: Uint8Array | string, file: string, opts: TableReadOptions): TaskData<TextExample> {
  const format = opts.format ?? formatOf(file);
  if (!format) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `${file}: cannot tell the format from the extension; pass format 'csv', 'tsv' or 'jsonl'`);
  }
  const kind = opts.kind ?? 'classification';
  const text = typeof data === 'string' ? data : decodeUtf8(data, file);
  const { columns, rows } = format === 'jsonl' ? jsonlRows(text, file) : delimitedRows(text, file, format);
  const headerLine = format === 'jsonl' ? undefined : 1;

  // A JSONL record lacking a named key is reported at its own line; a CSV/TSV header lacking a column at line 1.
  const required = [opts.textColumn, ...(opts.pairColumn !== undefined ? [opts.pairColumn] : [])];
  if (opts.requireLabels && opts.labelColumn !== undefined) required.push(opts.labelColumn);
  if (opts.requireLabels && opts.labelColumn === undefined) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `${file}: labels are required but no label column was named`);
  }
  if (headerLine !== undefined) {
    for (const c of required) {
      if (!columns.has(c)) throw dataError(file, { line: headerLine }, `missing column '${c}' (header: ${[...columns].join(' | ')})`);
    }
  }
  const labeled = opts.labelColumn !== undefined && (columns.has(opts.labelColumn) || opts.requireLabels === true);
  const idName = opts.idColumn ?? (columns.has('id') ? 'id' : columns.has('index') ? 'index' : undefined);

  const cell = (r: RawRow, name: string): { value: string; column?: number } => {
    const c = r.get(name);
    if (!c) throw dataError(file, { line: r.line }, `missing column '${name}'`);
    return c;
  };

  let labelMap: LabelMap | undefined;
  let labels: string[] = [];
  if (labeled && kind === 'classification') {
    labels = opts.labels ? [...opts.labels] : inferLabelSet(rows.map((r) => cell(r, opts.labelColumn!).value));
    labelMap = new LabelMap(labels);
  } else if (kind === 'classification' && opts.labels) {
    labels = [...opts.labels];
  }

  const examples: TextExample[] = rows.map((r, k) => {
    const ex: TextExample = {
      line: r.line,
      id: idName !== undefined ? cell(r, idName).value : String(k),
      text: cell(r, opts.textColumn).value,
    };
    if (opts.pairColumn !== undefined) ex.pair = cell(r, opts.pairColumn).value;
    if (labeled) {
      const c = cell(r, opts.labelColumn!);
      ex.label =
        kind === 'regression'
          ? parseTarget(c.value, file, r.line, c.column, opts.labelColumn)
          : labelMap!.indexOf(c.value, file, r.line, c.column, opts.labelColumn);
    }
    return ex;
  });
  const spec: TaskSpec = {
    name: opts.name ?? 'custom',
    kind,
    labels: kind === 'regression' ? [] : labels,
    metrics: [...(opts.metrics ?? DEFAULT_METRICS[kind])],
  };
  return { file, spec, examples, rows: examples.length, labeled };
}

/** Reads a CSV/TSV/JSONL file from disk (see readTable). */
export function readTableFile(file: string, opts: TableReadOptions): TaskData<TextExample> {
  return readTable(readDataFile(file), file, opts);
}
