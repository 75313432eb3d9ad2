import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { electraConfig, ElectraModel } from '../lib';
import { WordPieceTokenizer } from '../lib/data/tokenizer';
import { BROWN_SPECS, loadBrownTask } from '../lib/finetune/data';
import { EvalSuiteResult, formatEvalSuiteTable, runEvalSuite } from '../lib/finetune/eval-suite';
import { runCli } from './run-cli';

// A small random "pre-trained" model with BERT's vocabulary (the eval suite's tokenizer).
let dir: string;
let src: string;
beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'eval-suite-'));
  src = path.join(dir, 'pretrained');
  const cfg = electraConfig({ preset: 'tiny', discriminator: { hidden: 32, layers: 1, heads: 2, intermediate: 64 }, embeddingSize: 16, maxPosition: 64 });
  await ElectraModel.create(cfg, { seed: 1, device: 'cpu' }).save(src);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('runEvalSuite', () => {
  test('fine-tunes both Brown tasks, keeps the best dev checkpoint and scores the whole test split', async () => {
    const steps: string[] = [];
    const r = await runEvalSuite({
      model: src,
      tokenizer: WordPieceTokenizer.bertUncased(),
      seqLen: 32,
      epochs: 2,
      trainLimit: 64,
      devLimit: 16,
      device: 'cpu',
      hyper: { batchSize: 16 },
      onStep: (task, m) => steps.push(`${task}:${m.step}`),
    });
    expect(r.aborted).toBe(false);
    expect(r.tasks.map((t) => t.task)).toEqual(['brown-pos', 'brown-genre']);
    for (const t of r.tasks) {
      const spec = BROWN_SPECS[t.task];
      expect(t.metrics).toEqual(spec.metrics);
      expect(Object.keys(t.test)).toEqual(spec.metrics);
      expect(Object.keys(t.dev)).toEqual(spec.metrics);
      for (const v of [...Object.values(t.test), ...Object.values(t.dev)]) expect(v >= 0 && v <= 1).toBe(true);
      expect([t.examples.train, t.examples.dev, t.examples.test]).toEqual([64, 16, loadBrownTask(t.task, 'test').rows]);
      // Dev and test are encoded at 128 tokens, capped by the model's 64 positions.
      expect([t.epochs, t.steps, t.seqLen, t.evalSeqLen]).toEqual([2, 8, 32, 64]);
      expect(t.bestEpoch === 1 || t.bestEpoch === 2).toBe(true);
    }
    expect(steps.length).toBe(16);
    // At 64 tokens some test words are cut off; they are counted (and scored as wrong).
    expect(r.tasks[0].droppedTestWords).toBeGreaterThan(0);
    const table = formatEvalSuiteTable(r);
    expect(table.split('\n')[0]).toMatch(/^task\s+metric\s+dev\s+test/);
    expect(table).toContain('token_accuracy');
    expect(table).toContain('macro_f1');
  }, 300000);
});

describe('eval-suite CLI', () => {
  test('--json with --random-init on one task; bad options are refused', () => {
    const r = runCli(['eval-suite', src, '--random-init', '--tasks', 'brown-genre', '--seq', '32', '--epochs', '1', '--train-limit', '32', '--dev-limit', '16', '--device', 'cpu', '--json']);
    expect(r.stderr).toMatch(/brown-genre: 32 training examples of 32 tokens, 16 dev and 939 test examples of 64; 1 steps \(random init\)/);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as EvalSuiteResult;
    expect(out.randomInit).toBe(true);
    expect(out.tasks.map((t) => t.task)).toEqual(['brown-genre']);
    expect(Object.keys(out.tasks[0].test)).toEqual(['accuracy', 'macro_f1']);
    const bad = runCli(['eval-suite', src, '--epochs', '0']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/--epochs must be an integer >= 1/);
    const missing = runCli(['eval-suite', path.join(dir, 'nope')]);
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toMatch(/no such file or directory/);
  }, 120000);
});
