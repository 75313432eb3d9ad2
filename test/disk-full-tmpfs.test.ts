// A real full disk (reliability issue, case 4), next to the injected ENOSPC
// cases in reliability-cli.test.ts: a 32 MiB tmpfs mounted in a private mount
// namespace, so the kernel itself refuses the writes, native and JS alike,
// including the partial writes an injection cannot imitate. Runs wherever
// unprivileged user namespaces are allowed (or as root); skips, saying why,
// where they are not.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.join(__dirname, 'fixtures', 'tmpfs-disk-full.sh');
const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');

function namespaceProbe(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpfs-probe-'));
  const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'mount', '-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { encoding: 'utf8' });
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.error) return `unshare is not available (${r.error.message})`;
  return r.status === 0 ? null : `this machine does not allow a private tmpfs mount (${(r.stderr || '').trim()})`;
}

const why = namespaceProbe();
if (why) console.warn(`disk-full-tmpfs: skipped: ${why}`);
const maybe = why ? describe.skip : describe;

/** Runs the scenario with `leaveKb` kilobytes left free; returns its name=value lines. */
function scenario(leaveKb: number): Record<string, string> {
  const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpfs-run-'));
  const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'tmpfs-logs-'));
  try {
    const r = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'bash', SCRIPT, mnt, logs, process.execPath, BIN, String(leaveKb)], {
      encoding: 'utf8',
      timeout: 180_000,
    });
    expect(r.status).toBe(0);
    const out: Record<string, string> = {};
    for (const line of r.stdout.split('\n')) {
      const i = line.indexOf('=');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
    }
    return out;
  } finally {
    fs.rmSync(mnt, { recursive: true, force: true });
    fs.rmSync(logs, { recursive: true, force: true });
  }
}

maybe('a real full disk (tmpfs): one clean error, nothing lost, the run resumes once space is freed', () => {
  test.each([
    // Not a byte free: the first write of the resumed run (the run lock) fails.
    [0, /ERR_IO: cannot write .*run\.lock.*: the disk is full \(ENOSPC\)/],
    // Room for the metrics line but not for the checkpoint.
    [64, /ERR_IO: cannot write .*step-000003\/\w+\.safetensors: the disk is full \(ENOSPC\)/],
  ])('%i KiB left free', (leaveKb, message) => {
    const o = scenario(leaveKb as number);
    expect(o.mount).toBe('ok');
    expect(o.first_rc).toBe('0');
    expect(o.latest_before).toBe('step-000002');
    expect(Number(o.free_kb)).toBeLessThanOrEqual((leaveKb as number) + 4);
    expect(o.full_rc).toBe('1');
    const err = o.full_err.split('|');
    expect(err.filter((l) => /ERR_/.test(l))).toHaveLength(1);
    expect(o.full_err).toMatch(message as RegExp);
    expect(o.full_err).not.toMatch(/\bat .*:\d+:\d+|Unhandled|uncaught/i);
    // LATEST still names the last sound checkpoint; metrics.jsonl was not truncated.
    expect(o.latest_after).toBe('step-000002');
    expect(Number(o.metrics_bytes_after)).toBeGreaterThanOrEqual(Number(o.metrics_bytes_before));
    expect(o.temporaries ?? '').toBe('');
    expect(o.checkpoints_after.split(' ')).toEqual(['LATEST', 'step-000001', 'step-000002']);
    expect(o.resume_rc).toBe('0');
    expect(o.resume_err).toMatch(/from .*step-000002 \(step 2\)/);
    expect(o.resume_err).toMatch(/done at step 4/);
    expect(o.latest_final).toBe('step-000004');
  }, 200_000);
});
