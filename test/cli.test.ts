import * as path from 'node:path';

import { root, runCli } from './run-cli';

const run = runCli;

describe('electra-native CLI', () => {
  test('info --json prints the backend info as JSON', () => {
    const r = run(['info', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(typeof info.version).toBe('string');
    expect(typeof info.cudaCompiled).toBe('boolean');
    expect(typeof info.cuda.deviceCount).toBe('number');
    expect(Array.isArray(info.cuda.devices)).toBe(true);
    expect(info.threads).toBeGreaterThanOrEqual(1);
  });

  test('info reports the SIMD level, and ELECTRA_SIMD lowers it for every CPU op', () => {
    const best = JSON.parse(run(['info', '--json']).stdout);
    expect(['generic', 'avx2', 'avx512']).toContain(best.simdLevelMax);
    expect(best.simdLevel).toBe(best.simdLevelMax);
    const forced = run(['info', '--json'], { ELECTRA_SIMD: 'generic' });
    expect(forced.status).toBe(0);
    const info = JSON.parse(forced.stdout);
    expect(info.simdLevel).toBe('generic');
    expect(info.simdLevelMax).toBe(best.simdLevelMax);
    expect(info.simd).toMatch(/^generic-/); // the GEMM follows the same switch
    expect(run(['info'], { ELECTRA_SIMD: 'generic' }).stdout).toMatch(/^simd level\s+generic/m);
    // A level the CPU lacks is ignored with a warning, never a crash.
    const bogus = run(['info', '--json'], { ELECTRA_SIMD: 'sse9' });
    expect(bogus.status).toBe(0);
    expect(bogus.stderr).toMatch(/ignoring ELECTRA_SIMD=sse9/);
    expect(JSON.parse(bogus.stdout).simdLevel).toBe(best.simdLevelMax);
  });

  test('info prints a table', () => {
    const r = run(['info']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^version\s+\d+\.\d+\.\d+/m);
    expect(r.stdout).toMatch(/^cuda devices\s+\d+/m);
  });

  test('an unknown option exits non-zero with a message', () => {
    const r = run(['info', '--no-such-option']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Unknown argument/i);
  });

  test('an unknown command exits non-zero with a message', () => {
    const r = run(['frobnicate']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Unknown argument|Did you mean/i);
  });

  test('bench --runner electra_bench says clearly when the native program is not built', () => {
    // (--runner auto would run the GEMM through the addon instead: test/bench.test.ts)
    const r = run(['bench', '--only', 'gemm', '--runner', 'electra_bench'], { ELECTRA_BENCH: path.join(root, 'no', 'such', 'electra_bench') });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not built.*npm run build:native/);
  });

  test('demo runs the debug ops', () => {
    const r = run(['demo', '--json', '--rows', '8', '--hidden', '16', '--vocab', '32']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Number.isFinite(out.loss)).toBe(true);
    expect(out.timingsMs.crossEntropy).toBeGreaterThanOrEqual(0);
  });
});
