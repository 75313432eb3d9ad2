/**
 * Checkpoint rotation for a run directory:
 *   RUN/checkpoints/step-000100/   one complete checkpoint per save (Trainer.saveCheckpoint)
 *   RUN/checkpoints/LATEST          the name of the newest complete one (written atomically, last)
 * Saves happen every N steps and/or every M minutes; only the newest K are kept.
 * A checkpoint is only written from a sound state (soundness.ts), carries a
 * manifest of CRC-32C digests (checkpoint-manifest.ts), and LATEST only moves
 * once the manifest is in place.
 */
import * as fs from 'fs';
import * as path from 'path';

import { ElectraError } from './errors';
import { MANIFEST_FILE } from './checkpoint-manifest';
import { writeFileAtomic } from './io/atomic';
import type { Trainer } from './trainer';

export interface CheckpointPolicy {
  /** Save every N steps (0: never by steps). */
  everySteps?: number;
  /** Save every M minutes of wall time (0: never by time). */
  everyMinutes?: number;
  /** Keep the newest K checkpoints (>= 1; default 3). */
  keep?: number;
}

export class CheckpointManager {
  readonly dir: string;
  private lastSaveMs = Date.now();
  private readonly everySteps: number;
  private readonly everyMs: number;
  private readonly keep: number;

  constructor(runDir: string, policy: CheckpointPolicy = {}) {
    this.dir = path.join(runDir, 'checkpoints');
    this.everySteps = policy.everySteps ?? 0;
    this.everyMs = (policy.everyMinutes ?? 0) * 60_000;
    this.keep = policy.keep ?? 3;
    if (!Number.isInteger(this.keep) || this.keep < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `keep must be an integer >= 1, got ${policy.keep}`);
    if (!(this.everySteps >= 0) || !(this.everyMs >= 0)) throw new ElectraError('ERR_INVALID_ARGUMENT', 'checkpoint intervals must be >= 0');
  }

  /** True when the policy asks for a save after `step`. */
  due(step: number): boolean {
    return (this.everySteps > 0 && step % this.everySteps === 0) || (this.everyMs > 0 && Date.now() - this.lastSaveMs >= this.everyMs);
  }

  /** Saves a checkpoint for the trainer's current step, publishes it as LATEST, prunes old ones. Returns its path. */
  async save(trainer: Trainer, extraFiles: Record<string, string> = {}): Promise<string> {
    const name = `step-${String(trainer.globalStep).padStart(6, '0')}`;
    const dir = path.join(this.dir, name);
    const existed = fs.existsSync(dir);
    try {
      await trainer.saveCheckpoint(dir, extraFiles);
    } catch (e) {
      // A save that fails part-way (a full disk) must not leave a half
      // checkpoint behind for pruning and listing to count. A directory that
      // was there before keeps its previous, intact files.
      if (!existed) await fs.promises.rm(dir, { recursive: true, force: true }).catch(() => undefined);
      throw e;
    }
    await writeFileAtomic(path.join(this.dir, 'LATEST'), name + '\n');
    this.lastSaveMs = Date.now();
    const all = this.list();
    for (const old of all.slice(0, Math.max(0, all.length - this.keep))) {
      if (old !== name) await fs.promises.rm(path.join(this.dir, old), { recursive: true, force: true });
    }
    return dir;
  }

  /** Checkpoint names, oldest first. */
  list(): string[] {
    if (!fs.existsSync(this.dir)) return [];
    return fs.readdirSync(this.dir).filter((n) => /^step-\d+$/.test(n)).sort();
  }

  /**
   * Checkpoint directories to try when resuming `runOrCheckpoint`, best first:
   * a checkpoint directory alone; for a run, the one LATEST names, then every
   * other complete one (trainer.json present), newest first.
   */
  static candidates(runOrCheckpoint: string): string[] {
    if (fs.existsSync(path.join(runOrCheckpoint, 'trainer.json'))) return [runOrCheckpoint];
    const dir = path.join(runOrCheckpoint, 'checkpoints');
    if (!fs.existsSync(dir)) return [];
    const latest = CheckpointManager.latest(runOrCheckpoint);
    const others = fs
      .readdirSync(dir)
      .filter((n) => /^step-\d+$/.test(n))
      .sort()
      .reverse()
      .map((n) => path.join(dir, n))
      .filter((d) => d !== latest && (fs.existsSync(path.join(d, MANIFEST_FILE)) || fs.existsSync(path.join(d, 'trainer.json'))));
    return latest ? [latest, ...others] : others;
  }

  /**
   * Loads the first of `candidates` that `load` accepts, falling back past
   * checkpoints that fail with ERR_CORRUPT_FILE (a checksum mismatch,
   * non-finite values, a torn file). `onFallback` is told which ones were
   * skipped and why. The last error is rethrown when none loads.
   */
  static async loadNewestSound<T>(candidates: string[], load: (dir: string) => Promise<T>, onFallback?: (skipped: string, why: string, next: string | null) => void): Promise<{ dir: string; value: T }> {
    let lastErr: unknown;
    for (let i = 0; i < candidates.length; i++) {
      try {
        return { dir: candidates[i], value: await load(candidates[i]) };
      } catch (e) {
        if (!(e instanceof ElectraError) || e.code !== 'ERR_CORRUPT_FILE') throw e;
        lastErr = e;
        onFallback?.(candidates[i], e.message, candidates[i + 1] ?? null);
      }
    }
    throw lastErr ?? new ElectraError('ERR_IO', 'no checkpoint to load');
  }

  /** The newest complete checkpoint of a run directory, or null. Accepts a checkpoint directory too. */
  static latest(runOrCheckpoint: string): string | null {
    if (fs.existsSync(path.join(runOrCheckpoint, 'trainer.json'))) return runOrCheckpoint;
    const latest = path.join(runOrCheckpoint, 'checkpoints', 'LATEST');
    if (!fs.existsSync(latest)) return null;
    const dir = path.join(runOrCheckpoint, 'checkpoints', fs.readFileSync(latest, 'utf8').trim());
    return fs.existsSync(path.join(dir, 'trainer.json')) ? dir : null;
  }
}
