/**
 * CoNLL-style token files: one word per line with its tag in the last
 * whitespace-separated column (so both `word TAG` and CoNLL-2003's
 * `word POS chunk NER` work), a blank line between sentences. A file whose
 * lines hold only the word is read unlabeled (for prediction). Lines starting
 * with `-DOCSTART-` mark document boundaries in CoNLL-2003; they end the
 * current sentence and are not words.
 */
import type { TaskSpec } from '../task';
import { DEFAULT_METRICS } from './generic';
import { inferLabelSet, LabelMap, TaskData, TokenExample } from './examples';
import { dataError, decodeUtf8, readDataFile, splitLines } from './text';

export interface ConllReadOptions {
  /** The tag set, in index order. Default: inferred from this file (pass the training file's tags for dev/test). */
  labels?: readonly string[];
  /** A file without tags is an error instead of an unlabeled file. Default false. */
  requireLabels?: boolean;
  /** TaskSpec name. Default 'custom-tokens'. */
  name?: string;
  /** TaskSpec metrics. Default DEFAULT_METRICS.token. */
  metrics?: readonly string[];
}

interface RawSentence {
  line: number;
  words: string[];
  tags: { value: string; line: number; column: number }[];
}

/** Reads a CoNLL-style file from its bytes (or decoded text); `file` names it in errors. */
export function readConll(data: Uint8Array | string, file: string, opts: ConllReadOptions = {}): TaskData<TokenExample> {
  const text = typeof data === 'string' ? data : decodeUtf8(data, file);
  const sentences: RawSentence[] = [];
  let cur: RawSentence | null = null;
  let width = -1; // columns per word line, fixed by the first one
  let widthLine = 0;
  splitLines(text).forEach((l, i) => {
    const line = i + 1;
    const trimmed = l.trim();
    if (trimmed === '' || trimmed.startsWith('-DOCSTART-')) {
      if (cur) sentences.push(cur);
      cur = null;
      return;
    }
    const fields = trimmed.split(/\s+/);
    if (width < 0) {
      width = fields.length;
      widthLine = line;
    } else if (fields.length !== width) {
      throw dataError(
        file,
        { line, column: Math.min(fields.length, width) + 1 },
        `ragged row: ${fields.length} column${fields.length === 1 ? '' : 's'}, line ${widthLine} has ${width}`,
      );
    }
    if (!cur) cur = { line, words: [], tags: [] };
    cur.words.push(fields[0]);
    if (width > 1) cur.tags.push({ value: fields[width - 1], line, column: width });
  });
  if (cur) sentences.push(cur);

  const labeled = width > 1;
  if (!labeled && opts.requireLabels) {
    throw dataError(file, widthLine > 0 ? { line: widthLine } : null, 'has no tag column (expected `word TAG` lines)');
  }
  const labels = labeled
    ? opts.labels
      ? [...opts.labels]
      : inferLabelSet(sentences.flatMap((s) => s.tags.map((t) => t.value)))
    : [...(opts.labels ?? [])];
  const map = new LabelMap(labels);
  const examples: TokenExample[] = sentences.map((s, k) => {
    const ex: TokenExample = { line: s.line, id: String(k), words: s.words };
    if (labeled) ex.tags = s.tags.map((t) => map.indexOf(t.value, file, t.line, t.column));
    return ex;
  });
  const spec: TaskSpec = {
    name: opts.name ?? 'custom-tokens',
    kind: 'token',
    labels,
    metrics: [...(opts.metrics ?? DEFAULT_METRICS.token)],
  };
  return { file, spec, examples, rows: examples.length, labeled };
}

/** Reads a CoNLL-style file from disk (gzip when it ends in .gz); see readConll. */
export function readConllFile(file: string, opts: ConllReadOptions = {}): TaskData<TokenExample> {
  return readConll(readDataFile(file), file, opts);
}
