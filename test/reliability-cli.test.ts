// Reliability of the CLI, as a user meets it: each numbered case of the
// reliability issue, reproduced with a tiny toy run (--corpus toy --batch 4
// --seq 32). Disk-full cases inject ENOSPC into writes with a preloaded module
// (test/fixtures/fail-writes.js), so they run anywhere without a small disk.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');
const FAIL_WRITES = path.join(__dirname, 'fixtures', 'fail-writes.js');
const TINY = ['--corpus', 'toy', '--batch', '4', '--seq', '32', '--eval-batches', '0', '--checkpoint-minutes', '0'];

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120000 });
}
/** A CLI run whose writes to files matching `pattern` fail with ENOSPC after `after` successful ones. */
function cliDiskFull(args: string[], pattern: string, after = 0) {
  return cli(args, { NODE_OPTIONS: `--require ${FAIL_WRITES}`, ELECTRA_TEST_FAIL_WRITES: pattern, ELECTRA_TEST_FAIL_AFTER: String(after) });
}
const latestName = (run: string) => fs.readFileSync(path.join(run, 'checkpoints', 'LATEST'), 'utf8').trim();
/** One clean line of error: the code and message, no stack trace, no unhandled 'error' event. */
function expectCleanFailure(r: ReturnType<typeof cli>, message: RegExp) {
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
  expect(r.stderr).not.toMatch(/Unhandled|uncaught/i);
}
/** Every file under `dir` with its size and mtime, to prove nothing was written. */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = fs.statSync(p);
        out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out.sort();
}

let run: string;
let scratch: string;
beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-relcli-'));
  run = path.join(scratch, 'run');
  const r = cli(['train', ...TINY, '--steps', '2', '--checkpoint-every', '1', '--out', run]);
  expect(r.stderr).toMatch(/done at step 2/);
  expect(r.status).toBe(0);
});
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A fresh copy of the 2-step run, for a test that changes it. */
function copyRun(name: string): string {
  const dst = path.join(scratch, name);
  fs.cpSync(run, dst, { recursive: true });
  return dst;
}

describe('case 1: non-finite or exploded weights never become LATEST', () => {
  test('--lr 3e38 --checkpoint-every 1 stops with ERR_DIVERGED naming the step; LATEST stays sound and resumable', () => {
    const r0 = copyRun('diverge');
    const r = cli(['train', ...TINY, '--resume', r0, '--steps', '6', '--lr', '3e38', '--override', '--checkpoint-every', '1']);
    expectCleanFailure(r, /ERR_DIVERGED: (not saving the checkpoint of step 3: weight .* is|non-finite loss or gradient norm at step 3 \(1-based\))/);
    expect(latestName(r0)).toBe('step-000002');
    expect(fs.readdirSync(path.join(r0, 'checkpoints')).filter((n) => n.startsWith('step-'))).toEqual(['step-000001', 'step-000002']);
    const again = cli(['train', ...TINY, '--resume', r0, '--steps', '3', '--lr', '2e-3', '--override']);
    expect(again.stderr).toMatch(/done at step 3/);
  });
});

