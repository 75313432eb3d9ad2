#!/usr/bin/env node
'use strict';
/**
 * electra_bench's two modes through the N-API addon, for machines where only
 * the addon is built (the README's `npm ci` builds it with node-gyp; the
 * electra_bench program needs `npm run build:native`). Same arguments, same
 * JSON on stdout (plus "runner": "addon"), so run.js can use either:
 *
 *   node scripts/bench/addon_bench.js gemm [--threads N] [--json]
 *   node scripts/bench/addon_bench.js step [--preset tiny|small|base|large] [--batch 16] [--seq 128]
 *        [--steps N] [--warmup 2] [--threads N] [--seed S]
 *        [--backend cpu|cuda] [--device N] [--precision fp32|bf16] [--json]
 *
 * gemm: bench.sgemm (native/addon/bench_ops.cpp) at the shapes of
 * `electra_bench gemm`, timed in C++ the same way.
 * step: ElectraModel.create(electraConfig({ preset })) from the compiled
 * library (dist/), then the model's one-native-call training step
 * (model.native.trainStep, the call the Trainer makes), each timed from the
 * call to its promise settling. Same input ids, seed, weight init and
 * hyper-parameters as electra_bench step, so the two measure the same step;
 * the difference is the async call's hand-off (microseconds) and that the
 * peak RSS includes the Node runtime (tens of MB).
 *
 * Errors: "addon_bench <mode>: ERR_<CODE>: <message>" on stderr, exit 1
 * (2 for bad arguments), as electra_bench does.
 */
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const ROOT = path.resolve(__dirname, '..', '..');

// As native/bench/bench_main.cpp's mode_gemm (keep in step with it): the
// ELECTRA-Small FFN at batch 16 x seq 128, the generator's vocabulary
// projection at 307 gathered rows, and a square 2048^3 GEMM as the peak.
const GEMM_SHAPES = [
  ['square 2048^3 (peak)', false, false, 2048, 2048, 2048],
  ['ffn_in fwd   NT', false, true, 2048, 1024, 256],
  ['ffn_in dX    NN', false, false, 2048, 256, 1024],
  ['ffn_in dW    TN', true, false, 1024, 256, 2048],
  ['ffn_out fwd  NT', false, true, 2048, 256, 1024],
  ['ffn_out dX   NN', false, false, 2048, 1024, 256],
  ['ffn_out dW   TN', true, false, 256, 1024, 2048],
  ['vocab fwd    NT', false, true, 307, 30522, 128],
  ['vocab dX     NN', false, false, 307, 128, 30522],
  ['vocab dW     TN', true, false, 30522, 128, 307],
];

class UsageError extends Error {}

/** A failure with the library's code (ElectraError) or ERR_INTERNAL. */
function codeOf(e) {
  return e && typeof e.code === 'string' && /^ERR_[A-Z_]+$/.test(e.code) ? e.code : 'ERR_INTERNAL';
}

/** The compiled library (dist/), or an ERR_NATIVE_LOAD error saying how to build it. */
function library() {
  try {
    // eslint-disable-next-line global-require
    return require(path.join(ROOT, 'dist', 'index.js'));
  } catch (e) {
    const err = new Error(`cannot load the compiled library (${path.join('dist', 'index.js')}): ${e.message}; run \`npm run build:ts\``);
    err.code = 'ERR_NATIVE_LOAD';
    throw err;
  }
}

function parse(argv, spec) {
  const o = {};
  for (let i = 0; i < argv.length; ++i) {
    const f = argv[i];
    if (f === '--json') {
      o.json = true;
      continue;
    }
    if (!Object.prototype.hasOwnProperty.call(spec, f)) throw new UsageError(`unknown argument '${f}'`);
    if (i + 1 >= argv.length) throw new UsageError(`${f} needs a value`);
    const kind = spec[f];
    const v = argv[++i];
    if (Array.isArray(kind)) {
      if (!kind.includes(v)) throw new UsageError(`${f} must be ${kind.join(' or ')}, got '${v}'`);
      o[f.slice(2)] = v;
    } else {
      const n = Number(v);
      if (!Number.isInteger(n) || n < kind) throw new UsageError(`${f} needs an integer >= ${kind}`);
      o[f.slice(2)] = n;
    }
  }
  return o;
}

