#!/usr/bin/env node
'use strict';
/**
 * The benchmark orchestrator (plain Node, no build step):
 *
 *   node scripts/bench/run.js [--preset small] [--batch 16] [--seq 128]
 *        [--threads N] [--steps N] [--warmup N] [--no-peer] [--only gemm|step] [--json]
 *        [--device cpu|cuda|cuda:N|auto] [--precision fp32|bf16] [--compile]
 *        [--runner auto|electra_bench|addon]
 *
 * 1. `electra_bench gemm --json`   sgemm GFLOP/s at the model's shapes (CPU
 *    sgemm only: skipped when the step runs on CUDA);
 * 2. `electra_bench step --json`   the native ELECTRA training step (on CUDA:
 *    `--backend cuda --device N --precision P`);
 * 3. scripts/bench/peer_hf.py      the same step in PyTorch + HF transformers
 *    (when python3 can import torch and transformers; else "peer skipped: <why>"),
 *    twice: `--head full` (stock HF: the generator's head at every position)
 *    and `--head masked` (the head at the masked positions only, as the
 *    ELECTRA reference); the ratio is against the faster of the two. On CUDA
 *    `--device cuda`, plus `--bf16` (autocast) when P is bf16, so both sides
 *    compute at the same precision; `--compile` adds torch.compile. On the
 *    CPU also `peer_hf.py --gemm`: torch.matmul's square 2048^3 fp32 peak;
 * then one table (or, with --json, one JSON object). Each step row has its
 * model FLOP rate (scripts/bench/flops.js: one count for every
 * implementation) and that rate as a fraction of the implementation's own
 * square-sgemm peak (ours: the gemm part's square row; PyTorch: --gemm).
 *
 * --runner: where the native parts (1 and 2) run. electra_bench is a separate
 * program (`npm run build:native`); `npm ci` builds only the addon, so `auto`
 * (the default) uses electra_bench when it is built and otherwise
 * scripts/bench/addon_bench.js, which takes the same arguments, runs the same
 * measurements through the addon and prints the same JSON. The table says
 * which one ran.
 *
 * --device: cpu (default); cuda (= cuda:0) or cuda:N; auto = cuda:0 when the
 * built addon (dist/info.js getInfo) reports a CUDA device, else cpu (the CLI's
 * bench command resolves 'auto' itself and passes the result). --precision:
 * fp32 | bf16, default bf16 on CUDA and fp32 (the only one) on the CPU. The
 * peer uses the current GPU, so for cuda:N (N > 0) it runs with
 * CUDA_VISIBLE_DEVICES narrowed to that device.
 *
 * When the native side fails (no GPU, a build without CUDA, out of memory...)
 * the result's `failure` is { what, code, message, status } (code: the
 * ERR_* of electra_bench's stderr) and the peer is not run.
 *
 * electra_bench: $ELECTRA_BENCH, else the newest of build/Release/electra_bench
 * (cmake-js output), build/electra_bench, build* /electra_bench, build* /Release/electra_bench.
 * $ELECTRA_BENCH naming no file counts as not built.
 * $ELECTRA_PYTHON overrides the python3 used for the peer.
 *
 * module.exports = { runBench, formatReport, findBenchBinary, nativeRunner, parseArgs, parseDevice,
 *   buildArgs, resolveDevice, nativeFailure, PEER_HEADS } for the TS CLI (and its tests).
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const { modelFlops } = require('./flops');

const ROOT = path.resolve(__dirname, '..', '..');
const ADDON_BENCH = path.join(__dirname, 'addon_bench.js');
const EXE = process.platform === 'win32' ? 'electra_bench.exe' : 'electra_bench';

/**
 * Path of the built electra_bench, or null: $ELECTRA_BENCH, else the most
 * recently built of build/Release/electra_bench (where `npm run build:native`
 * puts it, as the CLI's bench command expects), build/electra_bench and
 * build* /electra_bench, build* /Release/electra_bench (a stale binary in one
 * build folder must not shadow a fresh one in another).
 */
function findBenchBinary(root = ROOT) {
  if (process.env.ELECTRA_BENCH) return isFile(process.env.ELECTRA_BENCH) ? process.env.ELECTRA_BENCH : null;
  const cands = [path.join(root, 'build', 'Release', EXE), path.join(root, 'build', EXE)];
  try {
    for (const d of fs.readdirSync(root, { withFileTypes: true })) {
      if (!d.isDirectory() || !d.name.startsWith('build')) continue;
      cands.push(path.join(root, d.name, EXE), path.join(root, d.name, 'Release', EXE));
    }
  } catch {
    // unreadable root: only the fixed candidates
  }
  let best = null;
  let bestTime = -1;
  for (const p of cands) {
    if (!isFile(p)) continue;
    const t = fs.statSync(p).mtimeMs;
    if (t > bestTime) {
      best = p;
      bestTime = t;
    }
  }
  return best;
}

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

