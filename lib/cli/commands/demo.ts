/**
 * `electra-native demo`: a smoke test of the native backend from JavaScript:
 * prints backend info, then runs a small linear -> GELU -> LayerNorm ->
 * linear -> cross-entropy chain through the debug ops, with timings.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { wrapNative } from '../../errors';
import { getInfo } from '../../info';
import { loadNative } from '../../native';
import { formatInfo } from './info';

export const command = 'demo';
export const describe = 'Smoke demo: backend info plus a few native ops, timed';

interface DemoArgs {
  rows: number;
  hidden: number;
  vocab: number;
  json: boolean;
}

export function builder(y: Argv): Argv<DemoArgs> {
  return y
    .option('rows', { type: 'number', default: 64, describe: 'batch rows (M)' })
    .option('hidden', { type: 'number', default: 256, describe: 'hidden size' })
    .option('vocab', { type: 'number', default: 1024, describe: 'classes of the output layer' })
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' });
}

/** Deterministic values in [-scale, scale) (a small LCG; no Math.random). */
function fill(n: number, seed: number, scale: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return a;
}

function timed<T>(fn: () => T): [T, number] {
  const t0 = process.hrtime.bigint();
  const r = wrapNative(fn);
  return [r, Number(process.hrtime.bigint() - t0) / 1e6];
}

export function handler(argv: ArgumentsCamelCase<DemoArgs>): void {
  const { rows: M, hidden: H, vocab: V } = argv;
  const ops = loadNative().debug;
  const info = getInfo();
  const x = fill(M * H, 1, 1);
  const w1 = fill(H * H, 2, 1 / Math.sqrt(H));
  const b1 = fill(H, 3, 0.1);
  const w2 = fill(V * H, 4, 1 / Math.sqrt(H));
  const gamma = new Float32Array(H).fill(1);
  const beta = new Float32Array(H);
  const rowsIdx = Int32Array.from({ length: M }, (_, i) => i);
  const targets = Int32Array.from({ length: M }, (_, i) => (i * 7919) % V);

  const t: Record<string, number> = {};
  let h: Float32Array;
  [h, t.linear1] = timed(() => ops.linearForward(x, w1, b1, M, H, H));
  [h, t.gelu] = timed(() => ops.geluForward(h));
  let ln: { out: Float32Array };
  [ln, t.layernorm] = timed(() => ops.layerNormForward(h, gamma, beta, M, H, 1e-12));
  let logits: Float32Array;
  [logits, t.linear2] = timed(() => ops.linearForward(ln.out, w2, null, M, H, V));
  let ce: { losses: Float32Array };
  [ce, t.crossEntropy] = timed(() => ops.crossEntropy(logits, rowsIdx, targets, V, 1 / M));
  const loss = ce.losses.reduce((a, b) => a + b, 0) / M;
  const flops = 2 * M * H * H + 2 * M * H * V;
  const gemmMs = t.linear1 + t.linear2;

  if (argv.json) {
    process.stdout.write(
      `${JSON.stringify({ info, shape: { M, H, V }, loss, timingsMs: t, linearGflops: flops / gemmMs / 1e6 }, null, 2)}\n`,
    );
    return;
  }
  process.stdout.write(`${formatInfo(info)}\n\n`);
  process.stdout.write(`demo: x[${M},${H}] -> linear -> gelu -> layernorm -> linear[${V}] -> cross-entropy\n`);
  for (const [k, v] of Object.entries(t)) process.stdout.write(`  ${k.padEnd(13)} ${v.toFixed(3)} ms\n`);
  process.stdout.write(`  mean loss     ${loss.toFixed(4)} (ln ${V} = ${Math.log(V).toFixed(4)})\n`);
  process.stdout.write(`  linear        ${(flops / gemmMs / 1e6).toFixed(2)} GFLOP/s\n`);
}
