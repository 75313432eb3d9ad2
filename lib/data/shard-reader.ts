/**
 * ShardDataset: serves batches from a directory written by buildDataset
 * (docs/dataset-format.md).
 *
 * Order: epoch e visits every example exactly once, in a seeded permutation
 * that is a pure function of (seed, e) over the example indices, so a
 * position is just (epoch, cursor) and a resumed run sees exactly the
 * batches it would have seen. The permutation is a Uint32Array of all
 * indices (4 bytes per example: 250M examples = 1 GB; more than 2^32 - 1
 * examples is unsupported). Examples are read with positioned reads
 * (fs.readSync at 64 + i * recordBytes), one per row.
 */
import * as fs from 'fs';
import * as path from 'path';

import { ElectraError } from '../errors';
import type { TokenBatch } from '../model';
import type { BatchSource } from './array-dataset';
import { vocabFileHash, vocabTokensHash } from './dataset-builder';
import { DATASET_FORMAT, DatasetManifest, MANIFEST_FILE, SHARD_HEADER_BYTES, SHARD_VERSION, ShardHeader, decodeShardHeader } from './dataset-format';

export interface ShardDatasetOptions {
  /** Shuffling seed (default 0). */
  seed?: number;
  /** The vocabulary the model uses: a tokenizer (its `vocab` tokens), or a vocab file path; the dataset must be built with the same one. */
  vocab?: { vocab: readonly string[] } | string;
  /** Visit examples in file order instead of a permutation (evaluation). */
  shuffle?: boolean;
}

export interface ShardDatasetState {
  epoch: number;
  cursor: number;
  seed: number;
  /** The dataset's example count, checked on restore. */
  examples: number;
}

interface Shard {
  file: string;
  fd: number | null;
  header: ShardHeader;
  /** Index of its first example in the dataset. */
  first: number;
}

const MAX_OPEN_SHARDS = 64;

/** sfc32-style generator for the permutation of one epoch. */
function epochRng(seed: number, epoch: number): () => number {
  let a = (seed ^ 0x243f6a88) >>> 0;
  let b = (epoch ^ 0x85a308d3) >>> 0;
  let c = 0x13198a2e;
  let d = 1;
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };
  for (let i = 0; i < 15; i++) next();
  return next;
}