const DEFAULTS = {
  preset: 'small',
  batch: 16,
  seq: 128,
  threads: 0, // 0: all cores
  steps: 0, // 0: each program's automatic count
  warmup: 2,
  peer: true,
  only: null, // 'gemm' | 'step' | null (both)
  json: false,
  device: 'cpu', // 'cpu' | 'cuda' | 'cuda:N' | 'auto'
  precision: null, // 'fp32' | 'bf16' | null (bf16 on CUDA, fp32 on the CPU)
  compile: false, // peer: torch.compile
  runner: 'auto', // 'auto' | 'electra_bench' | 'addon': what runs the native parts
};

const RUNNERS = ['auto', 'electra_bench', 'addon'];

/** The PyTorch variants, in the order they run: --head value -> the table's name for it. */
const PEER_HEADS = { full: 'HF head, all rows', masked: 'head at masked rows' };

/** An Error with code ERR_INVALID_ARGUMENT (the TS CLI turns it into an ElectraError). */
function invalid(msg) {
  const e = new Error(msg);
  e.code = 'ERR_INVALID_ARGUMENT';
  return e;
}

/**
 * 'cpu' -> { backend: 'cpu' }; 'cuda' -> { backend: 'cuda', index: 0 };
 * 'cuda:N' -> { backend: 'cuda', index: N }; 'auto' -> { backend: 'auto' };
 * anything else throws ERR_INVALID_ARGUMENT.
 */
function parseDevice(d) {
  if (d === 'cpu' || d === 'auto') return { backend: d };
  if (d === 'cuda') return { backend: 'cuda', index: 0 };
  const m = typeof d === 'string' ? /^cuda:(\d{1,6})$/.exec(d) : null;
  if (m) return { backend: 'cuda', index: Number(m[1]) };
  throw invalid(`--device must be cpu, cuda, cuda:N (N a device index >= 0) or auto, got '${d}'`);
}

/**
 * Whether the built addon reports a CUDA device (dist/info.js getInfo, as
 * `electra-native info --json`); false when it cannot be loaded.
 */
function detectCuda() {
  try {
    // eslint-disable-next-line global-require
    const { getInfo } = require(path.join(ROOT, 'dist', 'info.js'));
    return getInfo().backend === 'cuda';
  } catch {
    return false;
  }
}

/** 'cpu' or 'cuda:N' for a --device value; 'auto' asks `detect` (default: detectCuda). */
function resolveDevice(device, detect = detectCuda) {
  const d = parseDevice(device);
  if (d.backend === 'auto') return detect() ? 'cuda:0' : 'cpu';
  return d.backend === 'cpu' ? 'cpu' : `cuda:${d.index}`;
}

/**
 * The command lines of one run, from options (`device` already resolved, or
 * 'auto', resolved with `detect`): { device: 'cpu' | 'cuda:N', backend,
 * index, precision, threads, gemm, native, peers, peerGemm, peerEnv, skipped }.
 * gemm and native are the argv after electra_bench (or addon_bench.js), peers
 * { full, masked } and peerGemm the argv after python; each null when that
 * part does not run. peerEnv: variables to add to the peer's environment, or
 * null. Throws ERR_INVALID_ARGUMENT on bad values.
 */
