/**
 * What a checkpoint must be before it is written: every weight finite and no
 * larger than a bound that no healthy run reaches, every AdamW moment finite,
 * and every second moment v >= 0. A run that fails this has diverged; saving
 * it would make LATEST a checkpoint that nothing can resume.
 */
import { ElectraError } from './errors';
import type { ElectraModel } from './model';

/**
 * Default bound on |weight|. Healthy ELECTRA/BERT weights stay well below 10
 * (LayerNorm and weight decay keep them there); 1e4 is only reached by a run
 * whose learning rate blew it up (1e3 gives ~5e8 within a few hundred steps).
 */
export const MAX_ABS_WEIGHT = 1e4;

/** The first tensor that makes the model's state unsound, or null when it is sound. */
export function findUnsound(model: ElectraModel, maxAbsWeight = MAX_ABS_WEIGHT): string | null {
  for (const s of model.tensorSpecs()) {
    const p = model.native.getTensor(s.name, 'params');
    for (let i = 0; i < p.length; i++) {
      const x = p[i];
      if (!(Math.abs(x) <= maxAbsWeight)) {
        return Number.isFinite(x)
          ? `weight ${s.name}[${i}] is ${x.toExponential(2)}, beyond the sound bound ${maxAbsWeight.toExponential(0)}`
          : `weight ${s.name}[${i}] is ${x}`;
      }
    }
    const m = model.native.getTensor(s.name, 'm');
    for (let i = 0; i < m.length; i++) if (!Number.isFinite(m[i])) return `first moment m/${s.name}[${i}] is ${m[i]}`;
    const v = model.native.getTensor(s.name, 'v');
    for (let i = 0; i < v.length; i++) if (!(v[i] >= 0 && v[i] < Infinity)) return `second moment v/${s.name}[${i}] is ${v[i]} (must be finite and >= 0)`;
  }
  return null;
}

/** Throws ERR_DIVERGED (naming the tensor, the step and the likely cause) unless the model's state is fit to save. */
export function assertSound(model: ElectraModel, step: number, maxAbsWeight = MAX_ABS_WEIGHT): void {
  const bad = findUnsound(model, maxAbsWeight);
  if (bad) {
    throw new ElectraError(
      'ERR_DIVERGED',
      `not saving the checkpoint of step ${step}: ${bad}. The run diverged (most likely the learning rate is too high); ` +
        'the previous checkpoint stays the newest. Resume from it with a lower --lr (plus --override, as it changes the run)',
    );
  }
}

/** Options of the loss-spike guard: a step whose loss exceeds `factor` x the running mean of the last `window` steps. */
export interface LossSpikeGuardOptions {
  /** Threshold as a multiple of the running mean (> 1; default 3). */
  factor?: number;
  /** Steps in the running mean (default 50); the guard is idle until it has this many. */
  window?: number;
  /** 'stop': ERR_DIVERGED after `patience` spikes in a row; 'skip': the spiking step applies no update. */
  action: 'stop' | 'skip';
  /** Spikes in a row before 'stop' stops (default 1). */
  patience?: number;
}

/** The running mean of recent losses, and the threshold above which a loss is a spike. */
export class LossSpikeGuard {
  readonly factor: number;
  readonly window: number;
  readonly action: 'stop' | 'skip';
  readonly patience: number;
  private readonly recent: number[] = [];
  private sum = 0;
  private inARow = 0;

  constructor(opts: LossSpikeGuardOptions) {
    this.factor = opts.factor ?? 3;
    this.window = opts.window ?? 50;
    this.action = opts.action;
    this.patience = opts.patience ?? 1;
    const bad = (m: string): never => {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `lossSpike: ${m}`);
    };
    if (this.action !== 'stop' && this.action !== 'skip') bad(`action must be 'stop' or 'skip', got ${String(opts.action)}`);
    if (!(this.factor > 1 && Number.isFinite(this.factor))) bad(`factor must be a finite number > 1, got ${opts.factor}`);
    if (!Number.isInteger(this.window) || this.window < 1) bad(`window must be an integer >= 1, got ${opts.window}`);
    if (!Number.isInteger(this.patience) || this.patience < 1) bad(`patience must be an integer >= 1, got ${opts.patience}`);
  }

  /** The loss above which the next step is a spike, or 0 while the window is not yet full. */
  threshold(): number {
    return this.recent.length < this.window ? 0 : (this.factor * this.sum) / this.recent.length;
  }

  /** Records a step's loss; returns true when it was a spike (spikes do not enter the running mean). */
  observe(loss: number, step: number): boolean {
    const t = this.threshold();
    if (t > 0 && loss > t) {
      this.inARow++;
      if (this.action === 'stop' && this.inARow >= this.patience) {
        throw new ElectraError(
          'ERR_DIVERGED',
          `loss spike at step ${step}: loss ${loss.toPrecision(4)} > ${this.factor} x the running mean ${(t / this.factor).toPrecision(4)} ` +
            `of the last ${this.window} steps (${this.inARow} in a row); stopping before anything is saved. ` +
            'Likely causes: a learning rate too high for this batch size, or a bad batch',
        );
      }
      return true;
    }
    this.inARow = 0;
    this.recent.push(loss);
    this.sum += loss;
    if (this.recent.length > this.window) this.sum -= this.recent.shift()!;
    return false;
  }
}
