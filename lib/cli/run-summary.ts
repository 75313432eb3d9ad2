/**
 * What the end of a training run shows the user: the held-out discriminator
 * against the constant predictor, and one replaced-token-detection example on
 * a held-out sentence with a planted replacement.
 */
import type { ElectraModel, TokenBatch } from '../model';
import type { EvalMetrics } from '../trainer';

export interface PlantedExample {
  /** The text around the planted word, with it in place (what `detect` would be given). */
  text: string;
  original: string;
  planted: string;
  /** The discriminator's probability that the planted token was replaced. */
  pPlanted: number;
  /** Over the window's other tokens: mean and max probability of "replaced". */
  othersMean: number;
  othersMax: number;
}

const isWord = (t: string | undefined): t is string => t !== undefined && /^[a-z]{3,}$/i.test(t);

/**
 * Row 0 of the first held-out batch, with a whole word near its middle swapped
 * for a whole word from another row, run through the discriminator. Null when
 * the batch has no such pair of words.
 */
export async function plantedExample(model: ElectraModel, batches: readonly TokenBatch[], tokens: readonly string[]): Promise<PlantedExample | null> {
  const b = batches[0];
  if (!b || b.rows < 2) return null;
  const S = b.seqLen;
  const real = (r: number) => {
    let n = 0;
    while (n < S && (b.attentionMask ? b.attentionMask[r * S + n] !== 0 : true)) n++;
    return n;
  };
  const n = real(0);
  const ids = Array.from(b.inputIds.subarray(0, n));
  const whole = (i: number) => isWord(tokens[ids[i]]) && !(tokens[ids[i + 1]] ?? '').startsWith('##');
  let pos = -1;
  for (let d = 0; d < n / 2 && pos < 0; d++) {
    for (const i of [Math.floor(n / 2) + d, Math.floor(n / 2) - d]) if (i > 0 && i < n - 1 && whole(i)) { pos = i; break; }
  }
  if (pos < 0) return null;
  let replacement = -1;
  for (let i = S; i < b.rows * S && replacement < 0; i++) {
    const id = b.inputIds[i];
    if (id !== ids[pos] && isWord(tokens[id]) && !(tokens[b.inputIds[i + 1]] ?? '').startsWith('##')) replacement = id;
  }
  if (replacement < 0) return null;
  const planted = ids.slice();
  planted[pos] = replacement;
  const logits = await model.discriminate({
    inputIds: Int32Array.from(planted),
    tokenTypeIds: b.tokenTypeIds ? b.tokenTypeIds.slice(0, n) : undefined,
    attentionMask: new Int32Array(n).fill(1),
    rows: 1,
    seqLen: n,
  });
  const p = Array.from(logits, (x) => 1 / (1 + Math.exp(-x)));
  let lo = Math.max(1, pos - 8), hi = Math.min(n - 1, pos + 9);
  // Whole words at both ends: no '##' piece starts the window or follows it.
  while (lo > 1 && (tokens[planted[lo]] ?? '').startsWith('##')) lo--;
  while (hi < n - 1 && (tokens[planted[hi]] ?? '').startsWith('##')) hi++;
  const others = [];
  for (let i = lo; i < hi; i++) if (i !== pos) others.push(p[i]);
  const text = planted
    .slice(lo, hi)
    .map((id) => tokens[id])
    .join(' ')
    .replace(/ ##/g, '');
  return {
    text,
    original: tokens[ids[pos]],
    planted: tokens[replacement],
    pPlanted: p[pos],
    othersMean: others.reduce((a, x) => a + x, 0) / Math.max(1, others.length),
    othersMax: Math.max(...others),
  };
}

/** An AUC for the log: 3 decimals, or n/a when undefined (no replaced tokens, or the MLM objective). */
export function fmtAuc(a: number): string {
  return Number.isFinite(a) ? a.toFixed(3) : 'n/a';
}

/** The held-out facts, as key/value pairs for the log and report.html. */
export function summaryFacts(e: EvalMetrics | undefined, ex: PlantedExample | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (e) {
    // Over the tokens that could have been replaced ([CLS], [SEP] and padding never are).
    out['held-out discriminator AUC'] = `${fmtAuc(e.discAuc)} (0.5 = chance; over the tokens that could be replaced)`;
    out['held-out discriminator accuracy'] = `${(100 * e.discAccuracy).toFixed(1)}% (constant "never replaced": ${(100 * e.discBaselineAccuracy).toFixed(1)}%)`;
    const below = e.discBaselineLoss > 0 ? ` (${(100 * (1 - e.discCandidateLoss / e.discBaselineLoss)).toFixed(1)}% below the constant predictor's ${e.discBaselineLoss.toFixed(4)})` : '';
    out['held-out discriminator loss'] = `${e.discCandidateLoss.toFixed(4)}${below}`;
    out['held-out generator accuracy'] = `${(100 * e.genAccuracy).toFixed(1)}% at masked positions`;
  }
  if (ex) {
    out['detect example'] =
      `"${ex.text}" ('${ex.original}' replaced by '${ex.planted}'): p(replaced) ${ex.pPlanted.toFixed(3)} at '${ex.planted}', ` +
      `other tokens mean ${ex.othersMean.toFixed(3)}, max ${ex.othersMax.toFixed(3)}`;
  }
  return out;
}