/** The order of epoch `epoch`: a Fisher-Yates permutation of 0..n-1 (pure function of seed, epoch, n). */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  const r = epochRng(seed, epoch);
  for (let i = n - 1; i > 0; i--) {
    // 53-bit uniform draw: negligible modulo bias even for large n.
    const u = (r() * 2097152 + (r() >>> 11)) / 9007199254740992;
    const j = Math.floor(u * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

export class ShardDataset implements BatchSource {
  readonly dir: string;
  readonly manifest: DatasetManifest;
  private readonly shards: Shard[];
  private readonly starts: number[];
  private readonly shuffle: boolean;
  private pos: ShardDatasetState;
  private order: Uint32Array | null = null;
  private orderEpoch = -1;
  private readonly rec: Buffer;
  private openShards: Shard[] = [];

  constructor(dir: string, opts: ShardDatasetOptions = {}) {
    this.dir = dir;
    this.manifest = ShardDataset.readManifest(dir);
    const m = this.manifest;
    if (opts.vocab !== undefined) checkVocab(m, opts.vocab, dir);
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `seed must be an integer in [0, 2^32 - 1], got ${seed}`);
    }
    this.shuffle = opts.shuffle ?? true;
    this.shards = [];
    this.starts = [];
    let first = 0;
    for (const s of m.shards) {
      // A shard is a plain file name inside the dataset directory (never '', '..' or a path elsewhere).
      if (!s || typeof s.file !== 'string' || !/^[\w.-]+$/.test(s.file) || s.file === '.' || s.file === '..' || !Number.isSafeInteger(s.examples)) {
        throw new ElectraError('ERR_CORRUPT_FILE', `${path.join(dir, MANIFEST_FILE)}: invalid shard entry ${JSON.stringify(s)}`);
      }
      const file = path.join(dir, s.file);
      const header = readHeader(file);
      if (header.seqLen !== m.seq_len || header.dtypeBytes !== (m.dtype === 'uint16' ? 2 : 4) || header.count !== s.examples) {
        throw new ElectraError('ERR_CORRUPT_FILE', `${file} does not match ${path.join(dir, MANIFEST_FILE)} (seq_len, dtype or example count)`);
      }
      this.shards.push({ file, fd: null, header, first });
      this.starts.push(first);
      first += header.count;
    }
    if (first !== m.counts.examples) {
      throw new ElectraError('ERR_CORRUPT_FILE', `${dir}: the shards hold ${first} examples, the manifest says ${m.counts.examples}`);
    }
    if (first === 0) throw new ElectraError('ERR_INVALID_ARGUMENT', `${dir}: the dataset has no examples`);
    if (first > 0xffffffff) throw new ElectraError('ERR_INVALID_ARGUMENT', `${dir}: more than 2^32 - 1 examples are not supported`);
    this.rec = Buffer.alloc((m.seq_len + 2) * (m.dtype === 'uint16' ? 2 : 4));
    this.pos = { epoch: 0, cursor: 0, seed, examples: first };
  }

  /** Reads and validates manifest.json. */
  static readManifest(dir: string): DatasetManifest {
    const file = path.join(dir, MANIFEST_FILE);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ElectraError('ERR_IO', `cannot read ${file}: ${err.code === 'ENOENT' ? 'file not found (not a dataset directory?)' : err.message}`);
    }
    let m: DatasetManifest;
    try {
      m = JSON.parse(text) as DatasetManifest;
    } catch (e) {
      throw new ElectraError('ERR_CORRUPT_FILE', `${file}: invalid JSON (${(e as Error).message})`);
    }
    const ok =
      m &&
      m.format === DATASET_FORMAT &&
      Number.isInteger(m.seq_len) &&
      (m.dtype === 'uint16' || m.dtype === 'uint32') &&
      Array.isArray(m.shards) &&
      m.vocab &&
      typeof m.vocab.sha256 === 'string' &&
      m.counts &&
      Number.isInteger(m.counts.examples);
    if (!ok) throw new ElectraError('ERR_CORRUPT_FILE', `${file} is not an electra-native dataset manifest`);
    if (m.format_version !== SHARD_VERSION) {
      throw new ElectraError('ERR_CORRUPT_FILE', `${file}: unsupported format version ${m.format_version}`);
    }
    return m;
  }

  /** Number of examples (one epoch). */
  get length(): number {
    return this.pos.examples;
  }

  get seqLen(): number {
    return this.manifest.seq_len;
  }

  /** Dataset index of the example at `cursor` in the current epoch's order. */
  private indexAt(epoch: number, cursor: number): number {
    if (!this.shuffle) return cursor;
    if (this.orderEpoch !== epoch || !this.order) {
      this.order = epochPermutation(this.pos.examples, this.pos.seed, epoch);
      this.orderEpoch = epoch;
    }
    return this.order[cursor];
  }

  private shardOf(i: number): Shard {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid] <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.shards[lo];
  }

  /** Example `i` (dataset order): its ids (unpadded), and the length of [CLS] A [SEP]. */
  example(i: number): { ids: Uint32Array; lenA: number } {
    if (!Number.isInteger(i) || i < 0 || i >= this.pos.examples) {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `example index ${i} out of range [0, ${this.pos.examples})`);
    }
    const { lenA, total } = this.read(i);
    const ids = new Uint32Array(total);
    const w = this.shards[0].header.dtypeBytes;
    for (let s = 0; s < total; s++) ids[s] = w === 2 ? this.rec.readUInt16LE(2 * s) : this.rec.readUInt32LE(4 * s);
    return { ids, lenA };
  }

  /** Reads record i into this.rec. */
  private read(i: number): { lenA: number; total: number } {
    const sh = this.shardOf(i);
    const h = sh.header;
    if (sh.fd === null) {
      try {
        sh.fd = fs.openSync(sh.file, 'r');
      } catch (e) {
        throw new ElectraError('ERR_IO', `cannot read ${sh.file}: ${(e as Error).message}`);
      }
      // Keep at most MAX_OPEN_SHARDS descriptors (a big dataset has thousands of shards).
      this.openShards.push(sh);
      if (this.openShards.length > MAX_OPEN_SHARDS) {
        const old = this.openShards.shift()!;
        fs.closeSync(old.fd!);
        old.fd = null;
      }
    }
    const off = h.dataOffset + (i - sh.first) * h.recordBytes;
    const n = fs.readSync(sh.fd, this.rec, 0, h.recordBytes, off);
    if (n !== h.recordBytes) throw new ElectraError('ERR_CORRUPT_FILE', `${sh.file}: short read at byte ${off}`);
    const L = h.seqLen;
    const lenA = h.dtypeBytes === 2 ? this.rec.readUInt16LE(2 * L) : this.rec.readUInt32LE(4 * L);
    const total = h.dtypeBytes === 2 ? this.rec.readUInt16LE(2 * L + 2) : this.rec.readUInt32LE(4 * L + 4);
    if (total > L || lenA > total || lenA < 2) throw new ElectraError('ERR_CORRUPT_FILE', `${sh.file}: bad lengths in example ${i - sh.first}`);
    return { lenA, total };
  }

  /**
   * `rows` examples of `seqLen` tokens. seqLen must be at least the dataset's
   * seq_len (longer: extra padding); shorter would cut segment B and its
   * [SEP], so it is refused: rebuild the dataset with that --seq.
   */
  next(rows: number, seqLen: number): TokenBatch {
    if (!Number.isInteger(rows) || rows < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `rows must be an integer >= 1, got ${rows}`);
    if (!Number.isInteger(seqLen) || seqLen < this.manifest.seq_len) {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `the dataset ${this.dir} has seq_len ${this.manifest.seq_len}; a batch of seqLen ${seqLen} would truncate its examples (rebuild it with --seq ${seqLen})`,
      );
    }
    const padId = this.manifest.vocab.pad_id;
    const inputIds = new Int32Array(rows * seqLen).fill(padId);
    const tokenTypeIds = new Int32Array(rows * seqLen);
    const attentionMask = new Int32Array(rows * seqLen);
    const w = this.shards[0].header.dtypeBytes;
    for (let r = 0; r < rows; r++) {
      if (this.pos.cursor >= this.pos.examples) {
        this.pos.epoch++;
        this.pos.cursor = 0;
      }
      const i = this.indexAt(this.pos.epoch, this.pos.cursor++);
      const { lenA, total } = this.read(i);
      const o = r * seqLen;
      for (let s = 0; s < total; s++) {
        inputIds[o + s] = w === 2 ? this.rec.readUInt16LE(2 * s) : this.rec.readUInt32LE(4 * s);
        attentionMask[o + s] = 1;
        if (s >= lenA) tokenTypeIds[o + s] = 1;
      }
    }
    return { inputIds, tokenTypeIds, attentionMask, rows, seqLen };
  }

  state(): ShardDatasetState {
    return { ...this.pos };
  }

  restore(state: unknown): void {
    const s = state as ShardDatasetState;
    if (!s || !Number.isInteger(s.epoch) || !Number.isInteger(s.cursor) || !Number.isInteger(s.seed) || s.epoch < 0 || s.cursor < 0) {
      throw new ElectraError('ERR_CORRUPT_FILE', `invalid dataset position ${JSON.stringify(state)}`);
    }
    if (s.examples !== this.pos.examples) {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `the saved position is for a dataset of ${s.examples} examples; ${this.dir} has ${this.pos.examples}`,
      );
    }
    this.pos = { ...s };
  }

  /** Closes the shard files (reopened on demand). */
  close(): void {
    for (const s of this.shards) {
      if (s.fd !== null) fs.closeSync(s.fd);
      s.fd = null;
    }
    this.openShards = [];
  }
}

