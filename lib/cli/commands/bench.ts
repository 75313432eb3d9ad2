/**
 * `electra-native bench`: GEMM GFLOP/s and the ELECTRA training step, with the
 * PyTorch + HF transformers step measured side by side in the same run when
 * Python with torch is present (scripts/bench/run.js does the work; the native
 * side is the electra_bench program, which runs without Node).
 */
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { ElectraError } from '../../errors';
import { PACKAGE_ROOT } from '../../native';

export const command = 'bench';
export const describe = 'Benchmark GEMM and the training step against PyTorch + HF transformers';

interface BenchArgs {
  preset: string;
  batch: number;
  seq: number;
  threads: number;
  steps: number;
  warmup: number;
  device: string;
  peer: boolean;
  only?: 'gemm' | 'step';
  json: boolean;
}

export function builder(y: Argv): Argv<BenchArgs> {
  return y
    .option('preset', { choices: ['tiny', 'small', 'base'], default: 'small' })
    .option('batch', { type: 'number', default: 16 })
    .option('seq', { type: 'number', default: 128 })
    .option('threads', { type: 'number', default: 0, describe: 'CPU threads (0: all cores)' })
    .option('steps', { type: 'number', default: 0, describe: 'timed steps (0: about 10 s worth)' })
    .option('warmup', { type: 'number', default: 1 })
    .option('device', { type: 'string', default: 'cpu', describe: 'cpu (the CUDA step lands with the CUDA backend)' })
    .option('peer', { type: 'boolean', default: true, describe: 'also time PyTorch + HF (--no-peer to skip)' })
    .option('only', { choices: ['gemm', 'step'] as const })
    .option('json', { type: 'boolean', default: false })
    .example('$0 bench --preset small --batch 16 --seq 128 --device cpu --json', 'the issue-3 measurement') as unknown as Argv<BenchArgs>;
}

interface BenchModule {
  runBench(o: Record<string, unknown>): unknown;
  formatReport(r: unknown): string;
}

export function handler(argv: ArgumentsCamelCase<BenchArgs>): void {
  if (argv.device !== 'cpu' && argv.device !== 'auto') {
    throw new ElectraError('ERR_NO_DEVICE', `bench --device ${argv.device}: only the CPU step exists in this version`);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(PACKAGE_ROOT, 'scripts', 'bench', 'run.js')) as BenchModule;
  const res = mod.runBench({
    preset: argv.preset,
    batch: argv.batch,
    seq: argv.seq,
    threads: argv.threads,
    steps: argv.steps,
    warmup: argv.warmup,
    peer: argv.peer,
    only: argv.only,
  });
  process.stdout.write(argv.json ? JSON.stringify(res, null, 2) + '\n' : mod.formatReport(res) + '\n');
}
