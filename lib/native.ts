/**
 * The one place that loads the native addon (node-gyp-build, from the package
 * root: build/Release/electra_native.node, else prebuilds/<platform>-<arch>/;
 * scripts/install.js decides at install time which of the two a user gets),
 * and the hand-written types of everything it exports. Keep NativeBinding in
 * step with native/addon/*.cpp.
 */
import * as path from 'node:path';

import { ElectraError } from './errors';
import type { NativeFinetuneModelConstructor } from './native-finetune';
import type { NativeConfigSchema, NativeModelConfig, NativeModelConstructor, NativeTrainConfig } from './native-model';

/** One CUDA device, as reported by info(). */
export interface NativeCudaDevice {
  name: string;
  /** Total device memory in bytes. */
  memory: number;
  /** Compute capability, e.g. "9.0". */
  cc: string;
  multiprocessors: number;
}

export interface NativeCudaInfo {
  /** Usable GPUs; 0 when there is none (never an error). */
  deviceCount: number;
  /** CUDA driver version (e.g. 12040); 0 without a driver. */
  driverVersion: number;
  /** CUDA runtime compiled in (e.g. 13000); 0 without CUDA. */
  runtimeVersion: number;
  devices: NativeCudaDevice[];
  /** Why deviceCount is 0; absent when a GPU was found. */
  reason?: string;
}

/** The CPU backend's code paths: plain C++, AVX2 + FMA, AVX-512F. */
export type SimdLevel = 'generic' | 'avx2' | 'avx512';

export interface NativeInfo {
  version: string;
  /** The binary contains the CUDA backend. */
  cudaCompiled: boolean;
  cuda: NativeCudaInfo;
  /** Threads the CPU backend uses. */
  threads: number;
  /** The GEMM micro-kernel picked for this CPU (e.g. "avx2-6x16"); absent if unknown. */
  simd?: string;
  /** The CPU ops' SIMD level in use: the best the CPU supports unless ELECTRA_SIMD lowers it. */
  simdLevel: SimdLevel;
  /** The best SIMD level this CPU and binary can run. */
  simdLevelMax: SimdLevel;
  /** How the binary was built. */
  build: NativeBuildInfo;
}

export interface NativeBuildInfo {
  /** "cmake-js" (CUDA-capable) or "node-gyp" (CPU only). */
  system: string;
  /** CMake build type, e.g. "Release". */
  type: string;
  compiler: string;
  /** CUDA targets compiled in, e.g. "80-real,86-real,89-real,90"; absent without CUDA. */
  cudaArchitectures?: string;
}

export interface NativeLayerNormResult {
  out: Float32Array;
  mean: Float32Array;
  rstd: Float32Array;
}

export interface NativeCrossEntropyResult {
  /** Per selected row: logsumexp(x) - x[target]. */
  losses: Float32Array;
  /** Per selected row: index of the largest logit (ties: lowest). */
  argmax: Int32Array;
  /** [N*V]: gradScale * (softmax - onehot) at the selected rows, 0 elsewhere. */
  dlogits: Float32Array;
}

/** Single CPU ops for tests and the demo. Every argument is checked; bad ones throw ERR_INVALID_ARGUMENT. */
export interface NativeDebugOps {
  /** out[M,N] = inp[M,K] @ weight[N,K]^T + bias[N]. */
  linearForward(
    inp: Float32Array,
    weight: Float32Array,
    bias: Float32Array | null,
    M: number,
    K: number,
    N: number,
  ): Float32Array;
  /** LayerNorm over rows of inp[N,C] (biased variance). */
  layerNormForward(
    inp: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    N: number,
    C: number,
    eps: number,
  ): NativeLayerNormResult;
  /** Exact (erf) GELU, elementwise. */
  geluForward(inp: Float32Array): Float32Array;
  /** Softmax cross-entropy of logits[N,V] at `rows`, fused with its gradient. */
  crossEntropy(
    logits: Float32Array,
    rows: Int32Array,
    targets: Int32Array,
    V: number,
    gradScale?: number,
  ): NativeCrossEntropyResult;
  /** Sets the CPU thread count (1..1024); returns the count now in use. */
  setThreads(n: number): number;
  getThreads(): number;
}

