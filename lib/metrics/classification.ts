/**
 * Metrics over class indices, as scikit-learn defines them (the GLUE
 * reference scorer calls sklearn): accuracy_score, f1_score (binary,
 * pos_label=1), matthews_corrcoef and f1_score(average='macro'). Where sklearn
 * warns about a zero division it returns 0, and so do these.
 *
 * A prediction of -1 means "no prediction" (e.g. a word cut off by
 * truncation): it is never equal to a gold class, and it is not a class of
 * its own for the F1 averages.
 */

type Ints = ArrayLike<number>;

/** The fraction of positions where prediction equals gold. */
export function accuracy(pred: Ints, gold: Ints): number {
  let right = 0;
  for (let i = 0; i < gold.length; i++) if (pred[i] === gold[i]) right++;
  return right / gold.length;
}

/** F1 of class `positive` (GLUE: 1): 2TP / (2TP + FP + FN), 0 when nothing is positive in either. */
export function f1(pred: Ints, gold: Ints, positive = 1): number {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < gold.length; i++) {
    const p = pred[i] === positive;
    const g = gold[i] === positive;
    if (p && g) tp++;
    else if (p) fp++;
    else if (g) fn++;
  }
  const d = 2 * tp + fp + fn;
  return d === 0 ? 0 : (2 * tp) / d;
}

/** The mean over classes of per-class F1; the classes are those that occur in gold or predictions. */
export function macroF1(pred: Ints, gold: Ints): number {
  const tp = new Map<number, number>();
  const fp = new Map<number, number>();
  const fn = new Map<number, number>();
  const inc = (m: Map<number, number>, k: number) => m.set(k, (m.get(k) ?? 0) + 1);
  const classes = new Set<number>();
  for (let i = 0; i < gold.length; i++) {
    const p = pred[i];
    const g = gold[i];
    classes.add(g);
    if (p >= 0) classes.add(p);
    if (p === g) inc(tp, g);
    else {
      if (p >= 0) inc(fp, p);
      inc(fn, g);
    }
  }
  let sum = 0;
  for (const c of classes) {
    const t = tp.get(c) ?? 0;
    const d = 2 * t + (fp.get(c) ?? 0) + (fn.get(c) ?? 0);
    sum += d === 0 ? 0 : (2 * t) / d;
  }
  return sum / classes.size;
}

/**
 * Matthews correlation coefficient, sklearn's multiclass form (Gorodkin's
 * R_K) over the confusion matrix; for two classes it is the usual
 * (TP·TN − FP·FN) / sqrt(...). 0 when either marginal is constant.
 */
export function matthews(pred: Ints, gold: Ints): number {
  const t = new Map<number, number>(); // gold counts per class
  const p = new Map<number, number>(); // predicted counts per class
  let correct = 0;
  const n = gold.length;
  for (let i = 0; i < n; i++) {
    t.set(gold[i], (t.get(gold[i]) ?? 0) + 1);
    p.set(pred[i], (p.get(pred[i]) ?? 0) + 1);
    if (pred[i] === gold[i]) correct++;
  }
  let tp = 0;
  for (const [k, c] of t) tp += c * (p.get(k) ?? 0);
  let pp = 0;
  for (const c of p.values()) pp += c * c;
  let tt = 0;
  for (const c of t.values()) tt += c * c;
  const cov = correct * n - tp;
  const d = (n * n - pp) * (n * n - tt);
  return d === 0 ? 0 : cov / Math.sqrt(d);
}
