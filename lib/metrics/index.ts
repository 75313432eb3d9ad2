/**
 * The fine-tuning metrics by name, and `computeMetrics`, which scores a
 * task's predictions with the metrics its TaskSpec lists.
 *
 * Inputs, per task kind (the same layouts as EncodedExamples.labels):
 *  - classification: class indices, one per example;
 *  - regression: real values, one per example;
 *  - token: tag indices, flat; a gold -1 is "no word here" and is skipped, a
 *    predicted -1 ("no prediction", e.g. a word cut off by truncation) counts
 *    as wrong. Pass word-level arrays (wordPredictions) for the word-level
 *    metric, or per word-piece arrays with the encoded labels as gold, which
 *    score the first piece of every word that fits.
 */
import { ElectraError } from '../errors';
import type { TaskKind, TaskSpec } from '../finetune/task';
import { accuracy, f1, macroF1, matthews } from './classification';
import { pearson, spearman } from './correlation';

export { accuracy, f1, macroF1, matthews } from './classification';
export { averageRanks, pearson, spearman } from './correlation';

/** A metric: its function and the task kinds it applies to. */
export interface MetricDef {
  kinds: readonly TaskKind[];
  fn: (pred: ArrayLike<number>, gold: ArrayLike<number>) => number;
  /** One line for tables and --help. */
  description: string;
}

/** Every metric a TaskSpec may name. */
export const METRICS: Readonly<Record<string, MetricDef>> = {
  accuracy: { kinds: ['classification'], fn: accuracy, description: 'fraction of examples classified right' },
  f1: { kinds: ['classification'], fn: (p, g) => f1(p, g, 1), description: 'F1 of class 1 (GLUE MRPC/QQP)' },
  macro_f1: { kinds: ['classification'], fn: macroF1, description: 'mean per-class F1' },
  mcc: { kinds: ['classification'], fn: matthews, description: 'Matthews correlation (GLUE CoLA)' },
  pearson: { kinds: ['regression'], fn: pearson, description: "Pearson's r (GLUE STS-B)" },
  spearman: { kinds: ['regression'], fn: spearman, description: "Spearman's rho (GLUE STS-B)" },
  token_accuracy: { kinds: ['token'], fn: accuracy, description: 'fraction of words tagged right' },
  token_macro_f1: { kinds: ['token'], fn: macroF1, description: 'mean per-tag F1 over words' },
};

/** The names of the metrics, for validation messages. */
export const METRIC_NAMES = Object.keys(METRICS);

function bad(message: string): ElectraError {
  return new ElectraError('ERR_INVALID_ARGUMENT', message);
}

/**
 * Scores `predictions` against `gold` with every metric of `spec.metrics`,
 * keyed by metric name. A metric that does not apply to the task's kind, a
 * length mismatch, an empty set, a class index outside the label set or a
 * non-finite regression value is an ERR_INVALID_ARGUMENT.
 */
export function computeMetrics(spec: TaskSpec, predictions: ArrayLike<number>, gold: ArrayLike<number>): Record<string, number> {
  if (predictions.length !== gold.length) {
    throw bad(`${spec.name}: ${predictions.length} predictions for ${gold.length} gold labels`);
  }
  let pred = predictions;
  let ref = gold;
  if (spec.kind === 'token') {
    // Keep only the positions with a gold tag.
    const p: number[] = [];
    const g: number[] = [];
    for (let i = 0; i < gold.length; i++) {
      if (gold[i] < 0) continue;
      p.push(predictions[i]);
      g.push(gold[i]);
    }
    pred = p;
    ref = g;
  }
  if (ref.length === 0) throw bad(`${spec.name}: nothing to score (no gold labels)`);
  if (spec.kind === 'regression') {
    for (let i = 0; i < ref.length; i++) {
      if (!Number.isFinite(pred[i]) || !Number.isFinite(ref[i])) {
        throw bad(`${spec.name}: non-finite value at ${i} (prediction ${pred[i]}, gold ${ref[i]})`);
      }
    }
  } else {
    const n = spec.labels.length;
    for (let i = 0; i < ref.length; i++) {
      const g = ref[i];
      const p = pred[i];
      if (!Number.isInteger(g) || g < 0 || g >= n) throw bad(`${spec.name}: gold label ${g} at ${i} is not a class index in [0, ${n})`);
      if (!Number.isInteger(p) || p < -1 || p >= n) throw bad(`${spec.name}: prediction ${p} at ${i} is not a class index in [-1, ${n})`);
    }
  }
  const out: Record<string, number> = {};
  for (const name of spec.metrics) {
    const m = Object.prototype.hasOwnProperty.call(METRICS, name) ? METRICS[name] : undefined;
    if (!m) throw bad(`${spec.name}: unknown metric '${name}' (known: ${METRIC_NAMES.join(', ')})`);
    if (!m.kinds.includes(spec.kind)) throw bad(`${spec.name}: metric '${name}' does not apply to a ${spec.kind} task`);
    out[name] = m.fn(pred, ref);
  }
  return out;
}