function buildArgs(opts = {}, detect = detectCuda) {
  const o = { ...DEFAULTS, ...opts };
  if (o.only !== null && o.only !== undefined && o.only !== 'gemm' && o.only !== 'step') {
    throw invalid(`--only must be gemm or step, got '${o.only}'`);
  }
  if (o.precision !== null && o.precision !== undefined && o.precision !== 'fp32' && o.precision !== 'bf16') {
    throw invalid(`--precision must be fp32 or bf16, got '${o.precision}'`);
  }
  // --only gemm: the GEMM part is CPU sgemm whatever the step's device; 'auto' needs no GPU then.
  const req = parseDevice(o.device);
  const device = req.backend === 'auto' && o.only === 'gemm' ? 'cpu' : resolveDevice(o.device, detect);
  const cuda = device !== 'cpu';
  const index = cuda ? Number(device.slice(5)) : null;
  const precision = o.precision || (cuda ? 'bf16' : 'fp32');
  if (!cuda && precision !== 'fp32') {
    throw invalid(`--precision ${precision} needs a CUDA device (--device cuda); the CPU computes in fp32 only` +
      (req.backend === 'auto' ? ", and --device auto found no GPU" : ''));
  }
  if (cuda && o.only === 'gemm') {
    throw invalid(`--only gemm measures the CPU sgemm only; run it with --device cpu (not ${o.device})`);
  }
  const threads = o.threads > 0 ? o.threads : (os.availableParallelism ? os.availableParallelism() : os.cpus().length);
  const t = ['--threads', String(threads)];
  const plan = {
    device, backend: cuda ? 'cuda' : 'cpu', index, precision, threads,
    gemm: null, native: null, peers: null, peerGemm: null, peerEnv: null, skipped: [],
  };
  if (o.only !== 'step') {
    if (cuda) plan.skipped.push(`gemm skipped: electra_bench gemm measures the CPU sgemm only (run --device cpu --only gemm for it)`);
    else plan.gemm = ['gemm', ...t, '--json'];
  }
  if (o.only !== 'gemm') {
    const common = ['--preset', o.preset, '--batch', String(o.batch), '--seq', String(o.seq), ...t, '--warmup', String(o.warmup)];
    if (o.steps > 0) common.push('--steps', String(o.steps));
    plan.native = ['step', ...common];
    if (cuda) plan.native.push('--backend', 'cuda', '--device', String(index), '--precision', precision);
    plan.native.push('--json');
    if (o.peer) {
      const peer = [path.join(__dirname, 'peer_hf.py'), ...common];
      if (cuda) peer.push('--device', 'cuda');
      if (cuda && precision === 'bf16') peer.push('--bf16');
      if (o.compile) peer.push('--compile');
      plan.peers = {};
      for (const head of Object.keys(PEER_HEADS)) plan.peers[head] = [...peer, '--head', head];
      // The FLOP-rate fractions are of a CPU sgemm peak; on CUDA there is no native one to set beside it.
      if (!cuda) plan.peerGemm = [path.join(__dirname, 'peer_hf.py'), '--gemm', ...t];
      if (cuda && index > 0) {
        // peer_hf.py runs on the current GPU (0): show it only GPU `index`,
        // counted as electra_bench counts it (within CUDA_VISIBLE_DEVICES, when set).
        const vis = (process.env.CUDA_VISIBLE_DEVICES || '').split(',').map((x) => x.trim()).filter((x) => x !== '');
        plan.peerEnv = { CUDA_VISIBLE_DEVICES: vis.length ? (vis[index] !== undefined ? vis[index] : '-1') : String(index) };
      }
    }
  }
  return plan;
}

