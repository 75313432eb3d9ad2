/**
 * Examples to tensors: `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]` with the
 * project's WordPiece tokenizer, truncated to seqLen as HF truncates
 * (longest-first for pairs) and padded with [PAD].
 *
 * Token tasks: each word is tokenized on its own (as HF does for
 * `is_split_into_words`), its tag goes on its first word-piece and -1 on the
 * others; words that no longer fit after truncation, or that tokenize to no
 * piece at all, get no position. `words` records where each word's first
 * piece is, so `wordPredictions` can turn per-piece predictions back into
 * one prediction per word (-1 for a word without a position, which the
 * word-level metric counts as wrong).
 */
import { ElectraError } from '../../errors';
import { WordPieceTokenizer } from '../../data/tokenizer';
import type { EncodedExamples, TaskSpec } from '../task';
import type { TextExample, TokenExample } from './examples';

/** Where each word of a token task landed. */
export interface WordAlignment {
  /** [count+1]: example i's words are positions offsets[i] .. offsets[i+1]-1 of `positions`. */
  offsets: Int32Array;
  /** [total words]: the flat index (row*seqLen + column) of the word's first piece, or -1 when it has none. */
  positions: Int32Array;
}

/** EncodedExamples plus what the encoding lost. */
export interface Encoded extends EncodedExamples {
  /** Examples that were cut to fit seqLen. */
  truncated: number;
  /** Token tasks: the words' positions. */
  words?: WordAlignment;
  /** Token tasks: words that got no position (cut off, or no word-piece at all). */
  droppedWords?: number;
}

export interface EncodeExamplesOptions {
  /** Ids per row, [CLS] and [SEP] included. */
  seqLen: number;
  /** Default: the shipped BERT uncased vocabulary. */
  tokenizer?: WordPieceTokenizer;
}

let defaultTokenizer: WordPieceTokenizer | undefined;

function checkSeqLen(seqLen: number, min: number): void {
  if (!Number.isInteger(seqLen) || seqLen < min) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `seqLen must be an integer >= ${min}, got ${seqLen}`);
  }
}

/**
 * Tokenizes examples of `spec`'s kind into row-major tensors. Labels:
 * classification Int32Array [count] (-1 for an unlabeled example),
 * regression Float32Array [count] (NaN when unlabeled), token Int32Array
 * [count*seqLen] (tag on a word's first piece, -1 elsewhere and when unlabeled).
 */
export function encodeExamples(spec: TaskSpec, examples: readonly (TextExample | TokenExample)[], opts: EncodeExamplesOptions): Encoded {
  const tok = opts.tokenizer ?? (defaultTokenizer ??= WordPieceTokenizer.bertUncased());
  return spec.kind === 'token'
    ? encodeTokens(examples as readonly TokenExample[], opts.seqLen, tok)
    : encodeTexts(spec, examples as readonly TextExample[], opts.seqLen, tok);
}

function encodeTexts(spec: TaskSpec, examples: readonly TextExample[], seqLen: number, tok: WordPieceTokenizer): Encoded {
  const paired = examples.some((e) => e.pair !== undefined);
  checkSeqLen(seqLen, paired ? 3 : 2);
  const count = examples.length;
  const inputIds = new Int32Array(count * seqLen).fill(tok.padId);
  const tokenTypeIds = new Int32Array(count * seqLen);
  const attentionMask = new Int32Array(count * seqLen);
  const labels = spec.kind === 'regression' ? new Float32Array(count) : new Int32Array(count);
  let truncated = 0;
  examples.forEach((ex, i) => {
    if (typeof ex.text !== 'string' || (ex.pair !== undefined && typeof ex.pair !== 'string')) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `example ${i} (line ${ex.line}): text and pair must be strings`);
    }
    const e = tok.encode(ex.text, ex.pair ?? null, { maxLength: seqLen });
    const n = e.inputIds.length;
    if (n === seqLen) {
      // Full rows may have been cut: compare with the untruncated length.
      const full = tok.tokenizeToIds(ex.text).length + (ex.pair !== undefined ? tok.tokenizeToIds(ex.pair).length + 3 : 2);
      if (full > seqLen) truncated++;
    }
    const o = i * seqLen;
    for (let k = 0; k < n; k++) {
      inputIds[o + k] = e.inputIds[k];
      tokenTypeIds[o + k] = e.tokenTypeIds[k];
      attentionMask[o + k] = 1;
    }
    labels[i] = ex.label ?? (spec.kind === 'regression' ? NaN : -1);
  });
  return { kind: spec.kind, count, seqLen, inputIds, tokenTypeIds, attentionMask, labels, truncated };
}

