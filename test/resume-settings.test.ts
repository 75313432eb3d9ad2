/**
 * `train --resume` restores the run's recipe and data (issue 16, case 3): a
 * run made with --seq 32 / --batch 4 / --warmup 2 resumes with the printed
 * command alone, keeps its batch, sequence length, warm-up and data, refuses
 * a recipe flag unless --override, and logs an override.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');

function cli(args: string[]) {
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 180000 });
}

function trainingLine(stderr: string): string {
  return stderr.split('\n').find((l) => l.trim().startsWith('training:')) ?? '';
}

describe('train --resume restores the run', () => {
  let dir: string;
  let corpus: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resume-settings-'));
    corpus = path.join(dir, 'text.txt');
    const lines: string[] = [];
    for (let d = 0; d < 40; d++) {
      for (let s = 0; s < 6; s++) lines.push(`the ${['cat', 'dog', 'bird'][(d + s) % 3]} sat on the ${['mat', 'log', 'hill'][(d * s) % 3]} in document ${d} sentence ${s}.`);
      lines.push('');
    }
    fs.writeFileSync(corpus, lines.join('\n'));
  });

  test('the printed resume command works for a --seq 32 run on a user corpus, with its batch, warm-up and schedule kept', () => {
    const run = path.join(dir, 'run');
    const first = cli(['train', '--corpus', corpus, '--seq', '32', '--batch', '4', '--warmup', '2', '--steps', '4', '--lr', '1e-3', '--eval-batches', '0', '--out', run]);
    expect(first.status).toBe(0);
    const printed = /resume\s+electra-native (train --resume \S+ --steps \d+)/.exec(first.stdout + first.stderr);
    expect(printed).not.toBeNull();
    const before = trainingLine(first.stderr);
    expect(before).toContain('4 sequences x 32 tokens');
    expect(before).toContain('warm-up 2');
    const args = printed![1].split(' ').map((a, i, all) => (all[i - 1] === '--steps' ? '6' : a));
    const second = cli([...args, '--eval-batches', '0']);
    expect(second.status).toBe(0);
    const after = trainingLine(second.stderr);
    expect(after).toBe(before.replace('4 steps', '6 steps'));
    expect(second.stderr).toContain('(step 4)');
    expect(fs.readFileSync(path.join(run, 'checkpoints', 'LATEST'), 'utf8').trim()).toBe('step-000006');
    const data = JSON.parse(fs.readFileSync(path.join(run, 'data.json'), 'utf8'));
    expect(data.inputs).toEqual([corpus]);
  });

  test('a recipe flag with --resume is refused (nothing written), and --override applies it and logs it', () => {
    const run = path.join(dir, 'toy');
    expect(cli(['train', '--corpus', 'toy', '--seq', '32', '--batch', '4', '--steps', '3', '--warmup', '1', '--eval-batches', '0', '--out', run]).status).toBe(0);
    const files = fs.readdirSync(run).sort();
    const refused = cli(['train', '--resume', run, '--steps', '5', '--batch', '8']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('ERR_INVALID_ARGUMENT');
    expect(refused.stderr).toContain('--batch would change them');
    expect(refused.stderr).toContain('--override');
    expect(fs.readdirSync(run).sort()).toEqual(files);
    expect(fs.readFileSync(path.join(run, 'checkpoints', 'LATEST'), 'utf8').trim()).toBe('step-000003');

    const over = cli(['train', '--resume', run, '--steps', '5', '--lr', '5e-4', '--override', '--eval-batches', '0']);
    expect(over.status).toBe(0);
    expect(trainingLine(over.stderr)).toContain('lr 0.0005');
    expect(trainingLine(over.stderr)).toContain('4 sequences x 32 tokens');
    const log = fs.readFileSync(path.join(run, 'overrides.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(log).toHaveLength(1);
    expect(log[0].flags).toEqual(['--lr']);
    expect(JSON.parse(fs.readFileSync(path.join(run, 'recipe.json'), 'utf8')).training.lr).toBe(5e-4);
  });

  test('--override without --resume is an error', () => {
    const r = cli(['train', '--corpus', 'toy', '--steps', '1', '--override', '--out', path.join(dir, 'x')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('--override only applies with --resume');
  });
});
