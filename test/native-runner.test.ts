/**
 * The native test program's own contract, as CI reads it: a skipped test is
 * counted as skipped, never as passed, in the closing "N passed, N failed,
 * N skipped" line, and a SIMD level this CPU cannot run is an error rather
 * than a silent fallback. (Mutation caught: the runner counting a skip as a
 * pass.) Needs the cmake-js build (`npm run build:native`), which `npm test`
 * runs first; without it the tests say why they skip.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { getInfo } from '../lib/info';
import { root } from './run-cli';

const bin = path.join(root, 'build', 'Release', 'electra_tests');
const built = fs.existsSync(bin);
if (!built) console.warn(`native-runner.test: ${bin} is not built (npm run build:native), so these tests skip`);
const maybe = built ? test : test.skip;

function runTests(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(bin, args, { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60000 });
}

maybe('a skipping test is counted as skipped, not passed', () => {
  // The cuda_ tests and the device test skip on a machine without a GPU
  // (every machine that runs jest here); on a GPU they pass.
  const r = runTests(['cuda_', 'device_']);
  expect(r.status).toBe(0);
  const lines = r.stdout.split('\n');
  const count = (p: string) => lines.filter((l) => l.startsWith(p)).length;
  const closing = /^(\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(r.stdout);
  expect(closing).not.toBeNull();
  const [, passed, failed, skipped] = closing!.map(Number);
  expect(passed).toBe(count('PASS '));
  expect(failed).toBe(0);
  expect(skipped).toBe(count('SKIP '));
  if (getInfo().cuda.deviceCount === 0) expect(skipped).toBeGreaterThan(0);
});

maybe('--simd-levels lists what the CPU runs, and --simd refuses anything else', () => {
  const levels = runTests(['--simd-levels']).stdout.trim().split('\n');
  expect(levels[0]).toBe('generic');
  for (const l of levels) expect(['generic', 'avx2', 'avx512']).toContain(l);
  const first = runTests(['--simd', levels[levels.length - 1], 'simd_level_forcing']);
  expect(first.status).toBe(0);
  expect(first.stdout).toMatch(new RegExp(`^simd level: ${levels[levels.length - 1]} `, 'm'));
  const missing = ['avx2', 'avx512'].find((l) => !levels.includes(l));
  if (missing) {
    const r = runTests(['--simd', missing]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not supported here/);
  }
  expect(runTests(['--simd', 'sse9']).status).toBe(2);
});
