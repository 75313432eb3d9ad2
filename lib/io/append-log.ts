/**
 * A JSON-lines file appended one line at a time with synchronous writes, so a
 * failed write (ENOSPC, EIO) surfaces at once as one ERR_IO naming the file,
 * instead of as an unhandled stream 'error' event. Appending never truncates
 * what is already there; a line cut by a full disk is skipped by readers.
 */
import * as fs from 'fs';

import { ElectraError } from '../errors';

/** One clear sentence for a failed write, with the usual causes spelled out. */
export function describeWriteError(file: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const why = err.code === 'ENOSPC' ? 'the disk is full (ENOSPC)' : err.code === 'EIO' ? 'an I/O error (EIO)' : err.code === 'EDQUOT' ? 'the disk quota is exhausted (EDQUOT)' : err.message;
  return `cannot write ${file}: ${why}`;
}

export class AppendLog {
  private fd: number | null;

  constructor(readonly file: string) {
    try {
      this.fd = fs.openSync(file, 'a');
    } catch (e) {
      throw new ElectraError('ERR_IO', describeWriteError(file, e));
    }
  }

  /** Appends `value` as one JSON line; ERR_IO when the write fails (the log is closed then). */
  append(value: unknown): void {
    if (this.fd === null) throw new ElectraError('ERR_IO', `${this.file} is closed`);
    const buf = Buffer.from(JSON.stringify(value) + '\n');
    try {
      for (let off = 0; off < buf.length; ) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      this.close();
      throw new ElectraError('ERR_IO', describeWriteError(this.file, e));
    }
  }

  /** Closes the file (errors closing are ignored: every line was already written). */
  close(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      /* nothing left to lose */
    }
    this.fd = null;
  }
}
