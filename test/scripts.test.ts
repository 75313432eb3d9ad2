/**
 * The scripts that run where Node is absent (a GPU machine: scripts/gpu-check.sh
 * and the PyTorch peer) or outside jest (the emulator suite) are at least
 * well-formed here, since this machine cannot run them for real.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import { root } from './run-cli';

test.each(['scripts/gpu-check.sh', 'scripts/cuda-emu-test.sh'])('%s parses (bash -n)', (script) => {
  const r = spawnSync('bash', ['-n', path.join(root, script)], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' }).status === 0;
if (!python) console.warn('scripts.test: python3 not found, so the peer and emulator scripts are not compiled');
(python ? test : test.skip).each(['scripts/bench/peer_hf.py', 'native/tests/emu/rewrite.py'])('%s compiles (py_compile)', (script) => {
  const r = spawnSync('python3', ['-m', 'py_compile', path.join(root, script)], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});
