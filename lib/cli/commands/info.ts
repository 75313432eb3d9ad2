/** `electra-native info [--json]`: what the addon was built with and found. */
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { formatCudaVersion } from '../../device';
import { getInfo, type BackendInfo } from '../../info';

export const command = 'info';
export const describe = 'Show the native backend: version, CUDA, devices, threads, SIMD';

interface InfoArgs {
  json: boolean;
}

export function builder(y: Argv): Argv<InfoArgs> {
  return y.option('json', { type: 'boolean', default: false, describe: 'Print JSON' });
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
  process.stdout.write(argv.json ? `${JSON.stringify(info, null, 2)}\n` : `${formatInfo(info)}\n`);
}
