/**
 * AdamW as the ELECTRA reference runs it: decoupled weight decay (not on
 * LayerNorm or biases), epsilon 1e-6, no bias correction by default, global
 * norm clipping at 1.0, and lr(t) = lr * min(1, t/warmup) * (1 - t/total).
 * The update itself runs natively, inside the training step.
 */
import { trainDefaults } from './defaults';
import { ElectraError, toElectraError } from './errors';
import { readFileChecked, writeFileAtomic } from './io/atomic';
import type { FileDigest } from './io/checksum';
import { parseSafetensors, serializeSafetensors, toFloat32, TensorToWrite } from './io/safetensors';
import type { ElectraModel } from './model';

/** Every field defaults to the native training config's (trainDefaults(), from config_table.h). */
export interface AdamWOptions {
  /** Peak learning rate. */
  lr?: number;
  /** Linear warm-up steps (0: none). */
  warmupSteps?: number;
  /** Steps of the linear decay to 0; the schedule's horizon. */
  totalSteps?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  /** Clip gradients to this global norm; 0 disables. */
  clipNorm?: number;
  biasCorrection?: boolean;
}

export type AdamWHyperParameters = Required<AdamWOptions>;

export class AdamW {
  readonly hyper: Readonly<AdamWHyperParameters>;

  constructor(opts: AdamWOptions = {}) {
    const d = trainDefaults();
    const h: AdamWHyperParameters = {
      lr: opts.lr ?? d.lr,
      warmupSteps: opts.warmupSteps ?? d.warmupSteps,
      totalSteps: opts.totalSteps ?? d.totalSteps,
      beta1: opts.beta1 ?? d.beta1,
      beta2: opts.beta2 ?? d.beta2,
      eps: opts.eps ?? d.eps,
      weightDecay: opts.weightDecay ?? d.weightDecay,
      clipNorm: opts.clipNorm ?? d.clipNorm,
      biasCorrection: opts.biasCorrection ?? d.biasCorrection,
    };
    const bad = (m: string): never => {
      throw new ElectraError('ERR_INVALID_ARGUMENT', `invalid AdamW options: ${m}`);
    };
    if (!(Number.isFinite(h.lr) && h.lr >= 0)) bad(`lr must be a finite number >= 0, got ${h.lr}`);
    if (!(Number.isInteger(h.warmupSteps) && h.warmupSteps >= 0)) bad(`warmupSteps must be an integer >= 0, got ${h.warmupSteps}`);
    if (!(Number.isInteger(h.totalSteps) && h.totalSteps > 0)) bad(`totalSteps must be a positive integer, got ${h.totalSteps}`);
    if (!(h.beta1 >= 0 && h.beta1 < 1) || !(h.beta2 >= 0 && h.beta2 < 1)) bad('betas must be in [0, 1)');
    if (!(h.eps > 0)) bad('eps must be positive');
    if (!(h.weightDecay >= 0)) bad('weightDecay must be >= 0');
    if (!(Number.isFinite(h.clipNorm) && h.clipNorm >= 0)) bad('clipNorm must be a finite number >= 0');
    this.hyper = Object.freeze(h);
  }

  /**
   * The learning rate used at 0-based step t (the reference: t = 0 gets lr 0
   * under warm-up). Bit for bit the native schedule's (learning_rate in
   * electra_model.cpp), which holds the peak lr as a float32.
   */
  lrAt(t: number): number {
    const h = this.hyper;
    const warm = h.warmupSteps > 0 ? Math.min(1, t / h.warmupSteps) : 1;
    return Math.fround(h.lr) * warm * Math.max(0, 1 - t / h.totalSteps);
  }

  /** Writes the first and second moments of every tensor (`m/<name>`, `v/<name>`) atomically. */
  async saveState(model: ElectraModel, file: string, metadata: Record<string, string> = {}): Promise<FileDigest> {
    const tensors: TensorToWrite[] = [];
    for (const s of model.tensorSpecs()) {
      tensors.push({ name: `m/${s.name}`, shape: s.shape, data: model.native.getTensor(s.name, 'm') });
      tensors.push({ name: `v/${s.name}`, shape: s.shape, data: model.native.getTensor(s.name, 'v') });
    }
    return writeFileAtomic(file, serializeSafetensors(tensors, { ...metadata, hyper: JSON.stringify(this.hyper) }));
  }

  /** Restores the moments written by saveState; every tensor must be present with its shape. */
  async loadState(model: ElectraModel, file: string): Promise<void> {
    const st = parseSafetensors(await readFileChecked(file), file);
    for (const s of model.tensorSpecs()) {
      for (const kind of ['m', 'v'] as const) {
        const name = `${kind}/${s.name}`;
        const t = st.tensors.get(name);
        if (!t) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${name}' is missing`);
        if (t.shape.join(',') !== s.shape.join(',')) {
          throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${name}' has shape [${t.shape.join(', ')}], expected [${s.shape.join(', ')}]`);
        }
        const data = toFloat32(t, file, name);
        // Non-finite values are refused by setTensor; a negative second moment would turn the update into NaN.
        if (kind === 'v') for (let i = 0; i < data.length; i++) if (!(data[i] >= 0)) throw new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${name}' has ${data[i]} at ${i} (second moments are >= 0)`);
        try {
          model.native.setTensor(s.name, data, kind);
        } catch (e) {
          const err = toElectraError(e);
          throw err.code === 'ERR_INVALID_ARGUMENT' ? new ElectraError('ERR_CORRUPT_FILE', `${file}: tensor '${name}': ${err.message}`) : err;
        }
      }
    }
  }
}
