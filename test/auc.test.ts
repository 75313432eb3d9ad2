import { addHistogram, aucFromHistograms, constantBaselineLoss } from '../lib';

/** A seeded uniform generator (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The definition: the share of (replaced, original) pairs ordered correctly, ties as half. */
function pairwiseAuc(pos: number[], neg: number[]): number {
  let s = 0;
  for (const p of pos) for (const n of neg) s += p > n ? 1 : p === n ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

function histogram(scores: number[], bins: number): Float64Array {
  const h = new Float64Array(bins);
  for (const s of scores) h[s] += 1;
  return h;
}

describe('aucFromHistograms', () => {
  test('equals the exact pairwise AUC (ties as half) on random binned scores', () => {
    const r = rng(7);
    for (const [bins, shift] of [[8, 0], [64, 5], [2048, 300], [2048, -200]]) {
      // Scores already on bins; replaced ones shifted up so the AUC is neither 0.5 nor 1; many ties at 8 bins.
      const clamp = (x: number) => Math.max(0, Math.min(bins - 1, Math.floor(x)));
      const pos = Array.from({ length: 300 }, () => clamp(r() * bins + shift));
      const neg = Array.from({ length: 700 }, () => clamp(r() * bins));
      const auc = aucFromHistograms(histogram(pos, bins), histogram(neg, bins));
      expect(Math.abs(auc - pairwiseAuc(pos, neg))).toBeLessThan(1e-12);
    }
  });

  test('summed histograms give the AUC of the pooled scores, not the mean of per-batch AUCs', () => {
    const r = rng(3);
    const bins = 256;
    const batches = [0, 40, 120].map((shift) => ({
      pos: Array.from({ length: 50 }, () => Math.min(bins - 1, Math.floor(r() * 100 + shift + 30))),
      neg: Array.from({ length: 200 }, () => Math.min(bins - 1, Math.floor(r() * 100 + shift))),
    }));
    let hp: Float64Array | null = null;
    let hn: Float64Array | null = null;
    for (const b of batches) {
      hp = addHistogram(hp, histogram(b.pos, bins));
      hn = addHistogram(hn, histogram(b.neg, bins));
    }
    const pooled = pairwiseAuc(batches.flatMap((b) => b.pos), batches.flatMap((b) => b.neg));
    expect(aucFromHistograms(hp!, hn!)).toBeCloseTo(pooled, 12);
  });

  test('edge cases: perfect, reversed, all tied, one class empty, mismatched lengths', () => {
    expect(aucFromHistograms([0, 0, 3], [2, 0, 0])).toBe(1);
    expect(aucFromHistograms([3, 0, 0], [0, 0, 2])).toBe(0);
    expect(aucFromHistograms([0, 5, 0], [0, 9, 0])).toBe(0.5);
    expect(aucFromHistograms([0, 0, 0], [1, 2, 3])).toBeNaN();
    expect(aucFromHistograms([1, 2, 3], [0, 0, 0])).toBeNaN();
    expect(() => aucFromHistograms([1, 2], [1])).toThrow(RangeError);
  });
});

describe('constantBaselineLoss', () => {
  test('is the label entropy, the BCE of always predicting the replaced fraction, and its minimum over constants', () => {
    const q = 0.132;
    const bce = (c: number) => -(q * Math.log(c) + (1 - q) * Math.log(1 - c));
    expect(constantBaselineLoss(q)).toBeCloseTo(bce(q), 12);
    for (const c of [0.05, 0.1, 0.12, 0.14, 0.2, 0.5]) expect(bce(c)).toBeGreaterThan(constantBaselineLoss(q));
    expect(constantBaselineLoss(0)).toBe(0);
    expect(constantBaselineLoss(1)).toBe(0);
  });
});
