import { types } from 'node:util';

import { ElectraError, loadNative, toElectraError } from '../lib';

const ops = loadNative().debug;

/** Calls fn with loose types (the point is to pass wrong ones). */
type Loose = (...args: unknown[]) => unknown;
const linear = ops.linearForward as unknown as Loose;
const layerNorm = ops.layerNormForward as unknown as Loose;
const gelu = ops.geluForward as unknown as Loose;
const crossEntropy = ops.crossEntropy as unknown as Loose;
const setThreads = ops.setThreads as unknown as Loose;

function expectInvalid(fn: () => unknown, message: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  // Errors made by the addon come from Node's realm, not jest's sandbox: no instanceof.
  expect(types.isNativeError(thrown)).toBe(true);
  const err = thrown as Error & { code?: string };
  expect(err.code).toBe('ERR_INVALID_ARGUMENT');
  expect(err.message).toMatch(message);
  const wrapped = toElectraError(err);
  expect(wrapped).toBeInstanceOf(ElectraError);
  expect(wrapped.code).toBe('ERR_INVALID_ARGUMENT');
}

const f32 = (n: number, v = 0.5) => new Float32Array(n).fill(v);

// JS references (float64).
function linearRef(x: Float32Array, w: Float32Array, b: Float32Array | null, M: number, K: number, N: number) {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[n * K + k];
      out[m * N + n] = s;
    }
  return out;
}
function erf(x: number): number {
  // Numerical Recipes erfc approximation (fractional error < 1.2e-7).
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}
function expectClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  expect(worst).toBeLessThan(tol);
}
const seq = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

describe('linearForward', () => {
  const M = 3, K = 4, N = 2;
  const x = seq(M * K, (i) => Math.sin(i));
  const w = seq(N * K, (i) => Math.cos(i));
  const b = seq(N, (i) => i - 0.5);

  test('matches a JS reference, with and without bias', () => {
    expectClose(ops.linearForward(x, w, b, M, K, N), linearRef(x, w, b, M, K, N), 1e-5);
    expectClose(ops.linearForward(x, w, null, M, K, N), linearRef(x, w, null, M, K, N), 1e-5);
  });
  test('wrong lengths', () => {
    expectInvalid(() => linear(f32(M * K - 1), w, b, M, K, N), /inp has length 11, expected M\*K = 12/);
    expectInvalid(() => linear(x, f32(N * K + 1), b, M, K, N), /weight has length 9, expected N\*K = 8/);
    expectInvalid(() => linear(x, w, f32(3), M, K, N), /bias has length 3, expected N = 2/);
  });
  test('NaN, negative, zero, infinite and non-integer sizes', () => {
    expectInvalid(() => linear(x, w, b, NaN, K, N), /M must be a finite integer, got NaN/);
    expectInvalid(() => linear(x, w, b, M, -4, N), /K must be a positive integer, got -4/);
    expectInvalid(() => linear(x, w, b, M, K, 0), /N must be a positive integer, got 0/);
    expectInvalid(() => linear(x, w, b, Infinity, K, N), /M must be a finite integer/);
    expectInvalid(() => linear(x, w, b, 1.5, K, N), /M must be an integer, got 1.5/);
    expectInvalid(() => linear(x, w, b, 2 ** 31, K, N), /M must be in \[1, 2147483647\]/);
  });
  test('wrong types and argument counts', () => {
    expectInvalid(() => linear(Array.from(x), w, b, M, K, N), /inp must be a Float32Array, got Array/);
    expectInvalid(() => linear(new Float64Array(M * K), w, b, M, K, N), /inp must be a Float32Array, got Float64Array/);
    expectInvalid(() => linear(x, w, 'bias', M, K, N), /bias must be a Float32Array or null, got string/);
    expectInvalid(() => linear(x, w, b, '3', K, N), /M must be a number, got string/);
    expectInvalid(() => linear(x, w, b, M, K), /expected \(inp, weight, bias, M, K, N\), got 5/);
    expectInvalid(() => linear(x, w, b, M, K, 10n), /N must be a number, got bigint/);
  });
});

describe('layerNormForward', () => {
  const N = 2, C = 5;
  const x = seq(N * C, (i) => i * i * 0.1 - 1);
  const g = seq(C, (i) => 1 + 0.1 * i);
  const bt = seq(C, (i) => -0.2 * i);

  test('matches a JS reference', () => {
    const r = ops.layerNormForward(x, g, bt, N, C, 1e-5);
    const ref: number[] = [];
    for (let n = 0; n < N; n++) {
      const row = Array.from(x.subarray(n * C, (n + 1) * C));
      const mean = row.reduce((a, v) => a + v, 0) / C;
      const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / C;
      const rstd = 1 / Math.sqrt(variance + 1e-5);
      expect(r.mean[n]).toBeCloseTo(mean, 5);
      expect(r.rstd[n]).toBeCloseTo(rstd, 4);
      row.forEach((v, c) => ref.push((v - mean) * rstd * g[c] + bt[c]));
    }
    expectClose(r.out, ref, 1e-5);
  });
  test('bad arguments', () => {
    expectInvalid(() => layerNorm(x, g, bt, N, C, NaN), /eps must be a finite number in \(0, 1\], got NaN/);
    expectInvalid(() => layerNorm(x, g, bt, N, C, 0), /eps must be a finite number/);
    expectInvalid(() => layerNorm(x, g, bt, N, C, -1e-5), /eps must be a finite number/);
    expectInvalid(() => layerNorm(x, f32(C + 1), bt, N, C, 1e-5), /gamma has length 6, expected C = 5/);
    expectInvalid(() => layerNorm(x, g, f32(1), N, C, 1e-5), /beta has length 1, expected C = 5/);
    expectInvalid(() => layerNorm(x, g, bt, 3, C, 1e-5), /inp has length 10, expected N\*C = 15/);
    expectInvalid(() => layerNorm(x, g, bt, N, -5, 1e-5), /C must be a positive integer/);
    expectInvalid(() => layerNorm(x, g, bt, N, 2.5, 1e-5), /C must be an integer/);
    expectInvalid(() => layerNorm(x, g, null, N, C, 1e-5), /beta must be a Float32Array, got null/);
    expectInvalid(() => layerNorm(x, g, bt, N, C, undefined), /eps must be a number, got undefined/);
  });
});

