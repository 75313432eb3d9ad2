"""Writes test/golden/metrics.json: fine-tuning metric values computed with
numpy/scipy on fixed small cases, for test/metrics.test.ts.

    python scripts/reference/make_metrics_golden.py

Formulas (independent of lib/metrics): accuracy and F1 from counts; macro-F1
as sklearn's f1_score(average='macro') over the classes present in gold or
predictions; Matthews correlation as the correlation of the one-hot class
indicator matrices (Gorodkin's R_K, which sklearn's matthews_corrcoef
computes; for two classes it is np.corrcoef of the 0/1 vectors); Pearson and
Spearman from scipy.stats.
"""
import json
import os

import numpy as np
from scipy import stats


def f1_of(pred, gold, c):
    tp = np.sum((pred == c) & (gold == c))
    fp = np.sum((pred == c) & (gold != c))
    fn = np.sum((pred != c) & (gold == c))
    d = 2 * tp + fp + fn
    return 0.0 if d == 0 else 2 * tp / d


def mcc(pred, gold):
    classes = sorted(set(pred.tolist()) | set(gold.tolist()))
    x = np.array([[g == c for c in classes] for g in gold], dtype=np.float64)
    y = np.array([[p == c for c in classes] for p in pred], dtype=np.float64)
    x -= x.mean(axis=0)
    y -= y.mean(axis=0)
    sxy, sxx, syy = np.sum(x * y), np.sum(x * x), np.sum(y * y)
    return 0.0 if sxx * syy == 0 else float(sxy / np.sqrt(sxx * syy))


def classification_case(name, pred, gold):
    pred, gold = np.array(pred), np.array(gold)
    classes = sorted((set(pred.tolist()) | set(gold.tolist())) - {-1})
    return {
        "name": name,
        "pred": pred.tolist(),
        "gold": gold.tolist(),
        "accuracy": float(np.mean(pred == gold)),
        "f1": float(f1_of(pred, gold, 1)),
        "macro_f1": float(np.mean([f1_of(pred, gold, c) for c in classes])),
        "mcc": mcc(pred, gold),
    }


def regression_case(name, x, y):
    return {
        "name": name,
        "pred": [float(v) for v in x],
        "gold": [float(v) for v in y],
        "pearson": float(stats.pearsonr(x, y)[0]),
        "spearman": float(stats.spearmanr(x, y)[0]),
    }


def main():
    rng = np.random.default_rng(20261203)
    cls = [
        classification_case("binary hand", [1, 0, 1, 1, 0, 1, 0, 0], [1, 0, 0, 1, 0, 1, 1, 0]),
        classification_case("binary all wrong", [0, 1, 0, 1], [1, 0, 1, 0]),
        classification_case("binary no positive predicted", [0, 0, 0, 0, 0], [1, 0, 1, 0, 0]),
        classification_case("three classes", [0, 2, 1, 1, 0, 2, 2, 1, 0], [0, 1, 1, 2, 0, 2, 2, 1, 1]),
        classification_case("with no-prediction -1", [0, -1, 2, 1, -1, 3], [0, 1, 2, 1, 3, 3]),
        classification_case("binary random 200", rng.integers(0, 2, 200), rng.integers(0, 2, 200)),
        classification_case("12 classes random 500", rng.integers(0, 12, 500), rng.integers(0, 12, 500)),
    ]
    # A correlated 12-class case (most predictions right), like a tagger's output.
    g = rng.integers(0, 12, 400)
    p = np.where(rng.random(400) < 0.8, g, rng.integers(0, 12, 400))
    cls.append(classification_case("12 classes 80% right", p, g))

    x = rng.normal(size=50)
    reg = [
        regression_case("hand", [1.0, 2.0, 3.0, 4.0, 5.0], [2.0, 1.0, 4.0, 3.0, 5.5]),
        regression_case("ties", [1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 0.5], [0.0, 2.5, 1.0, 2.5, 4.0, 2.5, 0.0]),
        regression_case("random 50", x, 0.6 * x + 0.8 * rng.normal(size=50)),
        regression_case("sts-like rounded", np.round(rng.uniform(0, 5, 60), 1), np.round(rng.uniform(0, 5, 60), 0)),
    ]
    out = os.path.join(os.path.dirname(__file__), "..", "..", "test", "golden", "metrics.json")
    # One case per line: readable diffs, small file.
    lines = [json.dumps(c) for c in cls + reg]
    versions = json.dumps({"numpy": np.__version__, "scipy": __import__("scipy").__version__})
    with open(out, "w") as f:
        f.write('{"versions": %s,\n"cases": [\n%s\n]}\n' % (versions, ",\n".join(lines)))
    print("wrote", os.path.normpath(out))


if __name__ == "__main__":
    main()