function setThreads(binding, n) {
  if (n > 0) binding.debug.setThreads(n);
}

function modeGemm(argv) {
  const a = parse(argv, { '--threads': 1 });
  const { loadNative } = library();
  const b = loadNative();
  setThreads(b, a.threads || 0);
  const rows = GEMM_SHAPES.map(([name, ta, tb, M, N, K]) => {
    process.stderr.write(`addon_bench gemm: ${name.trim()}\n`);
    return { name, ta, tb, M, N, K, t: b.bench.sgemm(ta, tb, M, N, K, 0.5) };
  });
  const peak = rows[0].t.gflops;
  const out = rows.map((r) => ({
    name: r.name, transA: r.ta, transB: r.tb, M: r.M, N: r.N, K: r.K, threads: r.t.threads, kernel: r.t.kernel,
    median_ms: r.t.medianMs, gflops: r.t.gflops, pct_of_peak: (100 * r.t.gflops) / peak, runner: 'addon',
  }));
  if (a.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(`sgemm (addon), ${out[0].threads} thread(s), kernel ${out[0].kernel}; median of >= 0.5 s per shape\n`);
    for (const r of out) {
      process.stdout.write(`${r.name.padEnd(22)} ${String(r.M).padStart(6)} ${String(r.N).padStart(6)} ${String(r.K).padStart(6)} ` +
        `${r.median_ms.toFixed(3).padStart(10)} ${r.gflops.toFixed(1).padStart(9)} ${`${r.pct_of_peak.toFixed(1)}%`.padStart(8)}\n`);
    }
  }
}

/** electra_bench step's input: rows [CLS] w.. [SEP], w from its 64-bit LCG in 1000..29999. */
function benchIds(batch, seq, seed, cls, sep) {
  const ids = new Int32Array(batch * seq);
  const M64 = (1n << 64n) - 1n;
  let x = 0x9e3779b97f4a7c15n ^ BigInt(seed);
  for (let b = 0; b < batch; ++b) {
    for (let s = 0; s < seq; ++s) {
      let id;
      if (s === 0) id = cls;
      else if (s === seq - 1) id = sep;
      else {
        x = (x * 6364136223846793005n + 1442695040888963407n) & M64;
        id = 1000 + Number((x >> 33n) % 29000n);
      }
      ids[b * seq + s] = id;
    }
  }
  return ids;
}