function encodeTokens(examples: readonly TokenExample[], seqLen: number, tok: WordPieceTokenizer): Encoded {
  checkSeqLen(seqLen, 2);
  const count = examples.length;
  const inputIds = new Int32Array(count * seqLen).fill(tok.padId);
  const tokenTypeIds = new Int32Array(count * seqLen);
  const attentionMask = new Int32Array(count * seqLen);
  const labels = new Int32Array(count * seqLen).fill(-1);
  const offsets = new Int32Array(count + 1);
  for (let i = 0; i < count; i++) offsets[i + 1] = offsets[i] + examples[i].words.length;
  const positions = new Int32Array(offsets[count]).fill(-1);
  let truncated = 0;
  let droppedWords = 0;
  const pieces: number[] = [];
  examples.forEach((ex, i) => {
    if (ex.tags && ex.tags.length !== ex.words.length) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `example ${i} (line ${ex.line}): ${ex.words.length} words but ${ex.tags.length} tags`);
    }
    const o = i * seqLen;
    inputIds[o] = tok.clsId;
    let col = 1;
    let cut = false;
    for (let w = 0; w < ex.words.length; w++) {
      pieces.length = 0;
      tok.tokenizeToIds(ex.words[w], pieces);
      if (pieces.length === 0) {
        droppedWords++;
        continue;
      }
      if (col >= seqLen - 1) {
        droppedWords++;
        cut = true;
        continue;
      }
      positions[offsets[i] + w] = o + col;
      if (ex.tags) labels[o + col] = ex.tags[w];
      // As HF truncates pieces, not words: a word's first pieces stay when the rest does not fit.
      for (const id of pieces) {
        if (col >= seqLen - 1) {
          cut = true;
          break;
        }
        inputIds[o + col++] = id;
      }
    }
    inputIds[o + col++] = tok.sepId;
    for (let k = 0; k < col; k++) attentionMask[o + k] = 1;
    if (cut) truncated++;
  });
  return {
    kind: 'token',
    count,
    seqLen,
    inputIds,
    tokenTypeIds,
    attentionMask,
    labels,
    truncated,
    words: { offsets, positions },
    droppedWords,
  };
}

/**
 * Per-word predictions from per-piece predictions ([count*seqLen], e.g. the
 * argmax of the token head's logits): each word takes its first piece's
 * prediction, -1 when it has no position.
 */
export function wordPredictions(words: WordAlignment, piecePredictions: ArrayLike<number>): Int32Array {
  const out = new Int32Array(words.positions.length);
  for (let k = 0; k < out.length; k++) {
    const p = words.positions[k];
    out[k] = p < 0 ? -1 : piecePredictions[p];
  }
  return out;
}

/** The gold tags of all words, flat, in the order of wordPredictions (-1 for an untagged example). */
export function wordGold(examples: readonly TokenExample[]): Int32Array {
  const n = examples.reduce((s, e) => s + e.words.length, 0);
  const out = new Int32Array(n).fill(-1);
  let k = 0;
  for (const e of examples) {
    for (let w = 0; w < e.words.length; w++, k++) if (e.tags) out[k] = e.tags[w];
  }
  return out;
}