function readHeader(file: string): ShardHeader {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new ElectraError('ERR_IO', `cannot read ${file}: ${err.code === 'ENOENT' ? 'file not found' : err.message}`);
  }
  try {
    const b = Buffer.alloc(SHARD_HEADER_BYTES);
    let n: number;
    try {
      n = fs.readSync(fd, b, 0, b.length, 0);
    } catch (e) {
      throw new ElectraError('ERR_IO', `cannot read ${file}: ${(e as Error).message}`);
    }
    return decodeShardHeader(b.subarray(0, n), file, fs.fstatSync(fd).size);
  } finally {
    fs.closeSync(fd);
  }
}

function checkVocab(m: DatasetManifest, vocab: { vocab: readonly string[] } | string, dir: string): void {
  if (typeof vocab === 'string') {
    const h = vocabFileHash(vocab);
    if (h !== m.vocab.sha256) {
      throw new ElectraError(
        'ERR_INVALID_ARGUMENT',
        `the dataset ${dir} was built with another vocabulary (sha256 ${m.vocab.sha256.slice(0, 12)}..., ${m.vocab.size} tokens) than ${vocab} (sha256 ${h.slice(0, 12)}...)`,
      );
    }
    return;
  }
  const h = vocabTokensHash(vocab.vocab);
  if (h !== m.vocab.tokens_sha256) {
    throw new ElectraError(
      'ERR_INVALID_ARGUMENT',
      `the dataset ${dir} was built with another vocabulary (${m.vocab.size} tokens, tokens sha256 ${m.vocab.tokens_sha256.slice(0, 12)}...) than the tokenizer's (${vocab.vocab.length} tokens, ${h.slice(0, 12)}...)`,
    );
  }
}
