/**
 * safetensors: read (strictly validated) and write, as HF's format defines it:
 * an 8-byte little-endian header length, a JSON header, then raw tensor bytes.
 */
import { ElectraError } from '../errors';

export type DType = 'F32' | 'F64' | 'F16' | 'BF16' | 'I32' | 'I64' | 'U8' | 'U16' | 'I8' | 'I16' | 'BOOL';

const DTYPE_SIZE: Record<DType, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I32: 4, I64: 8, U8: 1, U16: 2, I8: 1, I16: 2, BOOL: 1 };

export interface TensorEntry {
  dtype: DType;
  shape: number[];
  /** Raw little-endian bytes (a view into the file). */
  bytes: Buffer;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

function corrupt(file: string, msg: string): never {
  throw new ElectraError('ERR_CORRUPT_FILE', `${file}: ${msg}`);
}

/** Parses and validates a whole safetensors file held in memory. */
export function parseSafetensors(buf: Buffer, file: string): SafetensorsFile {
  if (buf.length < 8) corrupt(file, `file is ${buf.length} bytes, too short for a safetensors header`);
  const headerLen = buf.readBigUInt64LE(0);
  if (headerLen > BigInt(buf.length - 8)) {
    corrupt(file, `header length ${headerLen} runs past the end of the file (${buf.length} bytes); the file is truncated or not safetensors`);
  }
  const n = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  } catch (e) {
    corrupt(file, `malformed JSON header: ${(e as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) corrupt(file, 'header is not a JSON object');
  const data = buf.subarray(8 + n);
  const tensors = new Map<string, TensorEntry>();
  const metadata: Record<string, string> = {};
  const ranges: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) corrupt(file, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') corrupt(file, `__metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== 'object' || t === null) corrupt(file, `tensor '${name}': entry is not an object`);
    if (typeof t.dtype !== 'string' || !(t.dtype in DTYPE_SIZE)) corrupt(file, `tensor '${name}': unknown dtype ${JSON.stringify(t.dtype)}`);
    const dtype = t.dtype as DType;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) {
      corrupt(file, `tensor '${name}': shape must be an array of non-negative integers`);
    }
    const shape = t.shape as number[];
    const offs = t.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0)) {
      corrupt(file, `tensor '${name}': data_offsets must be two non-negative integers`);
    }
    const [b, e] = offs as [number, number];
    if (b > e || e > data.length) corrupt(file, `tensor '${name}': data offsets [${b}, ${e}] are out of range (data is ${data.length} bytes)`);
    const numel = shape.reduce((a, d) => a * d, 1);
    if (e - b !== numel * DTYPE_SIZE[dtype]) {
      corrupt(file, `tensor '${name}': ${e - b} bytes do not match shape [${shape.join(', ')}] of ${dtype}`);
    }
    ranges.push([b, e, name]);
    tensors.set(name, { dtype, shape, bytes: data.subarray(b, e) });
  }
  ranges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i][0] < ranges[i - 1][1]) corrupt(file, `tensor '${ranges[i][2]}' overlaps tensor '${ranges[i - 1][2]}'`);
  }
  return { tensors, metadata };
}

function bf16ToF32(h: number): number {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(h << 16);
  return b.readFloatLE(0);
}

function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Converts a floating-point tensor to a fresh Float32Array. */
export function toFloat32(t: TensorEntry, file: string, name: string): Float32Array {
  const n = t.shape.reduce((a, d) => a * d, 1);
  const out = new Float32Array(n);
  const b = t.bytes;
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = b.readFloatLE(4 * i);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = b.readDoubleLE(8 * i);
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(b.readUInt16LE(2 * i));
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(b.readUInt16LE(2 * i));
      return out;
    default:
      throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${name}' has dtype ${t.dtype}, expected a floating-point type`);
  }
}

/** Converts an integer tensor to a fresh Int32Array (I64 values must fit). */
export function toInt32(t: TensorEntry, file: string, name: string): Int32Array {
  const n = t.shape.reduce((a, d) => a * d, 1);
  const out = new Int32Array(n);
  if (t.dtype === 'I32') {
    for (let i = 0; i < n; i++) out[i] = t.bytes.readInt32LE(4 * i);
  } else if (t.dtype === 'I64') {
    for (let i = 0; i < n; i++) out[i] = Number(t.bytes.readBigInt64LE(8 * i));
  } else {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${name}' has dtype ${t.dtype}, expected an integer type`);
  }
  return out;
}

export interface TensorToWrite {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Serialises tensors (sorted by name, as the Python library does) with a padded header. */
export function serializeSafetensors(tensors: TensorToWrite[], metadata: Record<string, string> = {}): Buffer {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let off = 0;
  for (const t of sorted) {
    const nbytes = t.data.byteLength;
    // By tag, not instanceof: arrays made by the addon may come from another realm (e.g. under jest).
    const dtype = Object.prototype.toString.call(t.data) === '[object Float32Array]' ? 'F32' : 'I32';
    header[t.name] = { dtype, shape: t.shape, data_offsets: [off, off + nbytes] };
    off += nbytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hlen = Buffer.byteLength(json);
  const out = Buffer.alloc(8 + hlen + off);
  out.writeBigUInt64LE(BigInt(hlen), 0);
  out.write(json, 8, 'utf8');
  let p = 8 + hlen;
  for (const t of sorted) {
    // Typed arrays are little-endian on every platform Node supports for this package.
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).copy(out, p);
    p += t.data.byteLength;
  }
  return out;
}
