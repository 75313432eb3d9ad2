/**
 * `electra-native bench <what> [args..]`: runs the native electra_bench
 * program (built by `npm run build:native` into build/Release/), passing the
 * arguments through, e.g. `electra-native bench gemm --json`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';

import { ElectraError } from '../../errors';
import { PACKAGE_ROOT } from '../../native';

export const command = 'bench [args..]';
export const describe = 'Run the native benchmark program (e.g. `bench gemm --json`); arguments pass through';

interface BenchArgs {
  args: (string | number)[];
}

export function builder(y: Argv): Argv<BenchArgs> {
  return y
    .positional('args', { type: 'string', array: true, default: [], describe: 'passed to electra_bench' })
    .parserConfiguration({ 'unknown-options-as-args': true })
    .strict(false) as unknown as Argv<BenchArgs>;
}

/** Where `npm run build:native` puts electra_bench (ELECTRA_BENCH overrides). */
export function benchBinary(): string {
  if (process.env.ELECTRA_BENCH) return process.env.ELECTRA_BENCH;
  const exe = process.platform === 'win32' ? 'electra_bench.exe' : 'electra_bench';
  return path.join(PACKAGE_ROOT, 'build', 'Release', exe);
}

export function handler(argv: ArgumentsCamelCase<BenchArgs>): void {
  const bin = benchBinary();
  if (!fs.existsSync(bin)) {
    throw new ElectraError(
      'ERR_NATIVE_LOAD',
      `the native benchmark program is not built (looked for ${bin}); run \`npm run build:native\` first`,
    );
  }
  const args = (argv.args ?? []).map(String);
  const r = spawnSync(bin, args, { stdio: 'inherit' });
  if (r.error) throw new ElectraError('ERR_INTERNAL', `could not run ${bin}: ${r.error.message}`);
  if (r.status !== 0) process.exitCode = r.status ?? 1;
}
