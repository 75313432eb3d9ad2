/**
 * Correlations for regression tasks (STS-B), as scipy.stats defines them:
 * pearsonr and spearmanr (Pearson's r of the ranks, ties given their average
 * rank). Both are NaN when either side is constant, as in scipy.
 */

type Reals = ArrayLike<number>;

/** Pearson's correlation coefficient, in float64. */
export function pearson(x: Reals, y: Reals): number {
  const n = x.length;
  let mx = 0;
  let my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = x[i] - mx;
    const dy = y[i] - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return NaN;
  // Rounding can push |r| a hair past 1 on (anti)collinear data; scipy clips too.
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/** 1-based ranks, tied values sharing the mean of the ranks they span (scipy.stats.rankdata 'average'). */
export function averageRanks(x: Reals): Float64Array {
  const n = x.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => x[a] - x[b]);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && x[order[j + 1]] === x[order[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[order[k]] = r;
    i = j + 1;
  }
  return ranks;
}

/** Spearman's rank correlation: Pearson's r of the average ranks. */
export function spearman(x: Reals, y: Reals): number {
  return pearson(averageRanks(x), averageRanks(y));
}
