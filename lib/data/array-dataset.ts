/**
 * In-memory examples served as fixed-shape batches, shuffled with a seeded
 * generator each epoch. Its position is part of checkpoints, so a resumed run
 * sees exactly the batches it would have seen.
 */
import { ElectraError } from '../errors';
import type { TokenBatch } from '../model';

/** One pre-training example: token ids with [CLS]/[SEP] already in place. */
export interface Example {
  ids: ArrayLike<number>;
  /** Segment ids (0/1); all 0 when absent. */
  types?: ArrayLike<number>;
}

/** Where training data comes from. The Trainer asks for `rows` sequences of `seqLen` tokens per step. */
export interface BatchSource {
  next(rows: number, seqLen: number): TokenBatch | Promise<TokenBatch>;
  /** A JSON-serialisable position, saved in checkpoints. */
  state?(): unknown;
  /** Returns to a position produced by state(). */
  restore?(state: unknown): void;
}

export interface ArrayDatasetState {
  epoch: number;
  cursor: number;
  seed: number;
}

/** splitmix32-style hash for a reproducible permutation per (seed, epoch). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return ((z ^ (z >>> 16)) >>> 0) / 4294967296;
  };
}

const isIntArrayLike = (a: unknown): a is ArrayLike<number> =>
  (Array.isArray(a) || ArrayBuffer.isView(a)) && Array.prototype.every.call(a, (x: unknown) => typeof x === 'number' && Number.isInteger(x));

/** Rejects anything that is not an Example, saying what was expected (plain id arrays are the common mistake). */
function checkExample(ex: unknown, i: number): void {
  const want = 'expected {ids: number[] | Int32Array, types?: number[]}';
  if (Array.isArray(ex) || ArrayBuffer.isView(ex)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `ArrayDataset: examples[${i}] is a plain array of ids; ${want} (wrap it: {ids: [...]})`);
  }
  if (typeof ex !== 'object' || ex === null) throw new ElectraError('ERR_INVALID_ARGUMENT', `ArrayDataset: examples[${i}] is ${ex === null ? 'null' : typeof ex}; ${want}`);
  const e = ex as Example;
  if (!isIntArrayLike(e.ids)) throw new ElectraError('ERR_INVALID_ARGUMENT', `ArrayDataset: examples[${i}].ids must be an array of integer token ids; ${want}`);
  if (e.ids.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `ArrayDataset: examples[${i}].ids is empty (a row of padding only trains nothing)`);
  if (e.types !== undefined && (!isIntArrayLike(e.types) || e.types.length < e.ids.length)) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `ArrayDataset: examples[${i}].types must be integers, one per id`);
  }
}

export class ArrayDataset implements BatchSource {
  private order: number[] = [];
  private pos: ArrayDatasetState;

  constructor(
    private readonly examples: Example[],
    opts: { seed?: number; padId?: number } = {},
  ) {
    if (!Array.isArray(examples)) throw new ElectraError('ERR_INVALID_ARGUMENT', `ArrayDataset needs an array of examples {ids, types?}, got ${examples === null ? 'null' : typeof examples}`);
    if (examples.length === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', 'ArrayDataset needs at least one example');
    examples.forEach(checkExample);
    this.padId = opts.padId ?? 0;
    this.pos = { epoch: 0, cursor: 0, seed: opts.seed ?? 0 };
    this.shuffle();
  }

  private readonly padId: number;

  get length(): number {
    return this.examples.length;
  }

  private shuffle(): void {
    const r = rng(this.pos.seed * 1000003 + this.pos.epoch);
    this.order = this.examples.map((_, i) => i);
    for (let i = this.order.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [this.order[i], this.order[j]] = [this.order[j], this.order[i]];
    }
  }

  next(rows: number, seqLen: number): TokenBatch {
    const inputIds = new Int32Array(rows * seqLen).fill(this.padId);
    const tokenTypeIds = new Int32Array(rows * seqLen);
    const attentionMask = new Int32Array(rows * seqLen);
    for (let r = 0; r < rows; r++) {
      if (this.pos.cursor >= this.order.length) {
        this.pos.epoch++;
        this.pos.cursor = 0;
        this.shuffle();
      }
      const ex = this.examples[this.order[this.pos.cursor++]];
      const n = Math.min(seqLen, ex.ids.length);
      for (let s = 0; s < n; s++) {
        inputIds[r * seqLen + s] = ex.ids[s];
        tokenTypeIds[r * seqLen + s] = ex.types ? ex.types[s] : 0;
        attentionMask[r * seqLen + s] = 1;
      }
    }
    return { inputIds, tokenTypeIds, attentionMask, rows, seqLen };
  }

  state(): ArrayDatasetState {
    return { ...this.pos };
  }

  restore(state: unknown): void {
    const s = state as ArrayDatasetState;
    if (!s || !Number.isSafeInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.cursor) || s.cursor < 0 || s.cursor > this.examples.length || !Number.isSafeInteger(s.seed)) {
      throw new ElectraError('ERR_CORRUPT_FILE', `invalid dataset position ${JSON.stringify(state)} (expected {epoch >= 0, cursor in [0, ${this.examples.length}], seed})`);
    }
    this.pos = { ...s };
    this.shuffle();
  }
}
