/** Crash-safe file writes: a temporary file, fsync, then rename into place. */
import * as fs from 'fs';
import * as path from 'path';
import { ElectraError } from '../errors';
import { describeWriteError } from './append-log';
import { crc32c, FileDigest } from './checksum';

/**
 * Writes `data` to `file` so that a reader sees either the old or the new
 * content, never a torn file. Returns the size and CRC-32C of what was written
 * (computed from memory: no read-back), for checkpoint manifests.
 */
export async function writeFileAtomic(file: string, data: Buffer | string): Promise<FileDigest> {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
  try {
    const fh = await fs.promises.open(tmp, 'w');
    try {
      await fh.writeFile(buf);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
    // Persist the rename itself (best effort: not every platform can fsync a directory).
    try {
      const dh = await fs.promises.open(dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    } catch {
      /* directory fsync unsupported */
    }
    return { bytes: buf.length, crc32c: crc32c(buf).toString(16).padStart(8, '0') };
  } catch (e) {
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw new ElectraError('ERR_IO', `${describeWriteError(file, e)}; the previous ${path.basename(file)} (if any) is intact`);
  }
}

/** Reads a whole file, turning a missing or unreadable file into ERR_IO naming it. */
export async function readFileChecked(file: string): Promise<Buffer> {
  try {
    return await fs.promises.readFile(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : err.message;
    throw new ElectraError('ERR_IO', `cannot read ${file}: ${why}`);
  }
}