/** What bench.sgemm measured: the median of repeated calls after 2 untimed ones. */
export interface NativeSgemmTiming {
  medianMs: number;
  minMs: number;
  runs: number;
  /** 2*M*N*K / median. */
  gflops: number;
  kernel: string;
  threads: number;
}

/** Timing helpers for `electra-native bench` when electra_bench is not built (native/addon/bench_ops.cpp). */
export interface NativeBenchOps {
  /** Times C = op(A) op(B) on internal buffers, repeating for at least minSeconds (default 0.5) and 5 runs. */
  sgemm(transA: boolean, transB: boolean, M: number, N: number, K: number, minSeconds?: number): NativeSgemmTiming;
}

export interface NativeBinding {
  version: string;
  info(): NativeInfo;
  debug: NativeDebugOps;
  bench: NativeBenchOps;
  /** CRC-32C of the bytes of a typed array, continuing `prev` (default 0): checkpoint file digests. */
  crc32c(data: ArrayBufferView, prev?: number): number;
  /** The native ELECTRA model (native/addon/model_wrap.cpp); typed in native-model.ts. */
  Model: NativeModelConstructor;
  /** The native fine-tuning model (native/addon/finetune_wrap.cpp); typed in native-finetune.ts. */
  FinetuneModel: NativeFinetuneModelConstructor;
  /** Every config field's default and every step metric's name, from native/core/config_table.h. */
  configSchema(): NativeConfigSchema;
  /** The core's validation of a model config (and a training config); throws ERR_INVALID_ARGUMENT. Missing fields take their defaults. */
  checkConfig(model: Partial<NativeModelConfig>, train?: Partial<NativeTrainConfig>): void;
  /** The native schedule: the learning rate of the step at 0-based `step`. */
  learningRate(train: Partial<NativeTrainConfig>, step: number): number;
}

/** The package root: lib/ and dist/ both sit one level below it. */
export const PACKAGE_ROOT = path.resolve(__dirname, '..');

let cached: NativeBinding | undefined;
let cachedPath: string | undefined;

/** node-gyp-build's exports: `load(dir)`, and `path(dir)`, the file it would load. */
interface NodeGypBuild {
  (dir: string): unknown;
  path(dir: string): string;
}

/** Loads (once) and returns the addon; throws ElectraError ERR_NATIVE_LOAD on failure. */
export function loadNative(): NativeBinding {
  if (cached) return cached;
  let file: string | undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const ngb = require('node-gyp-build') as NodeGypBuild;
    file = ngb.path(PACKAGE_ROOT); // build/Release first, then prebuilds/<platform>-<arch>/
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    cached = require(file) as NativeBinding;
    cachedPath = file;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const what = file === undefined ? 'the electra-native addon' : `the electra-native addon ${file}`;
    throw new ElectraError(
      'ERR_NATIVE_LOAD',
      `could not load ${what} (package root ${PACKAGE_ROOT}): ${why}\n` +
        'Build it from source with `npm rebuild electra-native --build-from-source` (needs a C++17 compiler; ' +
        'CUDA when nvcc is found), or in a clone with `npm run build:native`.',
      { cause: err },
    );
  }
  return cached;
}

/** Which addon file loadNative() loaded, and whether it is a prebuilt one from prebuilds/. */
export interface NativeBinary {
  /** Relative to the package root, e.g. "prebuilds/linux-x64/electra-native.node". */
  path: string;
  prebuilt: boolean;
}

/** The loaded addon's file (loads it first). */
export function nativeBinary(): NativeBinary {
  loadNative();
  const rel = path.relative(PACKAGE_ROOT, cachedPath!).split(path.sep).join('/');
  return { path: rel, prebuilt: rel.startsWith('prebuilds/') };
}
