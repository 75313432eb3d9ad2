/**
 * `electra-native bench`: the command lines scripts/bench/run.js builds for
 * electra_bench and the two PyTorch variants (unit), its failure parsing and
 * report, the model FLOP count, and the CLI end to end with fake
 * electra_bench / python programs (so the CUDA paths are checked on a
 * CPU-only machine); then the real things where they are there: the addon
 * runner that replaces electra_bench when it is not built, peer_hf.py's two
 * heads, and the real electra_bench's ERR_NO_DEVICE where there is no GPU.
 * Nothing asserts on a timing value.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { bin, root, runCli } from './run-cli';

interface Plan {
  device: string;
  backend: 'cpu' | 'cuda';
  index: number | null;
  precision: 'fp32' | 'bf16';
  threads: number;
  gemm: string[] | null;
  native: string[] | null;
  peers: { full: string[]; masked: string[] } | null;
  peerGemm: string[] | null;
  peerEnv: Record<string, string> | null;
  skipped: string[];
}

interface RunJs {
  buildArgs(o: Record<string, unknown>, detect?: () => boolean): Plan;
  parseDevice(d: unknown): { backend: string; index?: number };
  resolveDevice(d: unknown, detect?: () => boolean): string;
  parseArgs(argv: string[]): Record<string, unknown>;
  nativeFailure(what: string, r: Record<string, unknown>): { what: string; code: string; message: string; detail: string; status: number | null };
  nativeRunner(runner?: string): { runner: string; cmd: string; prefix: string[]; note: string | null };
  findBenchBinary(root?: string): string | null;
  formatReport(r: unknown): string;
}

interface Flops {
  modelFlops(c: unknown, o: { seq: number; batch?: number; maskProb?: number }): {
    perToken: number; perStep: number; forwardPerToken: number; maskedRowsPerToken: number; parts: Record<string, number>;
  };
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const runJs = require(path.join(root, 'scripts', 'bench', 'run.js')) as RunJs;

// eslint-disable-next-line @typescript-eslint/no-require-imports
const flops = require(path.join(root, 'scripts', 'bench', 'flops.js')) as Flops;

const PEER = path.join(root, 'scripts', 'bench', 'peer_hf.py');
/** The two PyTorch variants' command lines for these common arguments. */
const peers = (args: string[]) => ({ full: [PEER, ...args, '--head', 'full'], masked: [PEER, ...args, '--head', 'masked'] });

/** Calls fn, returns what it threw (fails the test when it does not throw). */
function thrown(fn: () => unknown): { code?: string; message: string } {
  try {
    fn();
  } catch (e) {
    return e as { code?: string; message: string };
  }
  throw new Error('expected a throw');
}

