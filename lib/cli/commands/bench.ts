/**
 * `electra-native bench`: GEMM GFLOP/s and the ELECTRA training step, with the
 * PyTorch + HF transformers step measured side by side in the same run when
 * Python with torch is present (scripts/bench/run.js does the work). The
 * native side is the electra_bench program when it is built (`npm run
 * build:native`), else the same measurements through the addon
 * (scripts/bench/addon_bench.js; `npm ci` builds only the addon); --runner
 * picks one, and the table names the one that ran. PyTorch runs twice: stock
 * HF (the generator's head at every position) and the head at the masked
 * positions only; the ratio is against the faster. Each step row also has its
 * model FLOP rate (scripts/bench/flops.js) as % of its own square-sgemm peak.
 *
 * --device cuda | cuda:N runs `electra_bench step --backend cuda --device N
 * --precision P` and the peer with `--device cuda` (plus `--bf16` autocast when
 * P is bf16: the same precision on both sides); the GEMM part is CPU sgemm
 * only and is skipped there. --device auto: cuda:0 when the addon reports a
 * CUDA device (as `electra-native info`), else cpu. A native failure (no GPU,
 * a build without CUDA, out of device memory...) is reported and then thrown
 * as an ElectraError with electra_bench's code (ERR_NO_DEVICE, ...).
 */
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { parseDevice, parsePrecision, type Precision } from '../../device';
import { ElectraError, isElectraErrorCode, toElectraError } from '../../errors';
import { getInfo } from '../../info';
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
  precision?: string;
  compile: boolean;
  peer: boolean;
  only?: 'gemm' | 'step';
  runner: 'auto' | 'electra_bench' | 'addon';
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
    .option('device', {
      type: 'string',
      default: 'cpu',
      describe: 'cpu | cuda (= cuda:0) | cuda:N | auto (cuda:0 when `electra-native info` reports a GPU, else cpu). ' +
        'On CUDA the CPU-only sgemm part is skipped and the step table adds peak device memory',
    })
    .option('precision', {
      type: 'string',
      describe: 'fp32 | bf16 for both sides (default: bf16 on CUDA, the PyTorch peer in bf16 autocast; fp32, the only one, on the CPU)',
    })
    .option('compile', { type: 'boolean', default: false, describe: 'wrap the PyTorch peer in torch.compile' })
    .option('peer', { type: 'boolean', default: true, describe: 'also time PyTorch + HF (--no-peer to skip)' })
    .option('only', { choices: ['gemm', 'step'] as const })
    .option('runner', {
      choices: ['auto', 'electra_bench', 'addon'] as const,
      default: 'auto' as const,
      describe: 'what runs the native parts: the electra_bench program (npm run build:native) or the addon; auto: electra_bench when built',
    })
    .option('json', { type: 'boolean', default: false })
    .example('$0 bench --preset small --batch 16 --seq 128 --device cpu --json', 'the issue-3 measurement')
    .example('$0 bench --device cuda --precision bf16', 'the step on GPU 0 in bf16 vs PyTorch bf16 autocast')
    .example('$0 bench --device cuda:1 --precision fp32 --compile', 'fp32 on GPU 1 vs torch.compile\'d PyTorch fp32')
    .example('$0 bench --device auto --only step --no-peer', 'the native step on a GPU if there is one, else the CPU')
    .example('$0 bench --runner addon --steps 2', 'through the addon only (what runs when electra_bench is not built)') as unknown as Argv<BenchArgs>;
}

interface BenchFailure {
  what: string;
  code: string;
  message: string;
  detail?: string;
  status: number | null;
}

interface BenchResult {
  failure?: BenchFailure | null;
}

interface BenchModule {
  runBench(o: Record<string, unknown>): BenchResult;
  formatReport(r: unknown): string;
}

function checkInt(flag: string, v: unknown, min: number): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `bench --${flag} needs an integer >= ${min}, got ${String(v)}`);
  }
}

/**
 * The device the benchmark runs on, 'cpu' or 'cuda:N', for --device and
 * --precision; 'auto' is cuda:0 when getInfo() reports a CUDA device, else
 * the CPU (with one line on stderr when CUDA is built in but unusable).
 * Bad values, and bf16 on the CPU, are ERR_INVALID_ARGUMENT.
 */
export function resolveBenchDevice(device: unknown, precision: Precision | undefined, only?: 'gemm' | 'step',
  info: () => { backend: 'cpu' | 'cuda'; cudaCompiled: boolean; cuda: { reason?: string } } = getInfo): 'cpu' | `cuda:${number}` {
  const req = parseDevice(device);
  let resolved: 'cpu' | `cuda:${number}`;
  let autoWhy = '';
  if (req.kind === 'cpu') {
    resolved = 'cpu';
  } else if (req.kind === 'cuda') {
    resolved = `cuda:${req.index}`;
  } else if (only === 'gemm') {
    resolved = 'cpu'; // the GEMM part is CPU sgemm whatever the device
  } else {
    try {
      const i = info();
      if (i.backend === 'cuda') {
        resolved = 'cuda:0';
      } else {
        resolved = 'cpu';
        autoWhy = i.cudaCompiled ? i.cuda.reason ?? 'no CUDA device found' : '';
      }
    } catch (e) {
      resolved = 'cpu';
      autoWhy = `querying the GPUs failed: ${toElectraError(e).message}`;
    }
  }
  if (resolved === 'cpu' && precision === 'bf16') {
    throw new ElectraError(
      'ERR_INVALID_ARGUMENT',
      req.kind === 'auto'
        ? `bench --precision bf16 needs a CUDA GPU, but --device auto found none${autoWhy ? ` (${autoWhy})` : ''}; use --precision fp32 or leave it unset`
        : 'bench --precision bf16 needs --device cuda; the CPU computes in fp32 only',
    );
  }
  if (resolved !== 'cpu' && only === 'gemm') {
    throw new ElectraError('ERR_INVALID_ARGUMENT', `bench --only gemm measures the CPU sgemm only; run it with --device cpu (not ${String(device)})`);
  }
  if (req.kind === 'auto' && autoWhy) process.stderr.write(`[bench] --device auto: no usable GPU, using the CPU: ${autoWhy}\n`);
  return resolved;
}

export function handler(argv: ArgumentsCamelCase<BenchArgs>): void {
  checkInt('batch', argv.batch, 1);
  checkInt('seq', argv.seq, 3);
  checkInt('threads', argv.threads, 0);
  checkInt('steps', argv.steps, 0);
  checkInt('warmup', argv.warmup, 0);
  const precision = parsePrecision(argv.precision);
  const device = resolveBenchDevice(argv.device, precision, argv.only);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.join(PACKAGE_ROOT, 'scripts', 'bench', 'run.js')) as BenchModule;
  let res: BenchResult;
  try {
    res = mod.runBench({
      preset: argv.preset,
      batch: argv.batch,
      seq: argv.seq,
      threads: argv.threads,
      steps: argv.steps,
      warmup: argv.warmup,
      peer: argv.peer,
      only: argv.only,
      device,
      precision: precision ?? null,
      compile: argv.compile,
      runner: argv.runner,
    });
  } catch (e) {
    throw toElectraError(e);
  }
  process.stdout.write(argv.json ? JSON.stringify(res, null, 2) + '\n' : mod.formatReport(res) + '\n');
  const f = res.failure;
  if (f) {
    throw new ElectraError(isElectraErrorCode(f.code) ? f.code : 'ERR_INTERNAL', `bench: ${f.what} failed: ${f.detail ?? f.message}`);
  }
}