/** Parses argv (without node and the script) into options; throws on a bad flag. */
function parseArgs(argv) {
  const o = { ...DEFAULTS };
  const num = (flag, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw invalid(`${flag} needs an integer >= ${min}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; ++i) {
    let a = argv[i];
    let val = null;
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      val = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = () => {
      if (val !== null) return val;
      if (i + 1 >= argv.length) throw invalid(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--preset': o.preset = next(); break;
      case '--batch': o.batch = num(a, next(), 1); break;
      case '--seq': o.seq = num(a, next(), 3); break;
      case '--threads': o.threads = num(a, next(), 1); break;
      case '--steps': o.steps = num(a, next(), 1); break;
      case '--warmup': o.warmup = num(a, next(), 0); break;
      case '--no-peer': o.peer = false; break;
      case '--json': o.json = true; break;
      case '--compile': o.compile = true; break;
      case '--device': o.device = next(); parseDevice(o.device); break;
      case '--precision': {
        const w = next();
        if (w !== 'fp32' && w !== 'bf16') throw invalid(`--precision must be fp32 or bf16, got '${w}'`);
        o.precision = w;
        break;
      }
      case '--runner': {
        const w = next();
        if (!RUNNERS.includes(w)) throw invalid(`--runner must be ${RUNNERS.join(', ')}, got '${w}'`);
        o.runner = w;
        break;
      }
      case '--only': {
        const w = next();
        if (w !== 'gemm' && w !== 'step') throw invalid(`--only must be gemm or step, got '${w}'`);
        o.only = w;
        break;
      }
      case '-h':
      case '--help': o.help = true; break;
      default: throw invalid(`unknown argument '${argv[i]}'`);
    }
  }
  if (!['tiny', 'small', 'base', 'large'].includes(o.preset)) {
    throw invalid(`unknown preset '${o.preset}' (tiny, small, base, large)`);
  }
  return o;
}

function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

/**
 * Runs a program whose stdout is JSON; progress on its stderr passes through
 * (live; with `capture`, after it ends, and kept as `stderr` for the error
 * code). `env`: variables added to the environment.
 */
function runJson(cmd, args, what, { capture = false, env = null } = {}) {
  const envNote = env ? `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')} ` : '';
  log(`${what}: ${envNote}${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, {
    stdio: ['ignore', 'pipe', capture ? 'pipe' : 'inherit'],
    maxBuffer: 64 << 20,
    encoding: 'utf8',
    env: env ? { ...process.env, ...env } : process.env,
  });
  const stderr = capture ? r.stderr || '' : '';
  if (stderr) process.stderr.write(stderr);
  if (r.error) return { error: `could not run ${cmd}: ${r.error.message}`, spawnError: true, stderr };
  if (r.status !== 0) {
    return { error: `${what} exited with code ${r.status}${r.signal ? ` (${r.signal})` : ''}`, status: r.status, signal: r.signal, stderr };
  }
  try {
    return { value: JSON.parse(r.stdout), stderr };
  } catch (e) {
    return { error: `${what} printed no valid JSON (${e.message})`, stderr };
  }
}

/**
 * What failed on the native side, from a failed runJson: { what, code,
 * message, detail, status }. code: the ERR_* electra_bench printed ("<code>: <message>"
 * on stderr), else ERR_INVALID_ARGUMENT for its exit status 2 (bad arguments),
 * ERR_NATIVE_LOAD when it could not be started, else ERR_INTERNAL. message:
 * its last stderr line (without the "electra_bench <mode>: " prefix), else
 * runJson's error; detail: the part of it after "<code>: ".
 */
function nativeFailure(what, r) {
  const lines = (r.stderr || '').split('\n').map((l) => l.trim()).filter(Boolean);
  const withCode = lines.filter((l) => /\bERR_[A-Z_]+\b/.test(l));
  const line = withCode.length ? withCode[withCode.length - 1] : lines[lines.length - 1];
  const m = line ? /\b(ERR_[A-Z_]+)\b/.exec(line) : null;
  let code = m ? m[1] : null;
  if (!code) code = r.spawnError ? 'ERR_NATIVE_LOAD' : r.status === 2 ? 'ERR_INVALID_ARGUMENT' : 'ERR_INTERNAL';
  const message = line ? line.replace(/^(electra_bench|addon_bench)( \w+)?: /, '') : r.error;
  // detail: the message after "<code>: " (what electra_bench says went wrong), else the whole message.
  const at = m ? message.indexOf(`${code}: `) : -1;
  const detail = at >= 0 ? message.slice(at + code.length + 2) : message;
  return { what, code, message, detail, status: r.status === undefined ? null : r.status };
}

/** Why the peer cannot run (a string), or null when python3 has torch and transformers. */
function peerUnavailable(python) {
  const r = spawnSync(python, ['-c', 'import torch, transformers'], { encoding: 'utf8' });
  if (r.error) return `${python} not found (${r.error.code || r.error.message})`;
  if (r.status !== 0) {
    const lines = (r.stderr || '').trim().split('\n');
    return `${python} cannot import torch/transformers (${lines[lines.length - 1] || `exit ${r.status}`})`;
  }
  return null;
}

/**
 * How the native parts run: { runner: 'electra_bench' | 'addon', cmd, prefix,
 * note }. `cmd prefix... <mode args>` is the command line; note says why the
 * addon was used, or null. Throws ERR_NATIVE_LOAD for --runner electra_bench
 * when it is not built.
 */
function nativeRunner(runner = 'auto') {
  if (!RUNNERS.includes(runner)) throw invalid(`--runner must be ${RUNNERS.join(', ')}, got '${runner}'`);
  const bin = runner === 'addon' ? null : findBenchBinary();
  if (bin) return { runner: 'electra_bench', cmd: bin, prefix: [], note: null };
  if (runner === 'electra_bench') {
    const err = new Error(`electra_bench is not built (${process.env.ELECTRA_BENCH ? `$ELECTRA_BENCH=${process.env.ELECTRA_BENCH} is not a file` :
      'looked in build/Release, build, build*/'}); run \`npm run build:native\` ` +
      'or `cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target electra_bench`, or use --runner addon');
    err.code = 'ERR_NATIVE_LOAD';
    throw err;
  }
  const why = runner === 'addon' ? '--runner addon'
    : process.env.ELECTRA_BENCH ? `electra_bench not found ($ELECTRA_BENCH=${process.env.ELECTRA_BENCH} is not a file)`
      : 'electra_bench is not built (`npm run build:native` builds it)';
  return { runner: 'addon', cmd: process.execPath, prefix: [ADDON_BENCH], note: `native parts ran through the addon: ${why}; its peak RSS includes the Node runtime` };
}

/** The preset's ElectraConfig from the compiled library (dist/config.js), or null when it is not built. */
function presetConfig(preset) {
  try {
    // eslint-disable-next-line global-require
    return require(path.join(ROOT, 'dist', 'config.js')).electraConfig({ preset });
  } catch {
    return null;
  }
}

/** Model GFLOP/s of a step result, and that as % of an sgemm peak (null when either is unknown). */
function flopRate(step, perToken, peakGflops) {
  const ok = (v) => typeof v === 'number' && Number.isFinite(v) && v > 0;
  const gflops = ok(perToken) && ok(step.tokens_per_s) ? (perToken * step.tokens_per_s) / 1e9 : null;
  return { model_gflops: gflops, pct_of_sgemm_peak: gflops !== null && ok(peakGflops) ? (100 * gflops) / peakGflops : null };
}

/**
 * Runs the benchmarks; returns { machine, options, runner, binary, gemm, sgemm_peak,
 * flops, step: { native, peers: { full, masked }, peer, peer_head, ratio, ratios },
 * skipped, notes, errors, failure }. step.peer is the faster PyTorch variant
 * (peer_head names it) and ratio is against it; ratios has one per variant.
 * Every step result gains model_gflops and pct_of_sgemm_peak (flops.js). failure:
 * null, or what failed on the native side (see nativeFailure; the report's
 * error lines say it too, and the peer is then not run). Throws only when an
 * option is bad (ERR_INVALID_ARGUMENT) or --runner electra_bench finds none
 * (ERR_NATIVE_LOAD).
 * opts.detect: for --device auto, () => whether a CUDA device is there (default: detectCuda).
 */
function runBench(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const plan = buildArgs(o, o.detect || detectCuda);
  const threads = plan.threads;
  const cuda = plan.backend === 'cuda';
  const nr = nativeRunner(o.runner || 'auto');
  const options = { preset: o.preset, batch: o.batch, seq: o.seq, threads, steps: o.steps || 'auto', warmup: o.warmup };
  options.device = plan.device;
  options.precision = plan.precision;
  options.compile = Boolean(o.compile);
  options.only = o.only || null;
  const res = {
    date: new Date().toISOString(),
    machine: { cpu: (os.cpus()[0] || {}).model || 'unknown', cores: os.cpus().length, platform: `${os.platform()} ${os.arch()}` },
    options,
    runner: nr.runner,
    binary: nr.runner === 'electra_bench' ? nr.cmd : ADDON_BENCH,
    gemm: null,
    sgemm_peak: { native: null, pytorch: null },
    flops: null,
    step: { native: null, peers: { full: null, masked: null }, peer: null, peer_head: null, ratio: null, ratios: {} },
    skipped: [...plan.skipped],
    notes: nr.note ? [nr.note] : [],
    errors: [],
    failure: null,
  };
  const native = (args, what) => {
    const r = runJson(nr.cmd, [...nr.prefix, ...args], what, { capture: true });
    if (r.value && typeof r.value === 'object') {
      for (const v of Array.isArray(r.value) ? r.value : [r.value]) if (v && !v.runner) v.runner = nr.runner;
    }
    return r;
  };
  const fail = (what, r) => {
    const f = nativeFailure(what, r);
    res.errors.push(`${what} failed: ${f.message}`);
    if (!res.failure) res.failure = f;
    return f;
  };
  if (plan.gemm) {
    const r = native(plan.gemm, 'gemm');
    if (r.error) fail('gemm', r);
    else {
      res.gemm = r.value;
      const sq = Array.isArray(r.value) ? r.value[0] : null;
      if (sq && typeof sq.gflops === 'number') {
        res.sgemm_peak.native = { gflops: sq.gflops, kernel: sq.kernel, M: sq.M, N: sq.N, K: sq.K, source: `${nr.runner === 'addon' ? 'addon bench.sgemm' : 'electra_bench gemm'}` };
      }
    }
  }
  if (plan.native) {
    const cfg = presetConfig(o.preset);
    if (cfg) {
      const f = modelFlops(cfg, { seq: o.seq, batch: o.batch, maskProb: 0.15 });
      res.flops = { per_token: f.perToken, per_step: f.perStep, forward_per_token: f.forwardPerToken, parts: f.parts, formula: 'scripts/bench/flops.js' };
    } else {
      res.notes.push('model FLOP rates: n/a (the compiled library dist/ is missing: npm run build:ts)');
    }
    const where = cuda ? ` on ${plan.device} (${plan.precision})` : '';
    const r = native(plan.native, 'electra-native step');
    if (r.error) {
      const f = fail(`electra-native step${where}`, r);
      if (f.code === 'ERR_NO_DEVICE' && cuda) {
        res.errors.push(`${res.binary} cannot run on ${plan.device}: it takes a CUDA build ` +
          '(ELECTRA_CUDA=ON npm run build:native, or ELECTRA_BENCH=<path>) and a usable GPU; --device cpu runs the CPU benchmark');
      }
    } else {
      res.step.native = r.value;
    }

    if (!plan.peers) {
      res.skipped.push('peer skipped: --no-peer');
    } else if (r.error) {
      res.skipped.push('peer skipped: the electra-native step failed');
    } else {
      const python = process.env.ELECTRA_PYTHON || 'python3';
      const why = peerUnavailable(python);
      if (why) {
        res.skipped.push(`peer skipped: ${why}`);
      } else {
        for (const [head, args] of Object.entries(plan.peers)) {
          const label = `pytorch peer (${PEER_HEADS[head]})`;
          const p = runJson(python, args, label, { env: plan.peerEnv });
          if (p.status === 3) {
            res.skipped.push('peer skipped: torch/transformers missing');
            break;
          }
          if (p.status === 4) {
            res.skipped.push('peer skipped: torch sees no usable GPU (a CPU-only torch build?)');
            break;
          }
          if (p.error) res.errors.push(`${label}: ${p.error}`);
          else if (p.value && p.value.compile === 'failed') {
            if (!res.step.peer_compile_failed) res.step.peer_compile_failed = p.value;
            res.errors.push(`${label}: torch.compile failed: ${p.value.error || 'unknown error'} (rerun without --compile)`);
          } else res.step.peers[head] = { ...p.value, head: (p.value && p.value.head) || head };
        }
        const ran = Object.values(res.step.peers).some(Boolean);
        if (ran && plan.peerGemm) {
          const g = runJson(python, plan.peerGemm, 'pytorch sgemm peak');
          if (g.error) res.errors.push(`pytorch sgemm peak: ${g.error}`);
          else res.sgemm_peak.pytorch = g.value;
        }
      }
    }
    const tps = (x) => (x && typeof x.tokens_per_s === 'number' && x.tokens_per_s > 0 ? x.tokens_per_s : 0);
    for (const [head, p] of Object.entries(res.step.peers)) {
      if (tps(p) && (!res.step.peer || tps(p) > tps(res.step.peer))) {
        res.step.peer = p;
        res.step.peer_head = head;
      }
    }
    if (tps(res.step.native)) {
      for (const [head, p] of Object.entries(res.step.peers)) if (tps(p)) res.step.ratios[head] = tps(res.step.native) / tps(p);
      if (res.step.peer) res.step.ratio = tps(res.step.native) / tps(res.step.peer);
    }
    const perToken = res.flops ? res.flops.per_token : null;
    const peak = (x) => (x && typeof x.gflops === 'number' ? x.gflops : null);
    if (res.step.native) Object.assign(res.step.native, flopRate(res.step.native, perToken, cuda ? null : peak(res.sgemm_peak.native)));
    for (const p of Object.values(res.step.peers)) if (p) Object.assign(p, flopRate(p, perToken, cuda ? null : peak(res.sgemm_peak.pytorch)));
  }
  for (const s of res.skipped) log(s);
  for (const s of res.notes) log(s);
  return res;
}

function pad(s, n, right = false) {
  s = String(s);
  return right ? s.padStart(n) : s.padEnd(n);
}

function mib(bytes) {
  return typeof bytes === 'number' && bytes >= 0 ? (bytes / (1024 * 1024)).toFixed(0) : 'n/a';
}

/** The table's name of a PyTorch row: versions, then how it ran (precision, compile, head). */
function peerName(p, cuda) {
  const how = [];
  if (cuda) how.push(p.dtype === 'bf16' ? 'bf16 autocast' : p.dtype || 'fp32');
  if (p.compile === 'on') how.push('compiled');
  how.push(PEER_HEADS[p.head] || `head ${p.head}`);
  return `PyTorch ${p.torch_version} + HF ${p.transformers_version} (${how.join(', ')})`;
}

/**
 * The combined human-readable table. The step table has one row for
 * electra-native (its name says whether electra_bench or the addon ran it)
 * and one per PyTorch variant; "vs PyTorch" is each row's tokens/s over the
 * faster variant's. On the CPU each row has its model GFLOP/s and that as %
 * of its own implementation's square-sgemm peak; on CUDA the headline names
 * the GPU and the precision, and the table has a peak device memory column
 * (ours: peak_device_bytes; PyTorch: peak_bytes) next to peak RSS.
 */
function formatReport(res) {
  const L = [];
  const o = res.options;
  const cuda = typeof o.device === 'string' && o.device.startsWith('cuda');
  const s = res.step;
  // A result without `peers` (one PyTorch row, as before both variants were timed) still prints.
  const peers = s.peers ? Object.values(s.peers).filter(Boolean) : [s.peer].filter(Boolean);
  const runner = res.runner || 'electra_bench';
  if (!cuda) {
    L.push(`electra-native benchmark, ${res.machine.cpu} (${res.machine.cores} cores), ${o.threads} thread(s)`);
  } else {
    const gpu = s.native && s.native.device_name ? s.native.device_name : peers[0] && peers[0].device_name;
    // device_name is the backend's description, "cuda:N (<name>, sm_XY, <precision>)"; the peer's, torch's GPU name.
    const where = !gpu ? o.device : gpu.startsWith(o.device) ? gpu : `${o.device} (${gpu})`;
    L.push(`electra-native benchmark, ${where}, precision ${o.precision}; host ${res.machine.cpu} ` +
      `(${res.machine.cores} cores), ${o.threads} thread(s)`);
  }
  if (res.gemm) {
    const k = res.gemm[0] ? res.gemm[0].kernel : '?';
    L.push('');
    L.push(`sgemm (kernel ${k}, ${runner})${cuda ? ', on the CPU' : ''}`);
    L.push(`${pad('shape', 22)} ${pad('M', 6, true)} ${pad('N', 6, true)} ${pad('K', 6, true)} ${pad('ms', 10, true)} ${pad('GFLOP/s', 9, true)} ${pad('% peak', 7, true)}`);
    for (const r of res.gemm) {
      L.push(`${pad(r.name, 22)} ${pad(r.M, 6, true)} ${pad(r.N, 6, true)} ${pad(r.K, 6, true)} ${pad(r.median_ms.toFixed(3), 10, true)} ` +
        `${pad(r.gflops.toFixed(1), 9, true)} ${pad(r.pct_of_peak.toFixed(1) + '%', 7, true)}`);
    }
  }
  const num = (v, d) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  const fasterTps = s.peer && typeof s.peer.tokens_per_s === 'number' ? s.peer.tokens_per_s : null;
  const vs = (r) => (fasterTps && typeof r.tokens_per_s === 'number' ? `${(r.tokens_per_s / fasterTps).toFixed(2)}x` : '');
  const nativeName = s.native ? `electra-native (${s.native.kernel || `cuda-${o.precision}`}, ${s.native.runner || runner})` : '';
  const names = [nativeName, ...peers.map((p) => peerName(p, cuda))];
  const w = Math.max(28, ...names.map((n) => n.length));
  if ((s.native || peers.length) && !cuda) {
    L.push('');
    L.push(`ELECTRA training step: preset ${o.preset}, batch ${o.batch} x seq ${o.seq}, ${o.threads} thread(s)`);
    L.push(`${pad('implementation', w)} ${pad('tokens/s', 10, true)} ${pad('ms/step', 10, true)} ${pad('min ms', 9, true)} ` +
      `${pad('steps', 6, true)} ${pad('peak RSS MB', 12, true)} ${pad('GFLOP/s', 8, true)} ${pad('% sgemm peak', 13, true)} ${pad('vs PyTorch', 11, true)}`);
    const row = (name, r) => L.push(`${pad(name, w)} ${pad(num(r.tokens_per_s, 1), 10, true)} ${pad(num(r.ms_per_step, 1), 10, true)} ` +
      `${pad(num(r.min_ms, 1), 9, true)} ${pad(r.steps, 6, true)} ${pad(num(r.peak_rss_mb, 0), 12, true)} ` +
      `${pad(num(r.model_gflops, 1), 8, true)} ${pad(typeof r.pct_of_sgemm_peak === 'number' ? `${num(r.pct_of_sgemm_peak, 1)}%` : 'n/a', 13, true)} ${pad(vs(r), 11, true)}`);
    if (s.native) row(nativeName, s.native);
    for (const p of peers) row(peerName(p, false), p);
  } else if (s.native || peers.length) {
    L.push('');
    L.push(`ELECTRA training step: preset ${o.preset}, batch ${o.batch} x seq ${o.seq}, on ${o.device}, ${o.precision}`);
    L.push(`${pad('implementation', w)} ${pad('tokens/s', 10, true)} ${pad('ms/step', 10, true)} ${pad('min ms', 9, true)} ` +
      `${pad('steps', 6, true)} ${pad('peak dev MiB', 13, true)} ${pad('peak RSS MB', 12, true)} ${pad('vs PyTorch', 11, true)}`);
    const row = (name, r, devBytes) => L.push(`${pad(name, w)} ${pad(num(r.tokens_per_s, 1), 10, true)} ` +
      `${pad(num(r.ms_per_step, 2), 10, true)} ${pad(num(r.min_ms, 2), 9, true)} ${pad(r.steps, 6, true)} ` +
      `${pad(mib(devBytes), 13, true)} ${pad(num(r.peak_rss_mb, 0), 12, true)} ${pad(vs(r), 11, true)}`);
    if (s.native) row(nativeName, s.native, s.native.peak_device_bytes);
    for (const p of peers) row(peerName(p, true), p, p.peak_bytes);
    L.push('peak dev: electra-native backend peak_bytes since the model was created; PyTorch ' +
      'max_memory_allocated over the timed steps');
  }
  if (s.native || peers.length) {
    if (s.peer) L.push(`vs PyTorch: tokens/s over the faster PyTorch variant's (${PEER_HEADS[s.peer_head] || s.peer_head})`);
    if (res.flops) {
      L.push(`GFLOP/s: model FLOPs x tokens/s, ${(res.flops.per_token / 1e6).toFixed(1)} MFLOP/token for every row ` +
        `(3 x forward matmuls, generator head at the masked rows only; ${res.flops.formula})`);
    }
    if (!cuda) {
      const pk = res.sgemm_peak || {};
      const ours = pk.native ? `electra-native ${num(pk.native.gflops, 1)} GFLOP/s (${pk.native.source}, ${pk.native.kernel})`
        : `electra-native n/a (${o.only === 'step' ? '--only step skips the sgemm part' : 'no sgemm result'})`;
      const theirs = pk.pytorch ? `PyTorch ${num(pk.pytorch.gflops, 1)} GFLOP/s (torch.matmul, ${pk.pytorch.threads} thread(s))`
        : 'PyTorch n/a';
      L.push(`% sgemm peak: of each implementation's square 2048^3 fp32 sgemm: ${ours}; ${theirs}`);
    }
  }
  for (const m of res.notes || []) L.push(m);
  for (const m of res.skipped) L.push(m);
  for (const e of res.errors) L.push(`error: ${e}`);
  if (res.failure) L.push(`FAILED: ${res.failure.what}: ${res.failure.code}`);
  return L.join('\n');
}

const USAGE = `usage: node scripts/bench/run.js [--preset tiny|small|base|large] [--batch 16] [--seq 128]
       [--threads N] [--steps N] [--warmup 2] [--no-peer] [--only gemm|step] [--json]
       [--device cpu|cuda|cuda:N|auto] [--precision fp32|bf16] [--compile]
       [--runner auto|electra_bench|addon]
  --runner     what runs the native parts: auto (default) = electra_bench when built, else the addon
  --device     cpu (default); cuda = cuda:0; auto: cuda:0 when the addon reports a GPU, else cpu
  --precision  default bf16 on CUDA, fp32 on the CPU (its only one); the peer runs bf16 autocast to match
  --compile    the peer wraps the models in torch.compile (off by default)
  On CUDA the CPU-only sgemm part is skipped.`;

function main(argv) {
  let o;
  try {
    o = parseArgs(argv);
  } catch (e) {
    process.stderr.write(`run.js: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let res;
  try {
    res = runBench(o);
  } catch (e) {
    process.stderr.write(`run.js: ${e.code ? `${e.code}: ` : ''}${e.message}\n`);
    return e.code === 'ERR_INVALID_ARGUMENT' ? 2 : 1;
  }
  process.stdout.write(o.json ? `${JSON.stringify(res, null, 2)}\n` : `${formatReport(res)}\n`);
  if (res.failure) process.stderr.write(`run.js: ${res.failure.code}: ${res.failure.what} failed: ${res.failure.message}\n`);
  return res.errors.length ? 1 : 0;
}

module.exports = {
  runBench, formatReport, findBenchBinary, nativeRunner, parseArgs, parseDevice, resolveDevice, buildArgs, nativeFailure, PEER_HEADS,
};

if (require.main === module) process.exitCode = main(process.argv.slice(2));