describe('scripts/bench/run.js argument construction', () => {
  const base = { preset: 'tiny', batch: 4, seq: 32, threads: 3, warmup: 1, steps: 5 };
  const common = ['--preset', 'tiny', '--batch', '4', '--seq', '32', '--threads', '3', '--warmup', '1', '--steps', '5'];

  test('cuda:N bf16: electra_bench step gets --backend cuda --device N --precision bf16, the peer --device cuda --bf16', () => {
    const p = runJs.buildArgs({ ...base, device: 'cuda:2', precision: 'bf16' });
    expect(p.device).toBe('cuda:2');
    expect(p.backend).toBe('cuda');
    expect(p.index).toBe(2);
    expect(p.precision).toBe('bf16');
    expect(p.native).toEqual(['step', ...common, '--backend', 'cuda', '--device', '2', '--precision', 'bf16', '--json']);
    expect(p.peers).toEqual(peers([...common, '--device', 'cuda', '--bf16']));
    expect(p.peerGemm).toBeNull(); // no native sgemm peak on CUDA to set beside it
  });

  test('cuda defaults to bf16 on both sides; fp32 drops --bf16; --compile reaches the peer only', () => {
    const d = runJs.buildArgs({ ...base, device: 'cuda' });
    expect(d.device).toBe('cuda:0');
    expect(d.precision).toBe('bf16');
    expect(d.native).toEqual(['step', ...common, '--backend', 'cuda', '--device', '0', '--precision', 'bf16', '--json']);
    expect(d.peers).toEqual(peers([...common, '--device', 'cuda', '--bf16']));
    expect(d.peerEnv).toBeNull();

    const f = runJs.buildArgs({ ...base, device: 'cuda:0', precision: 'fp32', compile: true });
    expect(f.native).toEqual(['step', ...common, '--backend', 'cuda', '--device', '0', '--precision', 'fp32', '--json']);
    expect(f.peers).toEqual(peers([...common, '--device', 'cuda', '--compile']));
    expect(f.native).not.toContain('--compile');
  });

  test('on cuda the CPU-only GEMM part is skipped with a note saying so', () => {
    const p = runJs.buildArgs({ ...base, device: 'cuda' });
    expect(p.gemm).toBeNull();
    expect(p.skipped.join('\n')).toMatch(/gemm skipped: .*CPU sgemm only/);
    expect(runJs.buildArgs({ ...base, device: 'cuda', only: 'step' }).skipped).toEqual([]);
  });

  test('cpu: no --backend, no peer --device; both PyTorch heads and its sgemm peak at the same thread count', () => {
    const p = runJs.buildArgs({ ...base, device: 'cpu' });
    expect(p.precision).toBe('fp32');
    expect(p.gemm).toEqual(['gemm', '--threads', '3', '--json']);
    expect(p.native).toEqual(['step', ...common, '--json']);
    expect(p.peers).toEqual(peers(common));
    expect(p.peerGemm).toEqual([PEER, '--gemm', '--threads', '3']);
    expect(p.skipped).toEqual([]);
    const noPeer = runJs.buildArgs({ ...base, peer: false, steps: 0 });
    expect(noPeer.device).toBe('cpu'); // the default
    expect(noPeer.peers).toBeNull();
    expect(noPeer.peerGemm).toBeNull();
    expect(noPeer.native).toEqual(['step', ...common.slice(0, -2), '--json']);
    expect(runJs.buildArgs({ ...base, device: 'cpu', compile: true }).peers).toEqual(peers([...common, '--compile']));
  });

  test("'auto' is cuda:0 when a device is reported, else cpu; --only gemm needs no detection", () => {
    expect(runJs.resolveDevice('auto', () => true)).toBe('cuda:0');
    expect(runJs.resolveDevice('auto', () => false)).toBe('cpu');
    expect(runJs.buildArgs({ ...base, device: 'auto' }, () => true).native).toContain('--backend');
    expect(runJs.buildArgs({ ...base, device: 'auto' }, () => false).native).toEqual(['step', ...common, '--json']);
    const detect = jest.fn(() => true);
    expect(runJs.buildArgs({ ...base, device: 'auto', only: 'gemm' }, detect).device).toBe('cpu');
    expect(detect).not.toHaveBeenCalled();
  });

  test('cuda:N (N > 0): the peer sees only GPU N, counted within CUDA_VISIBLE_DEVICES', () => {
    const saved = process.env.CUDA_VISIBLE_DEVICES;
    try {
      delete process.env.CUDA_VISIBLE_DEVICES;
      expect(runJs.buildArgs({ ...base, device: 'cuda:1' }).peerEnv).toEqual({ CUDA_VISIBLE_DEVICES: '1' });
      process.env.CUDA_VISIBLE_DEVICES = '3, 5';
      expect(runJs.buildArgs({ ...base, device: 'cuda:1' }).peerEnv).toEqual({ CUDA_VISIBLE_DEVICES: '5' });
      expect(runJs.buildArgs({ ...base, device: 'cuda:0' }).peerEnv).toBeNull();
    } finally {
      if (saved === undefined) delete process.env.CUDA_VISIBLE_DEVICES;
      else process.env.CUDA_VISIBLE_DEVICES = saved;
    }
  });

  test('bad values are ERR_INVALID_ARGUMENT', () => {
    for (const d of ['gpu', 'cuda:', 'cuda:-1', 'cuda:x', 'CUDA', '', 0]) {
      const e = thrown(() => runJs.parseDevice(d));
      expect(e.code).toBe('ERR_INVALID_ARGUMENT');
      expect(e.message).toMatch(/--device must be cpu, cuda, cuda:N/);
    }
    expect(thrown(() => runJs.buildArgs({ device: 'tpu' })).code).toBe('ERR_INVALID_ARGUMENT');
    expect(thrown(() => runJs.buildArgs({ device: 'cuda', precision: 'fp16' })).code).toBe('ERR_INVALID_ARGUMENT');
    const bf16Cpu = thrown(() => runJs.buildArgs({ device: 'cpu', precision: 'bf16' }));
    expect(bf16Cpu.code).toBe('ERR_INVALID_ARGUMENT');
    expect(bf16Cpu.message).toMatch(/needs a CUDA device/);
    const gemmCuda = thrown(() => runJs.buildArgs({ device: 'cuda', only: 'gemm' }));
    expect(gemmCuda.code).toBe('ERR_INVALID_ARGUMENT');
    expect(gemmCuda.message).toMatch(/CPU sgemm only/);
    expect(thrown(() => runJs.parseArgs(['--device', 'tpu'])).code).toBe('ERR_INVALID_ARGUMENT');
    expect(thrown(() => runJs.parseArgs(['--precision', 'fp16'])).code).toBe('ERR_INVALID_ARGUMENT');
    expect(thrown(() => runJs.parseArgs(['--batch', '0'])).code).toBe('ERR_INVALID_ARGUMENT');
    expect(thrown(() => runJs.parseArgs(['--runner', 'gyp'])).code).toBe('ERR_INVALID_ARGUMENT');
    expect(thrown(() => runJs.nativeRunner('gyp')).code).toBe('ERR_INVALID_ARGUMENT');
  });

  test('parseArgs takes --device, --precision and --compile', () => {
    const o = runJs.parseArgs(['--device', 'cuda:1', '--precision=fp32', '--compile', '--no-peer']);
    expect(o).toMatchObject({ device: 'cuda:1', precision: 'fp32', compile: true, peer: false });
    expect(runJs.parseArgs([])).toMatchObject({ device: 'cpu', precision: null, compile: false, runner: 'auto' });
    expect(runJs.parseArgs(['--runner', 'addon'])).toMatchObject({ runner: 'addon' });
  });

  test('the native runner: electra_bench when it is there, else the addon (saying why); --runner electra_bench insists', () => {
    const saved = process.env.ELECTRA_BENCH;
    try {
      process.env.ELECTRA_BENCH = path.join(root, 'no', 'such', 'electra_bench');
      const a = runJs.nativeRunner('auto');
      expect(a.runner).toBe('addon');
      expect(a.cmd).toBe(process.execPath);
      expect(a.prefix).toEqual([path.join(root, 'scripts', 'bench', 'addon_bench.js')]);
      expect(a.note).toMatch(/through the addon: electra_bench not found \(\$ELECTRA_BENCH=.* is not a file\); its peak RSS includes the Node runtime$/);
      const e = thrown(() => runJs.nativeRunner('electra_bench'));
      expect(e.code).toBe('ERR_NATIVE_LOAD');
      expect(e.message).toMatch(/electra_bench is not built .*npm run build:native.*--runner addon/);
      process.env.ELECTRA_BENCH = PEER; // any existing file
      expect(runJs.nativeRunner('auto')).toMatchObject({ runner: 'electra_bench', cmd: PEER, prefix: [], note: null });
      expect(runJs.nativeRunner('addon')).toMatchObject({ runner: 'addon', note: 'native parts ran through the addon: --runner addon; its peak RSS includes the Node runtime' });
    } finally {
      if (saved === undefined) delete process.env.ELECTRA_BENCH;
      else process.env.ELECTRA_BENCH = saved;
    }
  });
});

