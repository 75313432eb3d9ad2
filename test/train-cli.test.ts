import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');

describe('electra-native train', () => {
  test('trains, writes metrics and a checkpoint, and resumes from it', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-run-'));
    try {
      const r = spawnSync(process.execPath, [BIN, 'train', '--steps', '6', '--batch', '4', '--seq', '32', '--out', out, '--log-every', '3'], { encoding: 'utf8' });
      expect(r.stderr).toMatch(/done at step 6/);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/step 6\/6 +loss \d/);
      const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(fs.readdirSync(path.join(out, 'checkpoint')).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer.json']);
      const r2 = spawnSync(process.execPath, [BIN, 'train', '--resume', path.join(out, 'checkpoint'), '--steps', '8', '--batch', '4', '--seq', '32', '--out', out], { encoding: 'utf8' });
      expect(r2.status).toBe(0);
      expect(r2.stderr).toMatch(/2 steps on the cpu/);
      expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'trainer.json'), 'utf8')).step).toBe(8);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('impossible values and unknown options fail with a message, not a crash', () => {
    const bad = spawnSync(process.execPath, [BIN, 'train', '--steps', '2', '--batch', '0', '--out', os.tmpdir()], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ERR_INVALID_ARGUMENT: batchSize must be an integer >= 1/);
    const unknown = spawnSync(process.execPath, [BIN, 'train', '--no-such-option'], { encoding: 'utf8' });
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/Unknown argument/i);
  });
});
