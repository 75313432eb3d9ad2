/**
 * Memory planning: the bytes a configuration needs, computed before anything
 * is allocated, so a batch that cannot fit is ERR_OUT_OF_MEMORY with the
 * numbers and a way out, not a kill by the kernel's OOM killer.
 *
 * The activation sizes restate ElectraModel::resize and Encoder::resize
 * (native/core); test/reliability.test.ts checks them against the backend's
 * own allocation count after a real step, so the two cannot drift apart.
 *
 * One size is the backend's to decide: the attention state a layer keeps for
 * the backward (the probabilities [B,A,S,S], or one float per query row
 * [B,A,S] where CUDA's bf16 tensor-core attention recomputes them). The plan
 * asks the backend (StepShape.attentionSavedFloats, which the Trainer takes
 * from ElectraModel.attentionSavedFloats); only where no backend exists
 * (`info`) does it assume the probabilities, the most any backend keeps.
 * Likewise whether the backend keeps the FFN's GELU output [N,F] as bf16
 * (StepShape.ffnGeluBf16, from ElectraModel.ffnGeluBf16: CUDA in bf16),
 * half its bytes; elsewhere fp32. And whether it keeps the attention's q, k, v
 * [N,H] as bf16 (StepShape.attentionQkvBf16, from ElectraModel.attentionQkvBf16:
 * CUDA in bf16 where its tensor-core attention runs).
 */
import * as os from 'os';

import type { ElectraConfig, EncoderSize } from './config';
import { ElectraError } from './errors';

const F32 = 4;

/** What a training configuration needs, in bytes. */
export interface MemoryPlan {
  /** Weights. */
  parameters: number;
  /** Gradients and the two AdamW moments (3 x the weights). */
  optimizer: number;
  /** Activations and their gradients for one micro-batch (the backend's buffers). */
  activations: number;
  /** Host staging of a micro-batch, the batch itself as the data source hands it over, and the backend's step workspaces (CUDA). */
  workspace: number;
  total: number;
}

/** The shape of one training step, as the Trainer runs it. */
export interface StepShape {
  batchSize: number;
  seqLen: number;
  maskProb: number;
  gradAccum?: number;
  /** Bytes the backend's step may still grow beyond the activations (ElectraModel.stepWorkspaceBytes; 0 on the CPU). */
  backendWorkspace?: number;
  /** Floats of attention state per encoder layer on the model's backend (ElectraModel.attentionSavedFloats); default: the probabilities. */
  attentionSavedFloats?: AttentionSavedFloats;
  /** Whether the model's backend keeps an encoder's GELU output as bf16 (ElectraModel.ffnGeluBf16); default: fp32. */
  ffnGeluBf16?: FfnGeluBf16;
  /** Whether the model's backend keeps an encoder's attention q, k, v as bf16 (ElectraModel.attentionQkvBf16); default: fp32. */
  attentionQkvBf16?: AttentionQkvBf16;
}

/** Whether the backend keeps the GELU output [N,F] of an encoder of hidden H and intermediate F as bf16 (2 bytes an element). */
export type FfnGeluBf16 = (hidden: number, intermediate: number) => boolean;

/** fp32 storage: the CPU's and CUDA's fp32 path. */
export const ffnGeluFp32: FfnGeluBf16 = () => false;

/** Whether the backend keeps the attention's q, k, v [N,H] as bf16 at sequence length S with `heads` heads of `headDim`. */
export type AttentionQkvBf16 = (seqLen: number, heads: number, headDim: number) => boolean;

/** fp32 storage: the CPU's and CUDA's fp32 path. */
export const attentionQkvFp32: AttentionQkvBf16 = () => false;

/** Floats of attention state one encoder layer keeps for the backward, for B x S micro-batches with `heads` heads of `headDim`. */
export type AttentionSavedFloats = (B: number, S: number, heads: number, headDim: number) => number;

/** The probabilities [B,A,S,S]: what the CPU and CUDA's fp32 path keep, and the most any backend does. */
export const attentionProbabilities: AttentionSavedFloats = (B, S, heads) => B * heads * S * S;

function encoderParameters(c: EncoderSize, E: number): number {
  const { hidden: H, intermediate: F, layers: L } = c;
  return (E !== H ? H * E + H : 0) + L * (4 * (H * H + H) + 4 * H + F * H + F + H * F + H);
}

/** Trainable scalars of a config, without creating it (the tensor table of ElectraModel::build and Encoder::bind). */
export function countParameters(c: ElectraConfig): number {
  const E = c.embeddingSize;
  const V = c.vocabSize;
  let n = V * E + c.maxPosition * E + c.typeVocabSize * E + 2 * E;
  n += encoderParameters(c.generator, E) + c.generator.hidden * E + E + 2 * E + V;
  if (c.objective === 'electra') n += encoderParameters(c.discriminator, E) + c.discriminator.hidden * (c.discriminator.hidden + 1) + c.discriminator.hidden + 1;
  return n;
}

/** Element counts of one encoder's buffers (Encoder::resize). */
function encoderBuffers(
  c: EncoderSize,
  E: number,
  B: number,
  S: number,
  saved: AttentionSavedFloats,
  bf16: FfnGeluBf16,
  qkvBf16: AttentionQkvBf16,
): number[] {
  const N = B * S;
  const { hidden: H, intermediate: F, heads: A, layers: L } = c;
  const out = [E !== H ? N * H : 0];
  const attention = saved(B, S, A, H / A);
  const gelu = bf16(H, F) ? (N * F) / 2 : N * F; // in floats: bf16 takes half
  const qkv = qkvBf16(S, A, H / A) ? (N * H) / 2 : N * H;
  for (let l = 0; l < L; l++) out.push(...Array(3).fill(qkv), ...Array(5).fill(N * H), ...Array(4).fill(N), attention, N * F, gelu);
  out.push(...Array(6).fill(N * H), N * F);
  return out;
}

