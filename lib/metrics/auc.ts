/**
 * ROC-AUC of the discriminator's "replaced" score from binned logits.
 *
 * The native step counts the logits of replaced and of original tokens in the
 * same fixed, ordered bins (auc_bin in electra_model.h). Counts from many
 * batches add up, so an evaluation sums them and calls this once.
 *
 * AUC = P(score of a random replaced token > score of a random original one),
 * with ties counted as half: the Mann-Whitney statistic. Two scores in the same
 * bin are a tie, so the result equals the exact pairwise AUC of the binned
 * scores, and differs from the AUC of the raw scores by at most half the
 * fraction of (replaced, original) pairs that share a bin.
 */

/** The AUC from per-bin counts, bins in ascending score order; NaN when either class is empty. */
export function aucFromHistograms(replaced: ArrayLike<number>, original: ArrayLike<number>): number {
  if (replaced.length !== original.length) throw new RangeError(`histograms differ in length: ${replaced.length} vs ${original.length}`);
  let below = 0; // originals in lower bins
  let pairs = 0; // correctly ordered pairs, ties as half
  let nr = 0;
  for (let k = 0; k < replaced.length; k++) {
    pairs += replaced[k] * (below + original[k] / 2);
    below += original[k];
    nr += replaced[k];
  }
  return nr > 0 && below > 0 ? pairs / (nr * below) : NaN;
}

/** Adds `src` into `dst` bin by bin (dst gets src's length when empty). */
export function addHistogram(dst: Float64Array | null, src: ArrayLike<number>): Float64Array {
  const out = dst ?? new Float64Array(src.length);
  if (out.length !== src.length) throw new RangeError(`histograms differ in length: ${out.length} vs ${src.length}`);
  for (let k = 0; k < src.length; k++) out[k] += src[k];
  return out;
}

/**
 * The constant predictor's binary cross-entropy: always predicting the
 * replaced fraction q, the best a discriminator that ignores its input can do.
 */
export function constantBaselineLoss(q: number): number {
  if (!(q > 0 && q < 1)) return 0;
  return -(q * Math.log(q) + (1 - q) * Math.log(1 - q));
}