describe('scripts/bench/flops.js: one model FLOP count for every implementation', () => {
  const small = {
    vocabSize: 30522, embeddingSize: 128,
    discriminator: { hidden: 256, layers: 12, heads: 4, intermediate: 1024 },
    generator: { hidden: 64, layers: 12, heads: 1, intermediate: 256 },
  };

  test('ELECTRA-Small at seq 128: 3 x the forward matmuls, attention included, the vocabulary at the masked rows', () => {
    const f = flops.modelFlops(small, { seq: 128, batch: 16 });
    const S = 128;
    const enc = (H: number, F: number, L: number) => 2 * 128 * H + L * (8 * H * H + 4 * H * F + 4 * S * H);
    const m = (0.15 * 126) / 128;
    expect(f.maskedRowsPerToken).toBeCloseTo(m, 12);
    expect(f.parts.discriminator_encoder).toBe(enc(256, 1024, 12));
    expect(f.parts.generator_encoder).toBe(enc(64, 256, 12));
    expect(f.parts.generator_head).toBeCloseTo((2 * 64 * 128 + 2 * 128 * 30522) * m, 6);
    expect(f.parts.discriminator_head).toBe(2 * 256 * 256 + 2 * 256);
    expect(f.perToken).toBeCloseTo(3 * f.forwardPerToken, 6);
    expect(f.perStep).toBeCloseTo(f.perToken * 16 * 128, 0);
    expect(f.perToken / 1e6).toBeCloseTo(70.17, 2);
  });

  test('no embedding projection when E equals H', () => {
    const base = { ...small, embeddingSize: 256, generator: { ...small.generator, hidden: 256 } };
    const f = flops.modelFlops(base, { seq: 64 });
    expect(f.parts.discriminator_encoder).toBe(12 * (8 * 256 * 256 + 4 * 256 * 1024 + 4 * 64 * 256));
  });
});

