/**
 * An exclusive lock on a run directory while a process trains in it:
 * RUN/run.lock holds the holder's pid, host and start time. It is created
 * complete (written to a temporary file, then hard-linked into place, which
 * fails if a lock exists), so a reader never sees a half-written lock. A lock
 * whose pid is dead on this host is stale and is taken over; a lock from
 * another host cannot be checked and is reported with the way to clear it.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ElectraError } from './errors';
import { describeWriteError } from './io/append-log';

export const LOCK_FILE = 'run.lock';

/** Who holds a run directory. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO time the lock was taken. */
  since: string;
  /** The holder's command line, for the message a second writer gets. */
  command: string;
}

function readHolder(file: string): LockHolder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : null;
  } catch {
    return null;
  }
}

/** True when `pid` is a live process on this host (EPERM: alive, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunLock {
  private released = false;
  private readonly onExit = () => this.release();

  private constructor(
    readonly file: string,
    readonly holder: LockHolder,
  ) {
    // A process.exit (second Ctrl-C) skips finally blocks; the lock still goes.
    process.once('exit', this.onExit);
  }

  /**
   * Takes the lock of `runDir` (which must exist). ERR_BUSY naming the holder
   * when another live process holds it; a stale lock (dead pid, same host) is
   * replaced, and `onStale` told.
   */
  static acquire(runDir: string, onStale?: (holder: LockHolder) => void): RunLock {
    const file = path.join(runDir, LOCK_FILE);
    const me: LockHolder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
    const tmp = path.join(runDir, `.${LOCK_FILE}.${process.pid}.tmp`);
    try {
      fs.writeFileSync(tmp, JSON.stringify(me) + '\n');
    } catch (e) {
      // A full disk can leave a created but empty file: remove it now rather
      // than leave it for the next start's clean-up.
      fs.rmSync(tmp, { force: true });
      throw new ElectraError('ERR_IO', describeWriteError(tmp, e));
    }
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          fs.linkSync(tmp, file);
          return new RunLock(file, me);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new ElectraError('ERR_IO', `cannot create ${file}: ${(e as Error).message}`);
        }
        const h = readHolder(file);
        const stale = h !== null && h.host === me.host && h.pid !== process.pid && !pidAlive(h.pid);
        if (!stale || attempt > 0) {
          const who = h ? `pid ${h.pid} on ${h.host} since ${h.since} (${h.command})` : 'an unreadable lock';
          const hint =
            h && h.host !== me.host
              ? `; it was taken on another host, so this one cannot tell whether it still runs: if it does not, delete ${file}`
              : h === null
                ? `; if no other process trains in ${runDir}, delete ${file}`
                : '; wait for it to finish, or stop it';
          throw new ElectraError('ERR_BUSY', `the run directory ${runDir} is in use by ${who}${hint}. Nothing was written`);
        }
        onStale?.(h);
        // Remove the stale lock only if it is still the one judged stale.
        const again = readHolder(file);
        if (again && again.pid === h.pid && again.since === h.since) fs.rmSync(file, { force: true });
      }
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  /** Removes the lock (if it is still ours). Safe to call twice. */
  release(): void {
    if (this.released) return;
    this.released = true;
    process.off('exit', this.onExit);
    const h = readHolder(this.file);
    if (h && h.pid === this.holder.pid && h.since === this.holder.since) fs.rmSync(this.file, { force: true });
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * Removes what interrupted writes left in a run directory: atomic-write
 * temporaries (`.NAME.PID.TIME.tmp`) in the run, checkpoints/ and each
 * checkpoint. (Partial dataset builds, `datasets/*.tmp-*`, are removed by
 * ensureDataset.) Call it while holding the run's lock, so no live writer
 * owns them. Returns what was removed.
 */
export function removeStaleTemporaries(runDir: string): string[] {
  const removed: string[] = [];
  const sweep = (dir: string, match: (name: string) => boolean) => {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const n of names) {
      if (!match(n)) continue;
      const p = path.join(dir, n);
      fs.rmSync(p, { recursive: true, force: true });
      removed.push(p);
    }
  };
  const atomicTmp = (n: string) => n.startsWith('.') && n.endsWith('.tmp') && n !== `.${LOCK_FILE}.${process.pid}.tmp`;
  sweep(runDir, atomicTmp);
  const ck = path.join(runDir, 'checkpoints');
  sweep(ck, atomicTmp);
  try {
    for (const n of fs.readdirSync(ck)) if (/^step-\d+$/.test(n)) sweep(path.join(ck, n), atomicTmp);
  } catch {
    /* no checkpoints yet */
  }
  return removed;
}
