/**
 * The GLUE tasks' TSV layouts (the files of the GLUE benchmark download:
 * train.tsv, dev.tsv, test.tsv per task), read by task name.
 *
 * Columns are found by their header names, as HF's `glue` processors name
 * them, except for CoLA's train/dev files, which have no header (columns:
 * source, label, original judgement, sentence). A file whose header lacks the
 * label column (every test.tsv) is read unlabeled for prediction; its
 * `index` column becomes the example id that GLUE's submission format wants.
 *
 * Label sets are in HF's order (its `glue_processors[task]().get_labels()`),
 * so an exported model's id2label matches HF's. The metrics are the official
 * GLUE ones; the first, used to pick the best checkpoint, is the one the
 * ELECTRA paper reports: Matthews correlation for CoLA, Spearman for STS-B,
 * accuracy for the rest.
 */
import { ElectraError } from '../../errors';
import type { TaskSpec } from '../task';
import { checkWidth, headerIndex, parseTsv, Row } from './delimited';
import { LabelMap, parseTarget, TaskData, TextExample } from './examples';
import { dataError, decodeUtf8, readDataFile } from './text';

/** A GLUE task's layout. */
export interface GlueTask {
  spec: TaskSpec;
  /** Header names of the first and second segment and of the label. */
  text: string;
  pair?: string;
  label: string;
  /** The file names in the task's GLUE directory. */
  files: { train: string; dev: string; test: string };
}

const BINARY = ['0', '1'];
const NLI2 = ['entailment', 'not_entailment'];
const NLI3 = ['contradiction', 'entailment', 'neutral'];
const FILES = { train: 'train.tsv', dev: 'dev.tsv', test: 'test.tsv' };

function task(
  name: string,
  kind: TaskSpec['kind'],
  labels: string[],
  metrics: string[],
  cols: { text: string; pair?: string; label: string },
  files = FILES,
): GlueTask {
  return { spec: { name, kind, labels, metrics }, ...cols, files };
}

/** The GLUE tasks by canonical name. `mnli-mm` is MNLI with the mismatched dev/test files. */
export const GLUE_TASKS: Readonly<Record<string, GlueTask>> = {
  cola: task('cola', 'classification', BINARY, ['mcc', 'accuracy'], { text: 'sentence', label: 'label' }),
  sst2: task('sst2', 'classification', BINARY, ['accuracy'], { text: 'sentence', label: 'label' }),
  mrpc: task('mrpc', 'classification', BINARY, ['accuracy', 'f1'], { text: '#1 String', pair: '#2 String', label: 'Quality' }),
  stsb: task('stsb', 'regression', [], ['spearman', 'pearson'], { text: 'sentence1', pair: 'sentence2', label: 'score' }),
  qqp: task('qqp', 'classification', BINARY, ['accuracy', 'f1'], { text: 'question1', pair: 'question2', label: 'is_duplicate' }),
  mnli: task('mnli', 'classification', NLI3, ['accuracy'], { text: 'sentence1', pair: 'sentence2', label: 'gold_label' }, {
    train: 'train.tsv',
    dev: 'dev_matched.tsv',
    test: 'test_matched.tsv',
  }),
  'mnli-mm': task('mnli-mm', 'classification', NLI3, ['accuracy'], { text: 'sentence1', pair: 'sentence2', label: 'gold_label' }, {
    train: 'train.tsv',
    dev: 'dev_mismatched.tsv',
    test: 'test_mismatched.tsv',
  }),
  qnli: task('qnli', 'classification', NLI2, ['accuracy'], { text: 'question', pair: 'sentence', label: 'label' }),
  rte: task('rte', 'classification', NLI2, ['accuracy'], { text: 'sentence1', pair: 'sentence2', label: 'label' }),
  wnli: task('wnli', 'classification', BINARY, ['accuracy'], { text: 'sentence1', pair: 'sentence2', label: 'label' }),
};