describe('scripts/bench/run.js failures and report', () => {
  test("the native side's ERR_* code and message come from its stderr", () => {
    const line = 'electra_bench step: create (cuda:0, bf16): ERR_NO_DEVICE: CUDA was requested, but no usable GPU was found';
    const f = runJs.nativeFailure('electra-native step', { error: 'x exited with code 1', status: 1, stderr: `${line}\n` });
    expect(f).toEqual({
      what: 'electra-native step',
      code: 'ERR_NO_DEVICE',
      message: 'create (cuda:0, bf16): ERR_NO_DEVICE: CUDA was requested, but no usable GPU was found',
      detail: 'CUDA was requested, but no usable GPU was found',
      status: 1,
    });
    expect(runJs.nativeFailure('s', { error: 'e', status: 2, stderr: "electra_bench step: unknown argument '--x'\n" }).code).toBe('ERR_INVALID_ARGUMENT');
    expect(runJs.nativeFailure('s', { error: 'could not run', spawnError: true, stderr: '' }).code).toBe('ERR_NATIVE_LOAD');
    expect(runJs.nativeFailure('s', { error: 'killed', status: null, stderr: '' }).code).toBe('ERR_INTERNAL');
  });

  const machine = { cpu: 'Test CPU', cores: 8, platform: 'linux x64' };
  const stepRow = { tokens_per_s: 1000, ms_per_step: 20, min_ms: 19, steps: 5, peak_rss_mb: 300 };

  test('the cuda report names the device and precision, both PyTorch variants, and peak device memory of all', () => {
    const peer = { ...stepRow, torch_version: '2.5', transformers_version: '4.4', dtype: 'bf16', compile: 'off' };
    const masked = { ...peer, tokens_per_s: 1250, head: 'masked', peak_bytes: 768 * 1024 * 1024 };
    const report = runJs.formatReport({
      machine,
      options: { preset: 'small', batch: 16, seq: 128, threads: 8, device: 'cuda:0', precision: 'bf16', compile: false },
      runner: 'electra_bench',
      gemm: null,
      sgemm_peak: { native: null, pytorch: null },
      flops: null,
      step: {
        native: { ...stepRow, tokens_per_s: 2000, kernel: 'cuda-bf16', device_name: 'cuda:0 (Fake GPU, sm_90, bf16)', peak_device_bytes: 512 * 1024 * 1024 },
        peers: { full: { ...peer, head: 'full', peak_bytes: 1024 * 1024 * 1024 }, masked },
        peer: masked,
        peer_head: 'masked',
        ratio: 1.6,
      },
      skipped: ['gemm skipped: electra_bench gemm measures the CPU sgemm only (run --device cpu --only gemm for it)'],
      notes: [],
      errors: [],
      failure: null,
    });
    expect(report).toMatch(/^electra-native benchmark, cuda:0 \(Fake GPU, sm_90, bf16\), precision bf16; host Test CPU/);
    expect(report).toMatch(/preset small, batch 16 x seq 128, on cuda:0, bf16/);
    expect(report).toMatch(/peak dev MiB\s+peak RSS MB\s+vs PyTorch/);
    expect(report).toMatch(/^electra-native \(cuda-bf16, electra_bench\)\s+2000\.0\s+20\.00\s+19\.00\s+5\s+512\s+300\s+1\.60x$/m);
    expect(report).toMatch(/^PyTorch 2\.5 \+ HF 4\.4 \(bf16 autocast, HF head, all rows\)\s+1000\.0\s+20\.00\s+19\.00\s+5\s+1024\s+300\s+0\.80x$/m);
    expect(report).toMatch(/^PyTorch 2\.5 \+ HF 4\.4 \(bf16 autocast, head at masked rows\)\s+1250\.0\s+20\.00\s+19\.00\s+5\s+768\s+300\s+1\.00x$/m);
    expect(report).toMatch(/^vs PyTorch: tokens\/s over the faster PyTorch variant's \(head at masked rows\)$/m);
    expect(report).not.toMatch(/% sgemm peak/); // a CPU sgemm peak says nothing about a GPU
    expect(report).toMatch(/gemm skipped: .*CPU sgemm only/);
  });

  test('the cpu report: one row per implementation, the runner named, FLOP rates, ratios against the faster PyTorch', () => {
    const full = { ...stepRow, tokens_per_s: 400, ms_per_step: 40, torch_version: '2.5', transformers_version: '4.4', head: 'full', model_gflops: 28, pct_of_sgemm_peak: 14 };
    const masked = { ...stepRow, tokens_per_s: 500, ms_per_step: 32, torch_version: '2.5', transformers_version: '4.4', head: 'masked', model_gflops: 35, pct_of_sgemm_peak: 17.5 };
    const report = runJs.formatReport({
      machine,
      options: { preset: 'small', batch: 16, seq: 128, threads: 8, device: 'cpu', precision: 'fp32', compile: false },
      runner: 'addon',
      gemm: null,
      sgemm_peak: { native: { gflops: 300, kernel: 'avx2-6x16', source: 'addon bench.sgemm' }, pytorch: { gflops: 200, threads: 8 } },
      flops: { per_token: 70e6, formula: 'scripts/bench/flops.js' },
      step: {
        native: { ...stepRow, kernel: 'avx2-6x16', runner: 'addon', model_gflops: 70, pct_of_sgemm_peak: 70 / 3 },
        peers: { full, masked },
        peer: masked,
        peer_head: 'masked',
        ratio: 2,
      },
      skipped: [],
      notes: ['native parts ran through the addon: electra_bench is not built (`npm run build:native` builds it)'],
      errors: [],
      failure: null,
    });
    expect(report.split('\n')).toEqual([
      'electra-native benchmark, Test CPU (8 cores), 8 thread(s)',
      '',
      'ELECTRA training step: preset small, batch 16 x seq 128, 8 thread(s)',
      'implementation                               tokens/s    ms/step    min ms  steps  peak RSS MB  GFLOP/s  % sgemm peak  vs PyTorch',
      'electra-native (avx2-6x16, addon)              1000.0       20.0      19.0      5          300     70.0         23.3%       2.00x',
      'PyTorch 2.5 + HF 4.4 (HF head, all rows)        400.0       40.0      19.0      5          300     28.0         14.0%       0.80x',
      'PyTorch 2.5 + HF 4.4 (head at masked rows)      500.0       32.0      19.0      5          300     35.0         17.5%       1.00x',
      "vs PyTorch: tokens/s over the faster PyTorch variant's (head at masked rows)",
      'GFLOP/s: model FLOPs x tokens/s, 70.0 MFLOP/token for every row (3 x forward matmuls, generator head at the masked rows only; scripts/bench/flops.js)',
      "% sgemm peak: of each implementation's square 2048^3 fp32 sgemm: electra-native 300.0 GFLOP/s (addon bench.sgemm, avx2-6x16); PyTorch 200.0 GFLOP/s (torch.matmul, 8 thread(s))",
      'native parts ran through the addon: electra_bench is not built (`npm run build:native` builds it)',
    ]);
  });

  test('the cpu report without a peer: n/a fractions where a peak is missing, the skip reason', () => {
    const report = runJs.formatReport({
      machine,
      options: { preset: 'small', batch: 16, seq: 128, threads: 8, device: 'cpu', precision: 'fp32', compile: false, only: 'step' },
      runner: 'electra_bench',
      gemm: null,
      sgemm_peak: { native: null, pytorch: null },
      flops: { per_token: 70e6, formula: 'scripts/bench/flops.js' },
      step: { native: { ...stepRow, kernel: 'avx2-6x16', model_gflops: 70, pct_of_sgemm_peak: null }, peers: { full: null, masked: null }, peer: null, ratio: null },
      skipped: ['peer skipped: --no-peer'],
      notes: [],
      errors: [],
      failure: null,
    });
    expect(report).toMatch(/^electra-native \(avx2-6x16, electra_bench\)\s+1000\.0\s+20\.0\s+19\.0\s+5\s+300\s+70\.0\s+n\/a\s*$/m);
    expect(report).not.toMatch(/PyTorch \d|vs PyTorch:/);
    expect(report).toMatch(/electra-native n\/a \(--only step skips the sgemm part\); PyTorch n\/a/);
    expect(report).toMatch(/^peer skipped: --no-peer$/m);
  });
});

// ---- the CLI end to end, with fake programs ------------------------------

const run = runCli;

// A fake electra_bench: logs its argv (one JSON line per call) to $FAKE_LOG;
// $FAKE_MODE=nodevice fails the way a GPU-less machine does.
const FAKE_BENCH = `#!/usr/bin/env node
const fs = require('node:fs');
const a = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify(['bench', ...a]) + '\\n');
if (a[0] === 'gemm') {
  console.log(JSON.stringify([{ name: 'sq', M: 8, N: 8, K: 8, median_ms: 1, gflops: 100, pct_of_peak: 100, kernel: 'fake' }]));
} else if (process.env.FAKE_MODE === 'nodevice' && a.includes('cuda')) {
  process.stderr.write('electra_bench step: create (cuda:0, bf16): ERR_NO_DEVICE: CUDA was requested, but no usable GPU was found: fake\\n');
  process.exit(1);
} else {
  const cuda = a.includes('cuda');
  const prec = cuda ? a[a.indexOf('--precision') + 1] : 'fp32';
  console.log(JSON.stringify({ mode: 'step', impl: 'electra-native', backend: cuda ? 'cuda' : 'cpu',
    device: cuda ? Number(a[a.indexOf('--device') + 1]) : null, device_name: cuda ? 'cuda:' + a[a.indexOf('--device') + 1] + ' (Fake GPU, sm_90, ' + prec + ')' : 'cpu',
    precision: prec, kernel: cuda ? 'cuda-' + prec : 'fake', tokens_per_s: 3000, ms_per_step: 10, min_ms: 9, steps: 3,
    peak_rss_mb: 100, peak_device_bytes: cuda ? 256 * 1048576 : null }));
}
`;

// A fake python3 with torch: answers the import probe, runs "peer_hf.py"
// (the masked head at 2000 tokens/s, the stock one at 1500; --gemm: 50 GFLOP/s).
const FAKE_PYTHON = `#!/usr/bin/env node
const fs = require('node:fs');
const a = process.argv.slice(2);
if (a[0] === '-c') process.exit(0);
fs.appendFileSync(process.env.FAKE_LOG, JSON.stringify(['python', ...a.slice(1)]) + '\\n');
if (a.includes('--gemm')) {
  console.log(JSON.stringify({ mode: 'gemm', impl: 'pytorch', gflops: 50, threads: Number(a[a.indexOf('--threads') + 1]) }));
  process.exit(0);
}
const cuda = a.includes('cuda');
const head = a[a.indexOf('--head') + 1];
if (process.env.FAKE_COMPILE_FAIL) {
  console.log(JSON.stringify({ mode: 'step', impl: 'pytorch-hf', compile: 'failed', error: 'BackendCompilerFailed: fake',
    tokens_per_s: null, ms_per_step: null, peak_bytes: null, steps: 0 }));
  process.exit(0);
}
console.log(JSON.stringify({ mode: 'step', impl: 'pytorch-hf', device: cuda ? 'cuda' : 'cpu', dtype: a.includes('--bf16') ? 'bf16' : 'fp32',
  compile: a.includes('--compile') ? 'on' : 'off', head, torch_version: '9.9', transformers_version: '8.8',
  tokens_per_s: head === 'masked' ? 2000 : 1500, ms_per_step: 20, min_ms: 19, steps: 3, peak_rss_mb: 200, peak_bytes: cuda ? 768 * 1048576 : null }));
`;

describe('electra-native bench --device (fake electra_bench and python)', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let log: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-bench-'));
    log = path.join(dir, 'calls.log');
    fs.writeFileSync(log, '');
    for (const [name, text] of [['electra_bench', FAKE_BENCH], ['python3', FAKE_PYTHON]]) {
      fs.writeFileSync(path.join(dir, name), text, { mode: 0o755 });
    }
    env = { ELECTRA_BENCH: path.join(dir, 'electra_bench'), ELECTRA_PYTHON: path.join(dir, 'python3'), FAKE_LOG: log, CUDA_VISIBLE_DEVICES: '' };
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const calls = (): string[][] => fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]);

  test('cuda without a GPU: the report says ERR_NO_DEVICE, no table, no peer, non-zero exit with the code', () => {
    const r = run(['bench', '--device', 'cuda', '--preset', 'tiny'], { ...env, FAKE_MODE: 'nodevice' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^electra-native: ERR_NO_DEVICE: bench: electra-native step on cuda:0 \(bf16\) failed: CUDA was requested, but no usable GPU was found/m);
    expect(r.stdout).toMatch(/^error: electra-native step on cuda:0 \(bf16\) failed: .*ERR_NO_DEVICE/m);
    expect(r.stdout).toMatch(/^FAILED: electra-native step on cuda:0 \(bf16\): ERR_NO_DEVICE$/m);
    expect(r.stdout).toMatch(/^peer skipped: the electra-native step failed$/m);
    expect(r.stdout).not.toMatch(/tokens\/s/);
    const c = calls();
    expect(c).toHaveLength(1); // no gemm, no peer
    expect(c[0]).toEqual(expect.arrayContaining(['bench', 'step', '--backend', 'cuda', '--device', '0', '--precision', 'bf16']));
  });

  test('cuda with --json: the JSON has the failure, and the exit is still ERR_NO_DEVICE', () => {
    const r = run(['bench', '--device', 'cuda:0', '--json', '--no-peer'], { ...env, FAKE_MODE: 'nodevice' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/electra-native: ERR_NO_DEVICE: /);
    const out = JSON.parse(r.stdout);
    expect(out.failure).toMatchObject({ code: 'ERR_NO_DEVICE', status: 1 });
    expect(out.step.native).toBeNull();
    expect(out.options).toMatchObject({ device: 'cuda:0', precision: 'bf16' });
  });

  test('cuda:1 bf16 --compile: all sides get the device and precision, the table shows them and peak device memory', () => {
    const r = run(['bench', '--device', 'cuda:1', '--precision', 'bf16', '--compile', '--preset', 'tiny', '--threads', '2', '--steps', '3'], env);
    expect(r.stderr).not.toMatch(/electra-native: ERR_/);
    expect(r.status).toBe(0);
    const c = calls();
    expect(c).toHaveLength(3); // no gemm on CUDA, no PyTorch sgemm peak
    expect(c[0]).toEqual(['bench', 'step', '--preset', 'tiny', '--batch', '16', '--seq', '128', '--threads', '2', '--warmup', '1',
      '--steps', '3', '--backend', 'cuda', '--device', '1', '--precision', 'bf16', '--json']);
    const peerArgs = ['python', '--preset', 'tiny', '--batch', '16', '--seq', '128', '--threads', '2', '--warmup', '1',
      '--steps', '3', '--device', 'cuda', '--bf16', '--compile'];
    expect(c[1]).toEqual([...peerArgs, '--head', 'full']);
    expect(c[2]).toEqual([...peerArgs, '--head', 'masked']);
    expect(r.stderr).toMatch(/pytorch peer \(HF head, all rows\): CUDA_VISIBLE_DEVICES=1 /);
    expect(r.stderr).toMatch(/pytorch peer \(head at masked rows\): CUDA_VISIBLE_DEVICES=1 /);
    expect(r.stdout).toMatch(/^electra-native benchmark, cuda:1 \(Fake GPU, sm_90, bf16\), precision bf16;/m);
    expect(r.stdout).toMatch(/peak dev MiB/);
    expect(r.stdout).toMatch(/^electra-native \(cuda-bf16, electra_bench\)\s+3000\.0\s+10\.00\s+9\.00\s+3\s+256\s+100\s+1\.50x$/m);
    expect(r.stdout).toMatch(/^PyTorch 9\.9 \+ HF 8\.8 \(bf16 autocast, compiled, HF head, all rows\)\s+1500\.0\s+20\.00\s+19\.00\s+3\s+768\s+200\s+0\.75x$/m);
    expect(r.stdout).toMatch(/^PyTorch 9\.9 \+ HF 8\.8 \(bf16 autocast, compiled, head at masked rows\)\s+2000\.0\s+20\.00\s+19\.00\s+3\s+768\s+200\s+1\.00x$/m);
    expect(r.stdout).toMatch(/^gemm skipped: .*CPU sgemm only/m);
    expect(r.stdout).not.toMatch(/^sgemm/m);
  });

  test('cuda fp32: no --bf16 for the peer', () => {
    const r = run(['bench', '--device', 'cuda', '--precision', 'fp32', '--only', 'step'], env);
    expect(r.status).toBe(0);
    const c = calls();
    expect(c).toHaveLength(3);
    expect(c[0]).toEqual(expect.arrayContaining(['--backend', 'cuda', '--device', '0', '--precision', 'fp32']));
    for (const p of c.slice(1)) {
      expect(p).toEqual(expect.arrayContaining(['--device', 'cuda']));
      expect(p).not.toContain('--bf16');
      expect(p).not.toContain('--compile');
    }
    expect(r.stdout).toMatch(/PyTorch 9\.9 \+ HF 8\.8 \(fp32, HF head, all rows\)/);
    expect(r.stdout).toMatch(/PyTorch 9\.9 \+ HF 8\.8 \(fp32, head at masked rows\)/);
  });

  test('a failed peer torch.compile is an error line, not a table row or a NaN ratio', () => {
    const r = run(['bench', '--device', 'cuda', '--compile', '--only', 'step'], { ...env, FAKE_COMPILE_FAIL: '1' });
    expect(r.status).toBe(0); // the native side ran; the peer's failure is reported
    for (const head of ['HF head, all rows', 'head at masked rows']) {
      expect(r.stdout).toContain(`error: pytorch peer (${head}): torch.compile failed: BackendCompilerFailed: fake (rerun without --compile)`);
    }
    expect(r.stdout).toMatch(/^electra-native \(cuda-bf16, electra_bench\)\s+3000\.0\s+10\.00\s+9\.00\s+3\s+256\s+100\s*$/m);
    expect(r.stdout).not.toMatch(/NaN|PyTorch 9|vs PyTorch:/);
  });

  test('cpu (the default): gemm, step, both PyTorch heads and its sgemm peak; FLOP rates against each own peak; ratio vs the faster', () => {
    const r = run(['bench', '--preset', 'tiny', '--threads', '2'], env);
    expect(r.status).toBe(0);
    const c = calls();
    expect(c.map((x) => x[0] + ' ' + x[1])).toEqual(['bench gemm', 'bench step', 'python --preset', 'python --preset', 'python --gemm']);
    expect(c[1]).not.toContain('--backend');
    expect(c[2]).not.toContain('--device');
    expect(c[2].slice(-2)).toEqual(['--head', 'full']);
    expect(c[3].slice(-2)).toEqual(['--head', 'masked']);
    expect(c[4]).toEqual(['python', '--gemm', '--threads', '2']);
    expect(r.stdout).toMatch(/^electra-native benchmark, .* \(\d+ cores\), 2 thread\(s\)$/m);
    expect(r.stdout).toMatch(/^implementation\s+tokens\/s\s+ms\/step\s+min ms\s+steps\s+peak RSS MB\s+GFLOP\/s\s+% sgemm peak\s+vs PyTorch$/m);
    expect(r.stdout).toMatch(/^sgemm \(kernel fake, electra_bench\)$/m);
    expect(r.stdout).toMatch(/^electra-native \(fake, electra_bench\)\s.*\s1\.50x$/m);
    expect(r.stdout).toMatch(/^PyTorch 9\.9 \+ HF 8\.8 \(HF head, all rows\)\s.*\s0\.75x$/m);
    expect(r.stdout).toMatch(/^PyTorch 9\.9 \+ HF 8\.8 \(head at masked rows\)\s.*\s1\.00x$/m);
    expect(r.stdout).toMatch(/^% sgemm peak: .*electra-native 100\.0 GFLOP\/s \(electra_bench gemm, fake\); PyTorch 50\.0 GFLOP\/s \(torch\.matmul, 2 thread\(s\)\)$/m);
    expect(r.stdout).not.toMatch(/peak dev/);
  });

  test('--json: both variants, the faster one as the reference, one FLOP count for all rows, each row against its own peak', () => {
    const r = run(['bench', '--preset', 'tiny', '--threads', '2', '--seq', '64', '--json'], env);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.runner).toBe('electra_bench');
    expect(out.step.peers.full).toMatchObject({ head: 'full', tokens_per_s: 1500 });
    expect(out.step.peers.masked).toMatchObject({ head: 'masked', tokens_per_s: 2000 });
    expect(out.step.peer_head).toBe('masked');
    expect(out.step.peer).toEqual(out.step.peers.masked);
    expect(out.step.ratio).toBeCloseTo(1.5, 12);
    expect(out.step.ratios.full).toBeCloseTo(2, 12);
    expect(out.step.ratios.masked).toBeCloseTo(1.5, 12);
    expect(out.sgemm_peak.native).toMatchObject({ gflops: 100, source: 'electra_bench gemm' });
    expect(out.sgemm_peak.pytorch).toMatchObject({ gflops: 50, threads: 2 });
    // tiny: the count of scripts/bench/flops.js for the preset at seq 64
    const tiny = { vocabSize: 30522, embeddingSize: 32, discriminator: { hidden: 64, layers: 2, intermediate: 256 }, generator: { hidden: 16, layers: 1, intermediate: 64 } };
    const perToken = flops.modelFlops(tiny, { seq: 64 }).perToken;
    expect(out.flops.per_token).toBeCloseTo(perToken, 3);
    for (const [row, peak] of [[out.step.native, 100], [out.step.peers.full, 50], [out.step.peers.masked, 50]] as const) {
      expect(row.model_gflops).toBeCloseTo((perToken * row.tokens_per_s) / 1e9, 9);
      expect(row.pct_of_sgemm_peak).toBeCloseTo((100 * row.model_gflops) / peak, 9);
    }
  });

  test('no python with torch: a clear "peer skipped" line, the native rows still there, exit 0', () => {
    const missing = path.join(dir, 'no-such-python3');
    const r = run(['bench', '--preset', 'tiny', '--threads', '2'], { ...env, ELECTRA_PYTHON: missing });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`peer skipped: ${missing} not found (ENOENT)`);
    expect(r.stdout).toMatch(/^electra-native \(fake, electra_bench\)\s/m);
    expect(r.stdout).not.toMatch(/^PyTorch \d/m);
    expect(r.stdout).toMatch(/; PyTorch n\/a$/m);
    expect(calls().map((x) => x[0])).toEqual(['bench', 'bench']);
  });

  test("--device auto follows `info --json`", () => {
    const info = JSON.parse(run(['info', '--json']).stdout) as { backend: string };
    const r = run(['bench', '--device', 'auto', '--only', 'step', '--no-peer'], env);
    expect(r.status).toBe(0);
    const step = calls()[0];
    if (info.backend === 'cuda') expect(step).toEqual(expect.arrayContaining(['--backend', 'cuda', '--device', '0']));
    else expect(step).not.toContain('--backend');
  });

  test('bad --device / --precision values are ERR_INVALID_ARGUMENT before anything runs', () => {
    for (const args of [
      ['--device', 'gpu'],
      ['--device', 'cuda:x'],
      ['--precision', 'fp16'],
      ['--device', 'cpu', '--precision', 'bf16'],
      ['--device', 'cuda', '--only', 'gemm'],
      ['--batch', '0'],
    ]) {
      const r = run(['bench', ...args], env);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/^electra-native: ERR_INVALID_ARGUMENT: /m);
    }
    expect(calls()).toEqual([]);
  });

  test('--help lists the device options and the CUDA examples', () => {
    const r = run(['bench', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--device .*cuda:N .*auto/);
    expect(r.stdout).toMatch(/--precision/);
    expect(r.stdout).toMatch(/--compile/);
    expect(r.stdout).toMatch(/bench --device cuda --precision bf16/);
  });
});

