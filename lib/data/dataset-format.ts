/**
 * The on-disk layout of a built pre-training dataset (docs/dataset-format.md):
 * a directory with manifest.json and shard-NNNNN.bin files. Each shard is a
 * 64-byte header followed by fixed-size records, so example i of a shard lives
 * at byte 64 + i * recordBytes and the file can be memory-mapped or read with
 * positioned reads.
 *
 * Record: seqLen token ids ([CLS] A [SEP] B [SEP], then padding), then the
 * length of segment A including [CLS] and its [SEP], then the total length;
 * all of the shard's dtype (uint16 when the vocabulary has < 65536 tokens,
 * else uint32), little-endian.
 */
import { ElectraError } from '../errors';

export const SHARD_MAGIC = 'ELECTRA1';
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 64;
export const MANIFEST_FILE = 'manifest.json';
export const DATASET_FORMAT = 'electra-native-dataset';
/** Bumped whenever the builder would produce different examples from the same input. */
export const BUILDER_VERSION = 1;

export interface ShardHeader {
  version: number;
  /** 2 (uint16) or 4 (uint32). */
  dtypeBytes: 2 | 4;
  seqLen: number;
  /** (seqLen + 2) * dtypeBytes. */
  recordBytes: number;
  count: number;
  dataOffset: number;
  padId: number;
}

export function shardFileName(i: number): string {
  return `shard-${String(i).padStart(5, '0')}.bin`;
}

export function recordBytes(seqLen: number, dtypeBytes: number): number {
  return (seqLen + 2) * dtypeBytes;
}

export function encodeShardHeader(h: Omit<ShardHeader, 'version' | 'dataOffset' | 'recordBytes'>): Buffer {
  const b = Buffer.alloc(SHARD_HEADER_BYTES);
  b.write(SHARD_MAGIC, 0, 'latin1');
  b.writeUInt32LE(SHARD_VERSION, 8);
  b.writeUInt32LE(h.dtypeBytes, 12);
  b.writeUInt32LE(h.seqLen, 16);
  b.writeUInt32LE(recordBytes(h.seqLen, h.dtypeBytes), 20);
  b.writeBigUInt64LE(BigInt(h.count), 24);
  b.writeBigUInt64LE(BigInt(SHARD_HEADER_BYTES), 32);
  b.writeUInt32LE(h.padId, 40);
  return b;
}

/** Parses and checks a shard header; `fileSize` (when given) must match the record count. */
export function decodeShardHeader(b: Buffer, file: string, fileSize?: number): ShardHeader {
  const bad = (why: string) => new ElectraError('ERR_CORRUPT_FILE', `${file}: not a valid dataset shard (${why})`);
  if (b.length < SHARD_HEADER_BYTES) throw bad('shorter than the 64-byte header');
  if (b.toString('latin1', 0, 8) !== SHARD_MAGIC) throw bad('bad magic');
  const version = b.readUInt32LE(8);
  if (version !== SHARD_VERSION) throw bad(`unsupported version ${version}`);
  const dtypeBytes = b.readUInt32LE(12);
  if (dtypeBytes !== 2 && dtypeBytes !== 4) throw bad(`dtype size ${dtypeBytes}`);
  const seqLen = b.readUInt32LE(16);
  const rec = b.readUInt32LE(20);
  if (seqLen < 1 || rec !== recordBytes(seqLen, dtypeBytes)) throw bad('inconsistent record size');
  const count = Number(b.readBigUInt64LE(24));
  const dataOffset = Number(b.readBigUInt64LE(32));
  if (dataOffset < SHARD_HEADER_BYTES) throw bad('bad data offset');
  if (fileSize !== undefined && fileSize !== dataOffset + count * rec) {
    throw bad(`size ${fileSize} bytes, expected ${dataOffset + count * rec} for ${count} examples`);
  }
  return { version, dtypeBytes, seqLen, recordBytes: rec, count, dataOffset, padId: b.readUInt32LE(40) };
}

export interface DatasetManifest {
  format: typeof DATASET_FORMAT;
  format_version: number;
  builder_version: number;
  seq_len: number;
  dtype: 'uint16' | 'uint32';
  seed: number;
  vocab: {
    /** sha256 of the vocabulary file's bytes. */
    sha256: string;
    /** sha256 of the tokens joined by "\n" (checkable from a tokenizer's `vocab`). */
    tokens_sha256: string;
    size: number;
    lowercase: boolean;
    pad_id: number;
    unk_id: number;
    cls_id: number;
    sep_id: number;
    mask_id: number;
  };
  counts: {
    examples: number;
    /** Non-padding tokens, [CLS]/[SEP] included. */
    tokens: number;
    documents: number;
    /** Lines skipped as invalid UTF-8. */
    skipped_lines: number;
    /** Examples without a segment B. */
    single_segment: number;
  };
  /** Input split size in bytes: decides shard boundaries, not the examples. */
  chunk_bytes: number;
  sources: { path: string; bytes: number; gzip: boolean }[];
  shards: { file: string; examples: number; bytes: number }[];
}