/**
 * Bytes of the backend's activation buffers for micro-batches of B x S
 * (ElectraModel::resize), each buffer rounded up to `align` bytes as the
 * backend allocates it (64 on the CPU), with `saved` floats of attention
 * state per layer (the backend's answer; default the probabilities).
 */
export function activationBytes(
  c: ElectraConfig,
  B: number,
  S: number,
  maskProb: number,
  align = 64,
  saved: AttentionSavedFloats = attentionProbabilities,
  bf16: FfnGeluBf16 = ffnGeluFp32,
  qkvBf16: AttentionQkvBf16 = attentionQkvFp32,
): number {
  const maxPred = Math.trunc(Math.fround(Math.fround(maskProb + 0.005) * S));
  const N = B * S;
  const M = B * maxPred;
  const E = c.embeddingSize;
  const V = c.vocabSize;
  const Hg = c.generator.hidden;
  const electra = c.objective === 'electra';
  const four: number[] = [...Array(5).fill(N), ...Array(5).fill(M), N, N]; // int32 ids/positions, float weights/labels
  const emb = (used: boolean) => (used ? [N * E, N * E, N * E, N, N] : []);
  four.push(...emb(true), ...emb(electra), N * E, N * Hg, M * Hg, M * Hg, ...Array(5).fill(M * E), M, M, M, M * V);
  four.push(...encoderBuffers(c.generator, E, B, S, saved, bf16, qkvBf16));
  if (electra) four.push(...encoderBuffers(c.discriminator, E, B, S, saved, bf16, qkvBf16), ...Array(4).fill(N * c.discriminator.hidden), N);
  const round = (bytes: number) => (bytes === 0 ? 0 : Math.ceil(bytes / align) * align);
  // + the step's device scalars (8 doubles) and the micro-batch's scales
  // (ElectraModel::MicroScales: two floats and a double, read by the kernels at run time).
  return four.reduce((a, n) => a + round(F32 * n), 0) + round(8 * 8) + round(16);
}

/** The plan of a model with `numParameters` weights training at `shape`. */
export function planMemory(config: ElectraConfig, numParameters: number, shape: StepShape): MemoryPlan {
  const { batchSize: B, seqLen: S, maskProb } = shape;
  const k = shape.gradAccum ?? 1;
  const parameters = F32 * numParameters;
  const optimizer = 3 * parameters;
  const activations = activationBytes(config, B, S, maskProb, 64, shape.attentionSavedFloats, shape.ffnGeluBf16, shape.attentionQkvBf16);
  // Host staging (ElectraModel's pinned slots, one per micro-batch, in two sets that alternate when
  // steps run without metrics): 6 int/float vectors of N and 4 of M (bounded by B*S) per micro-batch
  // and set, plus the labels (N); the JS
  // batch: 3 Int32Arrays of k*B*S, copied once for the native call; and what the backend grows on the
  // first step (CUDA's workspaces).
  const N = B * S;
  const stagingSets = 2; // ElectraModel::kStageSets
  const workspace = F32 * (stagingSets * k * (6 * N + 4 * B * S) + N) + 2 * 3 * F32 * k * N + (shape.backendWorkspace ?? 0);
  return { parameters, optimizer, activations, workspace, total: parameters + optimizer + activations + workspace };
}

/** Memory this process can still take on the CPU: free memory, bounded by a cgroup limit when there is one. */
export function availableHostBytes(): number {
  const free = os.freemem();
  const constrained = typeof process.constrainedMemory === 'function' ? process.constrainedMemory() ?? 0 : 0;
  // constrainedMemory() is the limit, not what is left under it: subtract what this process already holds.
  const underLimit = constrained > 0 && constrained < Number.MAX_SAFE_INTEGER ? constrained - process.memoryUsage().rss : Infinity;
  return Math.max(0, Math.min(free, underLimit));
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

/** One line: the plan's parts and total. */
export function describePlan(p: MemoryPlan): string {
  return `${formatBytes(p.total)} (weights ${formatBytes(p.parameters)}, gradients + AdamW ${formatBytes(p.optimizer)}, activations ${formatBytes(p.activations)}, workspace ${formatBytes(p.workspace)})`;
}

/**
 * ERR_OUT_OF_MEMORY when the memory still to be allocated (activations and
 * workspace: weights and optimizer state exist once the model does) exceeds
 * `available`, with the numbers and the largest batch that would fit.
 */
export function checkFits(config: ElectraConfig, numParameters: number, shape: StepShape, available: number, where: string): MemoryPlan {
  const plan = planMemory(config, numParameters, shape);
  const needed = plan.activations + plan.workspace;
  if (needed > available) {
    let fit = shape.batchSize;
    while (fit > 1) {
      fit = Math.floor(fit / 2);
      const p = planMemory(config, numParameters, { ...shape, batchSize: fit });
      if (p.activations + p.workspace <= available * 0.8) break;
    }
    const accum = Math.ceil((shape.batchSize * (shape.gradAccum ?? 1)) / fit);
    throw new ElectraError(
      'ERR_OUT_OF_MEMORY',
      `a ${shape.batchSize} x ${shape.seqLen} micro-batch needs ${formatBytes(needed)} more (${describePlan(plan)}), ` +
        `but only ${formatBytes(available)} is available on ${where}. Use a smaller batch, e.g. --batch ${fit} --grad-accum ${accum} ` +
        `(the same ${shape.batchSize * (shape.gradAccum ?? 1)} sequences per step), or a shorter --seq`,
    );
  }
  return plan;
}