// ---- the real electra_bench where there is no GPU -------------------------

const realBench = path.join(root, 'build', 'Release', 'electra_bench');
const hasGpu = (() => {
  const r = spawnSync(process.execPath, [bin, 'info', '--json'], { cwd: root, encoding: 'utf8', timeout: 60000 });
  try {
    return (JSON.parse(r.stdout) as { backend: string }).backend === 'cuda';
  } catch {
    return true; // unknown: do not assert a failure
  }
})();

(fs.existsSync(realBench) && !hasGpu ? test : test.skip)('the real electra_bench without a GPU: bench --device cuda fails with ERR_NO_DEVICE', () => {
  const r = run(['bench', '--device', 'cuda', '--preset', 'tiny', '--batch', '2', '--seq', '8', '--steps', '1', '--no-peer'], {
    ELECTRA_BENCH: realBench,
  });
  expect(r.status).not.toBe(0);
  expect(r.stderr).toMatch(/^electra-native: ERR_NO_DEVICE: bench: electra-native step on cuda:0 \(bf16\) failed: /m);
  expect(r.stdout).toMatch(/^FAILED: electra-native step on cuda:0 \(bf16\): ERR_NO_DEVICE$/m);
  expect(r.stdout).not.toMatch(/tokens\/s/);
});