async function modeStep(argv) {
  const a = {
    preset: 'small', batch: 16, seq: 128, steps: 0, warmup: 2, threads: 0, seed: 1, backend: 'cpu', device: 0,
    ...parse(argv, {
      '--preset': ['tiny', 'small', 'base', 'large'], '--batch': 1, '--seq': 3, '--steps': 1, '--warmup': 0,
      '--threads': 1, '--seed': 0, '--backend': ['cpu', 'cuda'], '--device': 0, '--precision': ['fp32', 'bf16'],
    }),
  };
  const cuda = a.backend === 'cuda';
  const precision = a.precision || (cuda ? 'bf16' : 'fp32');
  if (!cuda && precision !== 'fp32') throw new UsageError(`--precision ${precision} needs --backend cuda (the CPU computes in fp32)`);
  const lib = library();
  const binding = lib.loadNative();
  setThreads(binding, a.threads);
  // As electra_bench and the CLI: the preset's max positions, or the sequence length.
  const config = lib.electraConfig({ preset: a.preset, maxPosition: Math.max(lib.PRESETS[a.preset].maxPosition, a.seq) });
  const model = lib.ElectraModel.create(config, { device: cuda ? `cuda:${a.device}` : 'cpu', precision, seed: a.seed });
  const native = model.native;
  // electra_bench step's TrainConfig: the core's defaults, no warm-up so the weights really move.
  const train = {
    batch: a.batch, seqLen: a.seq, maskProb: 0.15, discWeight: 50, temperature: 1, lr: 5e-4, warmupSteps: 0,
    totalSteps: 1000000, beta1: 0.9, beta2: 0.999, eps: 1e-6, weightDecay: 0.01, clipNorm: 1, biasCorrection: false,
    gradAccum: 1, seed: a.seed,
  };
  const batch = { inputIds: benchIds(a.batch, a.seq, a.seed, config.clsId, config.sepId), rows: a.batch, seqLen: a.seq };
  let step = 0;
  let m = null;
  const runStep = async () => {
    const t0 = performance.now();
    m = await native.trainStep(batch, train, step);
    const ms = performance.now() - t0;
    ++step;
    return ms / 1e3;
  };
  let last = 0;
  for (let i = 0; i < a.warmup; ++i) last = await runStep();
  let steps = a.steps;
  if (steps <= 0) {
    // As electra_bench: about 10 s of timed steps, 3..20.
    if (last <= 0) last = await runStep();
    steps = Math.min(20, Math.max(3, Math.ceil(10 / Math.max(last, 1e-3))));
  }
  const ts = [];
  const T0 = performance.now();
  for (let i = 0; i < steps; ++i) {
    ts.push(await runStep());
    process.stderr.write(`addon_bench step ${i + 1}/${steps}: ${(ts[ts.length - 1] * 1e3).toFixed(0)} ms\n`);
  }
  const total = (performance.now() - T0) / 1e3;
  const sorted = [...ts].sort((x, y) => x - y);
  const n = sorted.length;
  const med = n % 2 ? sorted[(n - 1) / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
  const N = a.batch * a.seq;
  const mem = cuda ? model.memory() : null;
  const r2 = (v) => Math.round(v * 100) / 100;
  const out = {
    mode: 'step', impl: 'electra-native', runner: 'addon', backend: a.backend, device: cuda ? a.device : null,
    device_name: native.device().description, precision, preset: a.preset, batch: a.batch, seq: a.seq,
    threads: binding.debug.getThreads(), kernel: cuda ? `cuda-${precision}` : binding.info().simd || 'unknown',
    params: model.numParameters, warmup: a.warmup, steps,
    median_ms: r2(med * 1e3), min_ms: r2(sorted[0] * 1e3), max_ms: r2(sorted[n - 1] * 1e3),
    mean_ms: r2((ts.reduce((s, t) => s + t, 0) / n) * 1e3), ms_per_step: r2(med * 1e3),
    tokens_per_s: Math.round((N / med) * 10) / 10, tokens_per_s_mean: Math.round(((N * n) / total) * 10) / 10,
    peak_rss_mb: Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10,
    peak_device_bytes: mem ? mem.peakBytes : null, device_bytes_in_use: mem ? mem.bytesInUse : null,
    loss: m.loss, gen_loss: m.genLoss, disc_loss: m.discLoss, masked: m.maskedTokens,
    step_ms: ts.map((t) => r2(t * 1e3)),
  };
  if (a.json) {
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } else {
    process.stdout.write(`ELECTRA training step (electra-native through the addon, ${out.device_name}): preset ${a.preset} ` +
      `(${out.params} params), batch ${a.batch} x seq ${a.seq}, ${out.threads} thread(s), kernel ${out.kernel}\n` +
      `${out.tokens_per_s} tokens/s, ${out.ms_per_step} ms/step (min ${out.min_ms}), peak RSS ${out.peak_rss_mb} MB\n`);
  }
}

async function main(argv) {
  const mode = argv[0];
  const modes = { gemm: modeGemm, step: modeStep };
  if (!modes[mode]) {
    process.stderr.write(`addon_bench: unknown mode '${mode || ''}' (gemm, step)\n`);
    return 2;
  }
  try {
    await modes[mode](argv.slice(1));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`addon_bench ${mode}: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`addon_bench ${mode}: ${codeOf(e)}: ${e && e.message ? e.message : String(e)}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((rc) => {
    process.exitCode = rc;
  });
}

module.exports = { benchIds, GEMM_SHAPES };