describe('case 2: one writer per run directory', () => {
  test('a second train on a running run gets ERR_BUSY naming the holder and writes nothing', async () => {
    const r0 = copyRun('locked');
    const first = spawn(process.execPath, [BIN, 'train', ...TINY, '--resume', r0, '--steps', '1000000', '--checkpoint-every', '100000'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let firstErr = '';
    first.stderr.on('data', (d) => (firstErr += String(d)));
    const lock = path.join(r0, 'run.lock');
    for (let i = 0; i < 600 && !fs.existsSync(lock); i++) await new Promise((r) => setTimeout(r, 50));
    expect(fs.existsSync(lock)).toBe(true);
    const holder = JSON.parse(fs.readFileSync(lock, 'utf8'));
    expect(holder.pid).toBe(first.pid);
    const metricsBefore = fs.readFileSync(path.join(r0, 'metrics.jsonl'), 'utf8');
    const second = cli(['train', ...TINY, '--resume', r0, '--steps', '1000000', '--keep', '1']);
    expectCleanFailure(second, new RegExp(`ERR_BUSY: the run directory .*locked is in use by pid ${first.pid} on ${os.hostname()}.*Nothing was written`));
    first.kill('SIGINT');
    const code = await new Promise<number | null>((r) => first.on('exit', r));
    expect(firstErr).toMatch(/stopped at step/);
    expect(code).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
    // Only the first run's lines were appended.
    const lines = fs.readFileSync(path.join(r0, 'metrics.jsonl'), 'utf8').slice(metricsBefore.length).trim().split('\n').map((l) => JSON.parse(l).step as number);
    expect(lines).toEqual(lines.map((_, i) => 3 + i));
  });

  test('a lock left by a dead process is taken over, saying so', () => {
    const r0 = copyRun('stale');
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    fs.writeFileSync(path.join(r0, 'run.lock'), JSON.stringify({ pid: dead, host: os.hostname(), since: 'then', command: 'train' }));
    const r = cli(['train', ...TINY, '--resume', r0, '--steps', '3']);
    expect(r.stderr).toMatch(new RegExp(`removing the stale lock of pid ${dead}`));
    expect(r.status).toBe(0);
  });

  test('a lock held by a live process: nothing in the run changes', () => {
    const r0 = copyRun('held');
    fs.writeFileSync(path.join(r0, 'run.lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), since: 'now', command: 'jest' }));
    const before = snapshot(r0);
    expectCleanFailure(cli(['train', ...TINY, '--resume', r0, '--steps', '4']), new RegExp(`ERR_BUSY: .*in use by pid ${process.pid}`));
    expect(snapshot(r0)).toEqual(before);
  });
});

describe('case 4: a full disk is one clear error and a clean exit; nothing written before is lost', () => {
  test('metrics.jsonl: ERR_IO naming it, and its earlier lines intact', () => {
    const r0 = copyRun('full-metrics');
    const before = fs.readFileSync(path.join(r0, 'metrics.jsonl'), 'utf8');
    const r = cliDiskFull(['train', ...TINY, '--resume', r0, '--steps', '5'], 'metrics\\.jsonl$', 1);
    expectCleanFailure(r, /ERR_IO: cannot write .*metrics\.jsonl: the disk is full \(ENOSPC\)/);
    const after = fs.readFileSync(path.join(r0, 'metrics.jsonl'), 'utf8');
    expect(after.startsWith(before)).toBe(true);
    expect(after.slice(before.length).trim().split('\n').map((l) => JSON.parse(l).step)).toEqual([3]);
  });

  test.each([
    ['a checkpoint file', 'optimizer\\.safetensors', /ERR_IO: cannot write .*optimizer\.safetensors: the disk is full \(ENOSPC\); the previous optimizer\.safetensors \(if any\) is intact/],
    ['LATEST', 'checkpoints/\\.LATEST\\.', /ERR_IO: cannot write .*LATEST: the disk is full/],
    ['the report', 'report\\.html', /ERR_IO: cannot write .*report\.html: the disk is full/],
  ])('%s: ERR_IO, LATEST still names a checkpoint that loads, no temporary left behind', (_what, pattern, message) => {
    const r0 = copyRun(`full-${pattern.replace(/\W/g, '')}`);
    const r = cliDiskFull(['train', ...TINY, '--resume', r0, '--steps', '3'], pattern);
    expectCleanFailure(r, message);
    const latest = latestName(r0);
    expect(['step-000002', 'step-000003']).toContain(latest);
    expect(snapshot(r0).filter((f) => f.includes('.tmp'))).toEqual([]);
    const resumed = cli(['train', ...TINY, '--resume', r0, '--steps', '4']);
    expect(resumed.stderr).toMatch(/done at step 4/);
  });

  test('eval.jsonl: ERR_IO naming it', () => {
    const r0 = path.join(scratch, 'full-eval');
    const r = cliDiskFull(['train', '--corpus', 'toy', '--batch', '4', '--seq', '32', '--steps', '2', '--eval-batches', '1', '--out', r0], 'eval\\.jsonl$');
    expectCleanFailure(r, /ERR_IO: cannot write .*eval\.jsonl: the disk is full \(ENOSPC\)/);
  });

  test('a dataset build: ERR_IO, no partial dataset left; the next build succeeds', () => {
    const corpus = path.join(scratch, 'corpus.txt');
    fs.writeFileSync(corpus, Array.from({ length: 200 }, (_, i) => `sentence number ${i} is here .\nand another one follows it .\n`).join('\n'));
    const vocab = path.join(scratch, 'ds-vocab.txt');
    fs.writeFileSync(vocab, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'sentence', 'number', 'is', 'here', '.', 'and', 'another', 'one', 'follows', 'it', ...'0123456789'].join('\n') + '\n');
    const out = path.join(scratch, 'ds');
    const r = cliDiskFull(['build-dataset', corpus, '--vocab', vocab, '--out', out, '--seq', '32'], 'task-\\d+\\.bin$');
    expectCleanFailure(r, /ERR_IO: cannot write .*task-\d+\.bin: the disk is full \(ENOSPC\)/);
    expect(fs.existsSync(out) ? fs.readdirSync(out).filter((n) => n !== '.' && !n.startsWith('.')) : []).toEqual([]);
    const ok = cli(['build-dataset', corpus, '--vocab', vocab, '--out', out, '--seq', '32']);
    expect(ok.status).toBe(0);
  });

  test('temporaries of an interrupted write are removed on the next start', () => {
    const r0 = copyRun('leftovers');
    const junk = path.join(r0, 'checkpoints', '.LATEST.4242.1700000000000.tmp');
    fs.writeFileSync(junk, 'step-000009\n');
    const r = cli(['train', ...TINY, '--resume', r0, '--steps', '3']);
    expect(r.stderr).toContain(`removed ${junk}, left by an interrupted write`);
    expect(fs.existsSync(junk)).toBe(false);
    expect(r.status).toBe(0);
  });
});

describe('case 5: bit rot is caught, and resume falls back to the newest checkpoint that verifies', () => {
  test('a flipped exponent bit in LATEST\'s weights: resume says so and continues from the step before', () => {
    const r0 = copyRun('rot');
    const f = path.join(r0, 'checkpoints', 'step-000002', 'model.safetensors');
    const b = fs.readFileSync(f);
    b[b.length - 2] ^= 0x40;
    fs.writeFileSync(f, b);
    const r = cli(['train', ...TINY, '--resume', r0, '--steps', '3']);
    expect(r.stderr).toMatch(/cannot resume from .*step-000002: .*model\.safetensors: checksum mismatch/);
    expect(r.stderr).toMatch(/falling back to .*step-000001, the next newest checkpoint/);
    expect(r.stderr).toMatch(/from .*step-000001 \(step 1\)/);
    expect(r.stderr).toMatch(/done at step 3/);
    const det = cli(['detect', '--model', path.join(r0, 'checkpoints', 'step-000002'), 'the cat']);
    expectCleanFailure(det, /ERR_CORRUPT_FILE: .*model\.safetensors: checksum mismatch/);
  });
});

describe('case 6: strict inputs, memory planning', () => {
  test('a repeated scalar flag is an error', () => {
    expectCleanFailure(cli(['train', ...TINY, '--steps', '1', '--seq', '1', '--out', path.join(scratch, 'rep')]), /--seq given more than once; give each option once/);
    expect(fs.existsSync(path.join(scratch, 'rep'))).toBe(false);
  });

  test('a misspelt --config key is an error with a suggestion', () => {
    const c = path.join(scratch, 'cfg.json');
    fs.writeFileSync(c, JSON.stringify({ discriminator: { layers: 1, hiden: 32 } }));
    expectCleanFailure(cli(['train', ...TINY, '--steps', '1', '--config', c, '--out', path.join(scratch, 'cfg')]), /ERR_INVALID_ARGUMENT: unknown config key 'hiden' in discriminator \(.*cfg\.json\); did you mean 'hidden'\?/);
  });

  test('a vocabulary shorter than the model is an error in detect and export', () => {
    const short = path.join(scratch, 'short-vocab.txt');
    const lines = fs.readFileSync(path.join(run, 'vocab.txt'), 'utf8').trim().split('\n');
    fs.writeFileSync(short, lines.slice(0, -3).join('\n') + '\n');
    const msg = new RegExp(`ERR_INVALID_ARGUMENT: the vocabulary \\(.*short-vocab\\.txt\\) has ${lines.length - 3} tokens, but the model's embedding table has ${lines.length} rows`);
    expectCleanFailure(cli(['detect', '--model', run, '--vocab', short, 'the cat']), msg);
    expectCleanFailure(cli(['export', run, '--vocab', short, '--out', path.join(scratch, 'hf')]), msg);
  });

  test('--batch 100000 is ERR_OUT_OF_MEMORY with the numbers and a suggestion, not a kill', () => {
    const r = cli(['train', '--corpus', 'toy', '--seq', '32', '--batch', '100000', '--steps', '1', '--out', path.join(scratch, 'oom')]);
    expectCleanFailure(r, /ERR_OUT_OF_MEMORY: a 100000 x 32 micro-batch needs [\d.]+ GiB more .* but only [\d.]+ GiB is available on this machine \(free memory\)\. Use a smaller batch, e\.g\. --batch \d+ --grad-accum \d+/);
  });

  test('info and the train start line print the memory estimate', () => {
    const info = cli(['info', '--preset', 'tiny', '--batch', '8', '--seq', '64']);
    expect(info.status).toBe(0);
    expect(info.stdout).toMatch(/memory plan +tiny, 8 x 64, vocab 30522: [\d.]+ MiB \(weights [\d.]+ MiB, gradients \+ AdamW [\d.]+ MiB, activations [\d.]+ MiB, workspace [\d.]+ (KiB|MiB)\); free on this machine/);
    const t = cli(['train', ...TINY, '--steps', '1', '--out', path.join(scratch, 'plan')]);
    expect(t.stderr).toMatch(/electra-native: memory plan [\d.]+ MiB \(weights/);
  });
});