// ---- the addon runner (what runs when electra_bench is not built) ----------

const addon = (() => {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('node-gyp-build') as (dir: string) => { bench?: { sgemm: (...a: unknown[]) => Record<string, unknown> } })(root);
  } catch {
    return null;
  }
})();
const withAddon = addon && addon.bench ? describe : describe.skip;

withAddon('the addon runner', () => {
  const noBench = { ELECTRA_BENCH: path.join(root, 'no', 'such', 'electra_bench'), ELECTRA_PYTHON: path.join(root, 'no', 'such', 'python3') };
  const stepArgs = ['--preset', 'tiny', '--batch', '2', '--seq', '16', '--threads', '1', '--steps', '2', '--warmup', '0'];

  test('bench.sgemm times one shape in C++ and checks its arguments', () => {
    const t = addon!.bench!.sgemm(true, false, 16, 8, 4, 0);
    expect(Object.keys(t).sort()).toEqual(['gflops', 'kernel', 'medianMs', 'minMs', 'runs', 'threads']);
    expect(t.runs).toBeGreaterThanOrEqual(5);
    expect(typeof t.kernel).toBe('string');
    for (const bad of [[false, false, 0, 8, 8], [false, false, 8.5, 8, 8], [1, false, 8, 8, 8], [false, false, 8, 8, 8, -1], [false, false, 8, 8]]) {
      let code: unknown;
      try {
        addon!.bench!.sgemm(...bad);
      } catch (e) {
        code = (e as { code?: string }).code;
      }
      expect(code).toBe('ERR_INVALID_ARGUMENT');
    }
  });

  test('with electra_bench absent, bench runs the step through the addon and says so in the table', () => {
    const r = run(['bench', '--only', 'step', ...stepArgs], noBench);
    expect(r.stderr).not.toMatch(/electra-native: ERR_/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^electra-native \([^,]+, addon\)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+2\s+\d+\s+[\d.]+\s+n\/a\s*$/m);
    expect(r.stdout).toMatch(/^native parts ran through the addon: electra_bench not found \(\$ELECTRA_BENCH=.* is not a file\); its peak RSS includes the Node runtime$/m);
    expect(r.stdout).toMatch(/^peer skipped: .*no.such.python3 not found \(ENOENT\)$/m);
    expect(r.stdout).toMatch(/electra-native n\/a \(--only step skips the sgemm part\); PyTorch n\/a$/m);
  });

  test('--runner addon --json: the same fields as electra_bench step, runner "addon"', () => {
    const r = run(['bench', '--only', 'step', '--runner', 'addon', '--json', ...stepArgs], { ELECTRA_PYTHON: noBench.ELECTRA_PYTHON });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.runner).toBe('addon');
    expect(out.binary).toBe(path.join(root, 'scripts', 'bench', 'addon_bench.js'));
    const n = out.step.native;
    expect(n).toMatchObject({ mode: 'step', impl: 'electra-native', runner: 'addon', backend: 'cpu', preset: 'tiny', batch: 2, seq: 16, threads: 1, steps: 2 });
    for (const k of ['tokens_per_s', 'ms_per_step', 'min_ms', 'median_ms', 'peak_rss_mb', 'loss', 'masked', 'params', 'model_gflops']) {
      expect(typeof n[k]).toBe('number');
    }
    expect(n.step_ms).toHaveLength(2);
    expect(typeof n.kernel).toBe('string');
    expect(n.pct_of_sgemm_peak).toBeNull(); // --only step: no sgemm peak measured
  });

  const realBenchBin = runJs.findBenchBinary();
  (realBenchBin ? test : test.skip)('the addon runs the same step as electra_bench: same parameters, masked count and losses', () => {
    const args = ['step', ...stepArgs, '--json'];
    const a = spawnSync(realBenchBin!, args, { encoding: 'utf8', timeout: 60000 });
    const b = spawnSync(process.execPath, [path.join(root, 'scripts', 'bench', 'addon_bench.js'), ...args], { cwd: root, encoding: 'utf8', timeout: 60000 });
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    const x = JSON.parse(a.stdout);
    const y = JSON.parse(b.stdout);
    expect(y.params).toBe(x.params);
    expect(y.masked).toBe(x.masked);
    for (const k of ['loss', 'gen_loss', 'disc_loss']) expect(y[k]).toBeCloseTo(x[k], 3);
  });

  test('addon_bench.js: bad arguments exit 2, a device it cannot use exits 1 with the code', () => {
    const script = path.join(root, 'scripts', 'bench', 'addon_bench.js');
    const bad = spawnSync(process.execPath, [script, 'step', '--preset', 'huge'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^addon_bench step: --preset must be/m);
    expect(spawnSync(process.execPath, [script, 'frob'], { encoding: 'utf8' }).status).toBe(2);
    const info = JSON.parse(run(['info', '--json']).stdout) as { backend: string };
    if (info.backend !== 'cuda') {
      const r = spawnSync(process.execPath, [script, 'step', '--backend', 'cuda', '--preset', 'tiny', '--json'], { encoding: 'utf8' });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^addon_bench step: ERR_NO_DEVICE: /m);
      expect(runJs.nativeFailure('s', { error: 'e', status: 1, stderr: r.stderr }).code).toBe('ERR_NO_DEVICE');
    }
  });
});

