/** CRC-32C digests of files (computed natively: several GB/s, so a checkpoint's digests cost little next to its writes). */
import * as fs from 'fs';

import { ElectraError } from '../errors';
import { loadNative } from '../native';

/** CRC-32C (Castagnoli) of `data`, continuing `prev`. */
export function crc32c(data: ArrayBufferView, prev = 0): number {
  return loadNative().crc32c(data, prev);
}

/** A file's size and CRC-32C as 8 lower-case hex digits. */
export interface FileDigest {
  bytes: number;
  crc32c: string;
}

const CHUNK = 8 << 20;

/** Reads `file` in chunks (so a large file is not held twice in memory) and returns its digest; ERR_IO naming it when unreadable. */
export async function digestFile(file: string): Promise<FileDigest> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(file, 'r');
    const buf = Buffer.allocUnsafe(CHUNK);
    let crc = 0;
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      crc = crc32c(buf.subarray(0, bytesRead), crc);
      bytes += bytesRead;
    }
    return { bytes, crc32c: crc.toString(16).padStart(8, '0') };
  } catch (e) {
    if (e instanceof ElectraError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new ElectraError('ERR_IO', `cannot read ${file}: ${err.code === 'ENOENT' ? 'file not found' : err.message}`);
  } finally {
    await fh?.close();
  }
}
