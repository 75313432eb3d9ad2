import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');

describe('electra-native train', () => {
  test('trains, writes metrics and a checkpoint, and resumes from it', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-run-'));
    try {
      const r = spawnSync(process.execPath, [BIN, 'train', '--corpus', 'toy', '--steps', '6', '--batch', '4', '--seq', '32', '--out', out, '--log-every', '3'], { encoding: 'utf8' });
      expect(r.stderr).toMatch(/done at step 6/);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/step 6\/6 +loss \d/);
      const lines = fs.readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(fs.readdirSync(path.join(out, 'checkpoint')).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer.json']);
      const r2 = spawnSync(process.execPath, [BIN, 'train', '--corpus', 'toy', '--resume', path.join(out, 'checkpoint'), '--steps', '8', '--batch', '4', '--seq', '32', '--out', out], { encoding: 'utf8' });
      expect(r2.status).toBe(0);
      expect(r2.stderr).toMatch(/2 steps of 4x32 on the cpu/);
      expect(JSON.parse(fs.readFileSync(path.join(out, 'checkpoint', 'trainer.json'), 'utf8')).step).toBe(8);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('impossible values and unknown options fail with a message, not a crash', () => {
    const bad = spawnSync(process.execPath, [BIN, 'train', '--corpus', 'toy', '--steps', '2', '--batch', '0', '--out', os.tmpdir()], { encoding: 'utf8' });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/ERR_INVALID_ARGUMENT: batchSize must be an integer >= 1/);
    const unknown = spawnSync(process.execPath, [BIN, 'train', '--no-such-option'], { encoding: 'utf8' });
    expect(unknown.status).not.toBe(0);
    expect(unknown.stderr).toMatch(/Unknown argument/i);
  });

  test('--corpus FILE builds a dataset in the run directory (reused on the next run); --dataset DIR trains on a built one', () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-run-'));
    try {
      const text = path.join(out, 'corpus.txt');
      const doc = 'The quick brown fox jumps over the lazy dog.\nA second sentence follows the first one here.\nAnd then a third one ends the document.\n';
      fs.writeFileSync(text, Array.from({ length: 40 }, () => doc).join('\n'));
      const args = ['train', '--corpus', text, '--batch', '2', '--seq', '16', '--out', out];
      const r = spawnSync(process.execPath, [BIN, ...args, '--steps', '2'], { encoding: 'utf8' });
      expect(r.stderr).toMatch(/built \([\d.]+ s\) the dataset .*datasets\/corpus-[0-9a-f]{16}/);
      expect(r.stderr).toMatch(/BERT uncased WordPiece vocab 30522/);
      expect(r.status).toBe(0);
      const info = JSON.parse(fs.readFileSync(path.join(out, 'data.json'), 'utf8'));
      expect(info.source).toBe('corpus');
      expect(info.seqLen).toBe(16);
      expect(fs.readFileSync(path.join(out, 'vocab.txt'), 'utf8').split('\n')).toHaveLength(30523);
      const again = spawnSync(process.execPath, [BIN, ...args, '--resume', path.join(out, 'checkpoint'), '--steps', '3'], { encoding: 'utf8' });
      expect(again.stderr).toMatch(/reusing the dataset/);
      expect(again.status).toBe(0);
      expect(again.stderr).toMatch(/done at step 3/);
      // The built dataset directly; a --seq that does not match it is refused.
      const ds = info.dataset as string;
      const d = spawnSync(process.execPath, [BIN, 'train', '--dataset', ds, '--steps', '1', '--batch', '2', '--seq', '16', '--out', path.join(out, 'b')], { encoding: 'utf8' });
      expect(d.stderr).toMatch(/done at step 1/);
      expect(d.status).toBe(0);
      const wrongSeq = spawnSync(process.execPath, [BIN, 'train', '--dataset', ds, '--steps', '1', '--seq', '32', '--out', path.join(out, 'c')], { encoding: 'utf8' });
      expect(wrongSeq.status).not.toBe(0);
      expect(wrongSeq.stderr).toMatch(/ERR_INVALID_ARGUMENT: the dataset .* has 16-token examples; pass --seq 16/);
      // Another vocabulary than the dataset's is refused.
      const vocab = path.join(out, 'small-vocab.txt');
      fs.writeFileSync(vocab, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'the', 'a'].join('\n') + '\n');
      const wrongVocab = spawnSync(process.execPath, [BIN, 'train', '--dataset', ds, '--vocab', vocab, '--steps', '1', '--seq', '16', '--out', path.join(out, 'c')], { encoding: 'utf8' });
      expect(wrongVocab.status).not.toBe(0);
      expect(wrongVocab.stderr).toMatch(/ERR_INVALID_ARGUMENT: the dataset .* was built with another vocabulary/);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });

  test('data option errors: missing corpus, toy mixed with paths or --vocab, --corpus with --dataset', () => {
    const run = (...a: string[]) => spawnSync(process.execPath, [BIN, 'train', '--steps', '1', '--out', path.join(os.tmpdir(), 'electra-never'), ...a], { encoding: 'utf8' });
    const missing = run('--corpus', path.join(os.tmpdir(), 'no-such-corpus.txt'));
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/ERR_IO: .*no-such-corpus\.txt/);
    expect(run('--corpus', 'toy', 'x.txt').stderr).toMatch(/--corpus toy cannot be combined/);
    expect(run('--corpus', 'toy', '--vocab', 'v.txt').stderr).toMatch(/--corpus toy has its own word-level vocabulary/);
    expect(run('--corpus', 'toy', '--dataset', 'd').stderr).toMatch(/mutually exclusive/);
    fs.rmSync(path.join(os.tmpdir(), 'electra-never'), { recursive: true, force: true });
  });
});