// ---- peer_hf.py's two heads (when python3 has torch and transformers) ------

const torchPython = (() => {
  const python = process.env.ELECTRA_PYTHON || 'python3';
  const r = spawnSync(python, ['-c', 'import torch, transformers'], { encoding: 'utf8', timeout: 60000 });
  return r.status === 0 ? python : null;
})();

(torchPython ? test : test.skip)('peer_hf.py: --head masked computes the same losses as the stock head; --gemm reports a square fp32 matmul', () => {
  const args = [PEER, '--preset', 'tiny', '--batch', '2', '--seq', '16', '--threads', '1', '--steps', '1', '--warmup', '0'];
  const out = (head: string) => {
    const r = spawnSync(torchPython!, [...args, '--head', head], { encoding: 'utf8', timeout: 120000 });
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };
  const full = out('full');
  const masked = out('masked');
  expect(full.head).toBe('full');
  expect(masked.head).toBe('masked');
  expect(masked.masked).toBe(full.masked);
  for (const k of ['loss', 'gen_loss', 'disc_loss']) expect(masked[k] as number).toBeCloseTo(full[k] as number, 3);
  const g = spawnSync(torchPython!, [PEER, '--gemm', '--threads', '1'], { encoding: 'utf8', timeout: 120000 });
  expect(g.status).toBe(0);
  expect(JSON.parse(g.stdout)).toMatchObject({ mode: 'gemm', impl: 'pytorch', op: 'torch.matmul', dtype: 'fp32', M: 2048, N: 2048, K: 2048, threads: 1 });
}, 300000);
