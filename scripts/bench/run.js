#!/usr/bin/env node
'use strict';
/**
 * The benchmark orchestrator (plain Node, no build step):
 *
 *   node scripts/bench/run.js [--preset small] [--batch 16] [--seq 128]
 *        [--threads N] [--steps N] [--warmup N] [--no-peer] [--only gemm|step] [--json]
 *
 * 1. `electra_bench gemm --json`   sgemm GFLOP/s at the model's shapes;
 * 2. `electra_bench step --json`   the native ELECTRA training step;
 * 3. scripts/bench/peer_hf.py      the same step in PyTorch + HF transformers
 *    (when python3 can import torch and transformers; else "peer skipped: <why>");
 * then one table (or, with --json, one JSON object).
 *
 * electra_bench: $ELECTRA_BENCH, else the newest of build/Release/electra_bench
 * (cmake-js output), build/electra_bench, build* /electra_bench, build* /Release/electra_bench.
 * $ELECTRA_PYTHON overrides the python3 used for the peer.
 *
 * module.exports = { runBench, formatReport, findBenchBinary, parseArgs } for the TS CLI.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
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
};

/** Parses argv (without node and the script) into options; throws on a bad flag. */
function parseArgs(argv) {
  const o = { ...DEFAULTS };
  const num = (flag, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got '${v}'`);
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
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
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
      case '--only': {
        const w = next();
        if (w !== 'gemm' && w !== 'step') throw new Error(`--only must be gemm or step, got '${w}'`);
        o.only = w;
        break;
      }
      case '-h':
      case '--help': o.help = true; break;
      default: throw new Error(`unknown argument '${argv[i]}'`);
    }
  }
  if (!['tiny', 'small', 'base', 'large'].includes(o.preset)) {
    throw new Error(`unknown preset '${o.preset}' (tiny, small, base, large)`);
  }
  return o;
}

function log(msg) {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Runs a program whose stdout is JSON; progress on its stderr passes through. */
function runJson(cmd, args, what) {
  log(`${what}: ${[cmd, ...args].join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20, encoding: 'utf8' });
  if (r.error) return { error: `could not run ${cmd}: ${r.error.message}` };
  if (r.status !== 0) return { error: `${what} exited with code ${r.status}${r.signal ? ` (${r.signal})` : ''}`, status: r.status };
  try {
    return { value: JSON.parse(r.stdout) };
  } catch (e) {
    return { error: `${what} printed no valid JSON (${e.message})` };
  }
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
 * Runs the benchmarks; returns { machine, options, gemm, step: { native, peer, ratio }, skipped, errors }.
 * Throws only when electra_bench is not built.
 */
function runBench(opts = {}) {
  const o = { ...DEFAULTS, ...opts };
  const threads = o.threads > 0 ? o.threads : (os.availableParallelism ? os.availableParallelism() : os.cpus().length);
  const bin = findBenchBinary();
  if (!bin) {
    const err = new Error('electra_bench is not built (looked in build/Release, build, build*/); run `npm run build:native` ' +
      'or `cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && cmake --build build --target electra_bench`');
    err.code = 'ERR_NATIVE_LOAD';
    throw err;
  }
  const res = {
    date: new Date().toISOString(),
    machine: { cpu: (os.cpus()[0] || {}).model || 'unknown', cores: os.cpus().length, platform: `${os.platform()} ${os.arch()}` },
    options: { preset: o.preset, batch: o.batch, seq: o.seq, threads, steps: o.steps || 'auto', warmup: o.warmup },
    binary: bin,
    gemm: null,
    step: { native: null, peer: null, ratio: null },
    skipped: [],
    errors: [],
  };
  const t = ['--threads', String(threads)];
  if (o.only !== 'step') {
    const r = runJson(bin, ['gemm', ...t, '--json'], 'gemm');
    if (r.error) res.errors.push(r.error);
    else res.gemm = r.value;
  }
  if (o.only !== 'gemm') {
    const common = ['--preset', o.preset, '--batch', String(o.batch), '--seq', String(o.seq), ...t, '--warmup', String(o.warmup)];
    if (o.steps > 0) common.push('--steps', String(o.steps));
    const r = runJson(bin, ['step', ...common, '--json'], 'electra-native step');
    if (r.error) res.errors.push(r.error);
    else res.step.native = r.value;

    if (!o.peer) {
      res.skipped.push('peer skipped: --no-peer');
    } else {
      const python = process.env.ELECTRA_PYTHON || 'python3';
      const why = peerUnavailable(python);
      if (why) {
        res.skipped.push(`peer skipped: ${why}`);
      } else {
        const p = runJson(python, [path.join(__dirname, 'peer_hf.py'), ...common], 'pytorch peer');
        if (p.status === 3) res.skipped.push('peer skipped: torch/transformers missing');
        else if (p.error) res.errors.push(p.error);
        else res.step.peer = p.value;
      }
    }
    if (res.step.native && res.step.peer) {
      res.step.ratio = res.step.native.tokens_per_s / res.step.peer.tokens_per_s;
    }
  }
  for (const s of res.skipped) log(s);
  return res;
}

function pad(s, n, right = false) {
  s = String(s);
  return right ? s.padStart(n) : s.padEnd(n);
}

/** The combined human-readable table. */
function formatReport(res) {
  const L = [];
  const o = res.options;
  L.push(`electra-native benchmark, ${res.machine.cpu} (${res.machine.cores} cores), ${o.threads} thread(s)`);
  if (res.gemm) {
    const k = res.gemm[0] ? res.gemm[0].kernel : '?';
    L.push('');
    L.push(`sgemm (kernel ${k})`);
    L.push(`${pad('shape', 22)} ${pad('M', 6, true)} ${pad('N', 6, true)} ${pad('K', 6, true)} ${pad('ms', 10, true)} ${pad('GFLOP/s', 9, true)} ${pad('% peak', 7, true)}`);
    for (const r of res.gemm) {
      L.push(`${pad(r.name, 22)} ${pad(r.M, 6, true)} ${pad(r.N, 6, true)} ${pad(r.K, 6, true)} ${pad(r.median_ms.toFixed(3), 10, true)} ` +
        `${pad(r.gflops.toFixed(1), 9, true)} ${pad(r.pct_of_peak.toFixed(1) + '%', 7, true)}`);
    }
  }
  const s = res.step;
  if (s.native || s.peer) {
    L.push('');
    L.push(`ELECTRA training step: preset ${o.preset}, batch ${o.batch} x seq ${o.seq}, ${o.threads} thread(s)`);
    L.push(`${pad('implementation', 28)} ${pad('tokens/s', 10, true)} ${pad('ms/step', 10, true)} ${pad('min ms', 9, true)} ` +
      `${pad('steps', 6, true)} ${pad('peak RSS MB', 12, true)} ${pad('vs PyTorch', 11, true)}`);
    const row = (name, r, ratio) => L.push(`${pad(name, 28)} ${pad(r.tokens_per_s.toFixed(1), 10, true)} ${pad(r.ms_per_step.toFixed(1), 10, true)} ` +
      `${pad(r.min_ms.toFixed(1), 9, true)} ${pad(r.steps, 6, true)} ${pad(r.peak_rss_mb.toFixed(0), 12, true)} ${pad(ratio, 11, true)}`);
    if (s.native) row(`electra-native (${s.native.kernel})`, s.native, s.ratio ? `${s.ratio.toFixed(2)}x` : '');
    if (s.peer) row(`PyTorch ${s.peer.torch_version} + HF ${s.peer.transformers_version}`, s.peer, '1.00x');
  }
  for (const m of res.skipped) L.push(m);
  for (const e of res.errors) L.push(`error: ${e}`);
  return L.join('\n');
}

const USAGE = `usage: node scripts/bench/run.js [--preset tiny|small|base|large] [--batch 16] [--seq 128]
       [--threads N] [--steps N] [--warmup 2] [--no-peer] [--only gemm|step] [--json]`;

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
    process.stderr.write(`run.js: ${e.message}\n`);
    return 1;
  }
  process.stdout.write(o.json ? `${JSON.stringify(res, null, 2)}\n` : `${formatReport(res)}\n`);
  return res.errors.length ? 1 : 0;
}

module.exports = { runBench, formatReport, findBenchBinary, parseArgs };

if (require.main === module) process.exitCode = main(process.argv.slice(2));