/** The GLUE task for a name as users write it ("SST-2", "sts-b", "MNLI_mm", ...). */
export function glueTask(name: string): GlueTask {
  const key = name.toLowerCase().replace(/[-_]/g, '');
  const canonical = key === 'mnlimm' ? 'mnli-mm' : key;
  const t = Object.prototype.hasOwnProperty.call(GLUE_TASKS, canonical) ? GLUE_TASKS[canonical] : undefined;
  if (!t) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `unknown GLUE task '${name}' (known: ${Object.keys(GLUE_TASKS).join(', ')})`);
  }
  return t;
}

/** Whether `name` is a GLUE task name. */
export function isGlueTask(name: string): boolean {
  try {
    glueTask(name);
    return true;
  } catch {
    return false;
  }
}

export interface GlueReadOptions {
  /** A file without the label column (a test.tsv) is an error instead of being read unlabeled. Default false. */
  requireLabels?: boolean;
}

/** CoLA's train/dev files have no header: source, label, original judgement, sentence. */
const COLA_HEADERLESS = { width: 4, label: 1, text: 3 };

/**
 * Reads one GLUE TSV file of task `taskName` from its bytes (or already
 * decoded text); `file` is the name used in errors and in the result.
 */
export function readGlue(
  taskName: string,
  data: Uint8Array | string,
  file: string,
  opts: GlueReadOptions = {},
): TaskData<TextExample> {
  const t = glueTask(taskName);
  const text = typeof data === 'string' ? data : decodeUtf8(data, file);
  const rows = parseTsv(text);
  const labels = new LabelMap(t.spec.labels);
  const examples: TextExample[] = [];

  const isColaHeaderless = t.spec.name === 'cola' && rows.length > 0 && rows[0].fields[0] !== 'index';
  if (isColaHeaderless) {
    for (const r of rows) {
      checkWidth(r, COLA_HEADERLESS.width, file, "CoLA's headerless train/dev layout");
      examples.push({
        line: r.line,
        id: String(examples.length),
        text: r.fields[COLA_HEADERLESS.text],
        label: labels.indexOf(r.fields[COLA_HEADERLESS.label], file, r.line, COLA_HEADERLESS.label + 1, 'label'),
      });
    }
    return { file, spec: t.spec, examples, rows: examples.length, labeled: true };
  }

  if (rows.length === 0) throw dataError(file, null, `is empty (a GLUE ${t.spec.name} file starts with a header)`);
  const header = rows[0];
  const cols = headerIndex(header, file);
  const need = (name: string): number => {
    const k = cols.get(name);
    if (k === undefined) {
      throw dataError(file, { line: header.line }, `missing column '${name}' for GLUE ${t.spec.name} (header: ${header.fields.join(' | ')})`);
    }
    return k;
  };
  const textCol = need(t.text);
  const pairCol = t.pair !== undefined ? need(t.pair) : -1;
  const labelCol = opts.requireLabels ? need(t.label) : (cols.get(t.label) ?? -1);
  const idCol = cols.get('index') ?? cols.get('id') ?? -1;
  const width = header.fields.length;
  const body: Row[] = rows.slice(1);
  for (const r of body) {
    checkWidth(r, width, file, 'the header');
    const ex: TextExample = {
      line: r.line,
      id: idCol >= 0 ? r.fields[idCol] : String(examples.length),
      text: r.fields[textCol],
    };
    if (pairCol >= 0) ex.pair = r.fields[pairCol];
    if (labelCol >= 0) {
      const v = r.fields[labelCol];
      ex.label =
        t.spec.kind === 'regression'
          ? parseTarget(v, file, r.line, labelCol + 1, t.label)
          : labels.indexOf(v, file, r.line, labelCol + 1, t.label);
    }
    examples.push(ex);
  }
  return { file, spec: t.spec, examples, rows: examples.length, labeled: labelCol >= 0 };
}

/** Reads a GLUE TSV file from disk (see readGlue). */
export function readGlueFile(taskName: string, file: string, opts: GlueReadOptions = {}): TaskData<TextExample> {
  glueTask(taskName); // an unknown task name before any I/O
  return readGlue(taskName, readDataFile(file), file, opts);
}
