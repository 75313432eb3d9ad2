/**
 * Bytes to text for the fine-tuning readers: strict UTF-8 (an invalid byte is
 * an error naming its line and column, never a silent U+FFFD), one leading
 * byte-order mark dropped, and a shared error helper so every reader words
 * its errors the same way: `file:line:column: what is wrong`.
 */
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';

import { ElectraError } from '../../errors';

/** Where in a file something is: 1-based line, 1-based column (a field number in delimited files), the column's name. */
export interface FilePosition {
  line: number;
  column?: number;
  columnName?: string;
}

/** An ERR_CORRUPT_FILE error whose message reads `file, line L, column C ('name'): what is wrong`. */
export function dataError(file: string, pos: FilePosition | null, message: string): ElectraError {
  let where = file;
  if (pos) {
    where += `, line ${pos.line}`;
    if (pos.column !== undefined) where += `, column ${pos.column}`;
    if (pos.columnName !== undefined) where += ` ('${pos.columnName}')`;
  }
  return new ElectraError('ERR_CORRUPT_FILE', `${where}: ${message}`);
}

/**
 * The offset of the first byte that starts an invalid UTF-8 sequence (the
 * WHATWG decoder's rules: no overlong forms, no surrogates, nothing above
 * U+10FFFF, no truncated sequence), or -1 when the bytes are valid.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  const n = bytes.length;
  while (i < n) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0; // overlong
      if (b === 0xed) hi = 0x9f; // surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90; // overlong
      if (b === 0xf4) hi = 0x8f; // above U+10FFFF
    } else return i;
    if (i + need >= n) return i; // truncated at the end
    const second = bytes[i + 1];
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k];
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return -1;
}

/**
 * Decodes a data file's bytes as UTF-8 with `fatal: true`. On failure the
 * error names the line and the column (in bytes) of the first invalid byte.
 */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    if (at < 0) throw dataError(file, null, 'is not valid UTF-8');
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++) {
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    }
    const hex = bytes[at].toString(16).padStart(2, '0');
    throw dataError(file, { line, column: at - lineStart + 1 }, `invalid UTF-8 (byte 0x${hex}; the column counts bytes)`);
  }
}

/**
 * The lines of a text: split on \n, a trailing \r removed from each (CRLF
 * files), and the empty piece after a final newline left out. Index i is line i+1.
 */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  return lines;
}

/** A data file's bytes, gunzipped when the name ends in .gz; a failure is ERR_IO naming the file. */
export function readDataFile(file: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new ElectraError('ERR_IO', `cannot read ${file}: ${(e as Error).message}`);
  }
  if (!file.toLowerCase().endsWith('.gz')) return bytes;
  try {
    return zlib.gunzipSync(bytes);
  } catch (e) {
    throw new ElectraError('ERR_CORRUPT_FILE', `${file}: not a valid gzip file (${(e as Error).message})`);
  }
}
