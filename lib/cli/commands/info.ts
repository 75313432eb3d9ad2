/** `electra-native info [--json]`: what the addon was built with and found. */
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { ElectraError } from '../../errors';

import { electraConfig, PresetName, PRESETS } from '../../config';
import { formatCudaVersion } from '../../device';
import { getInfo, type BackendInfo } from '../../info';
import { availableHostBytes, countParameters, describePlan, formatBytes, planMemory } from '../../memory-plan';

export const command = 'info';
export const describe = 'Show the native backend: version, CUDA, devices, threads, SIMD';

interface InfoArgs {
  json: boolean;
  preset: PresetName;
  batch: number;
  seq: number;
  vocabSize: number;
}

export function builder(y: Argv): Argv<InfoArgs> {
  return y
    .option('json', { type: 'boolean', default: false, describe: 'Print JSON' })
    .option('preset', { choices: Object.keys(PRESETS) as PresetName[], default: 'tiny' as PresetName, describe: 'model of the memory estimate' })
    .option('batch', { type: 'number', default: 16, describe: 'sequences per step, for the memory estimate' })
    .option('seq', { type: 'number', default: 128, describe: 'tokens per sequence, for the memory estimate' })
    .option('vocab-size', { type: 'number', default: 30522, describe: 'vocabulary size, for the memory estimate' }) as unknown as Argv<InfoArgs>;
}

/** The memory a training run of this shape needs, and what this machine has free. */
export function memoryEstimate(argv: Pick<InfoArgs, 'preset' | 'batch' | 'seq' | 'vocabSize'>) {
  for (const [k, v] of [['batch', argv.batch], ['seq', argv.seq], ['vocab-size', argv.vocabSize]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ElectraError('ERR_INVALID_ARGUMENT', `--${k} must be a positive integer, got ${v}`);
  }
  const cfg = electraConfig({ preset: argv.preset, vocabSize: argv.vocabSize, maxPosition: Math.max(512, argv.seq) });
  // No model, so no backend to ask: the plan counts the attention probabilities (the CPU's and CUDA fp32's state,
  // an upper bound for CUDA bf16, which keeps one float per query row where its tensor-core attention fits).
  const plan = planMemory(cfg, countParameters(cfg), { batchSize: argv.batch, seqLen: argv.seq, maskProb: PRESETS[argv.preset].recipe.maskProb });
  return { preset: argv.preset, batch: argv.batch, seq: argv.seq, vocabSize: argv.vocabSize, plan, availableHostBytes: availableHostBytes() };
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

export function formatInfo(info: BackendInfo): string {
  const rows: [string, string][] = [
    ['version', info.version],
    ['backend', info.backend],
    ['node', `${info.node} (${info.platform})`],
    ['threads', String(info.threads)],
  ];
  if (info.simdLevel !== undefined) {
    const max = info.simdLevelMax !== info.simdLevel ? ` (this CPU: up to ${info.simdLevelMax}; ELECTRA_SIMD lowers it)` : '';
    rows.push(['simd level', `${info.simdLevel}${max}`]);
  }
  if (info.simd !== undefined) rows.push(['gemm kernel', info.simd]);
  rows.push(['binary', `${info.binary.path} (${info.binary.prebuilt ? 'prebuilt' : 'built on this machine'})`]);
  rows.push(['cuda compiled', info.cudaCompiled ? 'yes' : 'no']);
  if (info.cudaCompiled) {
    rows.push(['cuda runtime', formatCudaVersion(info.cuda.runtimeVersion)]);
    const d = info.driver;
    const found = d?.found !== undefined ? ` (NVIDIA driver ${d.found})` : '';
    rows.push(['cuda driver', `${formatCudaVersion(info.cuda.driverVersion)}${found}${d && !d.ok ? ': TOO OLD' : ''}`]);
    if (d) rows.push(['driver needed', d.needed]);
  }
  rows.push(['cuda devices', String(info.cuda.deviceCount)]);
  if (info.build) {
    rows.push(['build', `${info.build.system}, ${info.build.type}, ${info.build.compiler}`]);
    if (info.build.cudaArchitectures) rows.push(['cuda targets', info.build.cudaArchitectures]);
  }
  info.cuda.devices.forEach((d, i) => {
    rows.push([`  device ${i}`, `${d.name}, ${gib(d.memory)}, cc ${d.cc}, ${d.multiprocessors} SMs`]);
  });
  if (info.cuda.reason !== undefined) rows.push(['no gpu because', info.cuda.reason]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

export function handler(argv: ArgumentsCamelCase<InfoArgs>): void {
  const info = getInfo();
  const mem = memoryEstimate(argv);
  const line =
    `memory plan  ${mem.preset}, ${mem.batch} x ${mem.seq}, vocab ${mem.vocabSize}: ${describePlan(mem.plan)}; ` +
    `free on this machine ${formatBytes(mem.availableHostBytes)}`;
  process.stdout.write(argv.json ? `${JSON.stringify({ ...info, memory: mem }, null, 2)}\n` : `${formatInfo(info)}\n${line}\n`);
}