describe('geluForward', () => {
  test('matches a JS reference (exact erf form)', () => {
    const x = seq(41, (i) => (i - 20) / 4);
    const ref = Array.from(x, (v) => v * 0.5 * (1 + erf(v / Math.SQRT2)));
    expectClose(ops.geluForward(x), ref, 1e-6);
    expect(ops.geluForward(new Float32Array(0))).toHaveLength(0);
  });
  test('bad arguments', () => {
    expectInvalid(() => gelu([1, 2, 3]), /inp must be a Float32Array, got Array/);
    expectInvalid(() => gelu(new Int32Array(3)), /inp must be a Float32Array, got Int32Array/);
    expectInvalid(() => gelu(), /expected \(inp\), got 0/);
    expectInvalid(() => gelu({ length: 3 }), /inp must be a Float32Array, got object/);
  });
});

describe('crossEntropy', () => {
  const N = 3, V = 4;
  const logits = seq(N * V, (i) => Math.sin(3 * i));
  const rows = Int32Array.from([2, 0]);
  const targets = Int32Array.from([1, 3]);

  test('matches a JS reference', () => {
    const r = ops.crossEntropy(logits, rows, targets, V, 0.5);
    expect(r.losses).toHaveLength(2);
    expect(r.dlogits).toHaveLength(N * V);
    const expectedD = new Float64Array(N * V);
    rows.forEach((row, j) => {
      const x = Array.from(logits.subarray(row * V, (row + 1) * V));
      const mx = Math.max(...x);
      const lse = mx + Math.log(x.reduce((a, v) => a + Math.exp(v - mx), 0));
      expect(r.losses[j]).toBeCloseTo(lse - x[targets[j]], 5);
      expect(r.argmax[j]).toBe(x.indexOf(mx));
      x.forEach((v, c) => (expectedD[row * V + c] = 0.5 * (Math.exp(v - lse) - (c === targets[j] ? 1 : 0))));
    });
    expectClose(r.dlogits, expectedD, 1e-6); // row 1 untouched: zeros
  });
  test('bad arguments', () => {
    expectInvalid(() => crossEntropy(logits, Int32Array.from([3]), Int32Array.from([0]), V), /rows\[0\] = 3 is out of range \[0, logits.length \/ V = 3\)/);
    expectInvalid(() => crossEntropy(logits, Int32Array.from([-1]), Int32Array.from([0]), V), /rows\[0\] = -1 is out of range/);
    expectInvalid(() => crossEntropy(logits, rows, Int32Array.from([1, 4]), V), /targets\[1\] = 4 is out of range \[0, V = 4\)/);
    expectInvalid(() => crossEntropy(logits, rows, Int32Array.from([1]), V), /targets has length 1, expected rows.length = 2/);
    expectInvalid(() => crossEntropy(logits, rows, targets, 5), /logits has length 12, expected a positive multiple of V = 5/);
    expectInvalid(() => crossEntropy(logits, rows, targets, NaN), /V must be a finite integer, got NaN/);
    expectInvalid(() => crossEntropy(logits, rows, targets, -4), /V must be a positive integer/);
    expectInvalid(() => crossEntropy(logits, rows, targets, 4.5), /V must be an integer/);
    expectInvalid(() => crossEntropy(logits, new Int32Array(0), new Int32Array(0), V), /rows must hold at least one row index/);
    expectInvalid(() => crossEntropy(logits, Float32Array.from([0]), targets, V), /rows must be an Int32Array, got Float32Array/);
    expectInvalid(() => crossEntropy(logits, rows, [1, 3], V), /targets must be an Int32Array, got Array/);
    expectInvalid(() => crossEntropy(logits, rows, targets, V, NaN), /gradScale must be a finite number/);
  });
});

describe('setThreads', () => {
  test('bad arguments', () => {
    expectInvalid(() => setThreads(0), /threads must be in \[1, 1024\], got 0/);
    expectInvalid(() => setThreads(2.5), /threads must be an integer, got 2.5/);
    expectInvalid(() => setThreads(NaN), /threads must be a finite integer, got NaN/);
    expectInvalid(() => setThreads('4'), /n must be a number, got string/);
  });
});
