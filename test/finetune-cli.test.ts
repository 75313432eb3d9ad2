// finetune -> evaluate -> predict -> export from the command line on a small
// committed GLUE-format TSV sample (test/data/sst2-sample), starting from a
// saved tiny pre-trained model with BERT's uncased vocabulary.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ClassifierModel, ElectraModel, electraConfig, WordPieceTokenizer } from '../lib';
import { runCli } from './run-cli';

const SAMPLE = path.join(__dirname, 'data', 'sst2-sample');
const CHECK = path.join(__dirname, '..', 'scripts', 'reference', 'check_finetune_export.py');
const probe = spawnSync('python3', ['-c', 'import torch, transformers, safetensors'], { encoding: 'utf8' });
const pythonReason = probe.error ? `python3 not runnable (${probe.error.message})` : probe.status !== 0 ? 'python3 lacks torch/transformers/safetensors' : '';
if (pythonReason) console.warn(`fine-tuning CLI export parity check skipped: ${pythonReason}`);

describe('finetune / evaluate / predict / export CLI', () => {
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-ft-cli-'));
    const pre = ElectraModel.create(electraConfig({ preset: 'tiny', maxPosition: 64 }), { seed: 1, device: 'cpu' });
    await pre.save(path.join(dir, 'pre'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('fine-tunes on a GLUE TSV, scores, predicts a submission file and exports an HF classifier', async () => {
    const run = path.join(dir, 'run');
    const ft = runCli(['finetune', '--model', path.join(dir, 'pre'), '--task', 'SST-2', '--train', path.join(SAMPLE, 'train.tsv'), '--dev', path.join(SAMPLE, 'dev.tsv'),
      '--out', run, '--epochs', '3', '--batch', '16', '--seq', '24', '--lr', '1e-3', '--device', 'cpu', '--json']);
    expect(ft.stderr).toMatch(/read 48 training rows .* 16 dev rows/);
    expect(ft.status).toBe(0);
    const lines = ft.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>);
    const result = lines.find((l) => l.result)!.result;
    expect(result.steps).toBe(9);
    const evals = lines.filter((l) => l.eval).map((l) => l.eval);
    expect(evals).toHaveLength(3);
    expect(result.best.metrics.accuracy).toBe(Math.max(...evals.map((e: any) => e.metrics.accuracy)));
    for (const f of ['metrics.jsonl', 'eval.jsonl', 'report.html', 'vocab.txt', 'task.json', 'checkpoints/LATEST', 'checkpoints/BEST', 'best/config.json', 'best/model.safetensors', 'best/vocab.txt']) {
      expect(fs.existsSync(path.join(run, f))).toBe(true);
    }
    expect(fs.readFileSync(path.join(run, 'metrics.jsonl'), 'utf8').trim().split('\n')).toHaveLength(9);
    expect(fs.readFileSync(path.join(run, 'report.html'), 'utf8')).toMatch(/Dev metrics \(sst2\)/);

    // evaluate: the best checkpoint's dev accuracy, as the run measured it.
    const ev = runCli(['evaluate', '--model', run, '--data', path.join(SAMPLE, 'dev.tsv'), '--device', 'cpu', '--json']);
    expect(ev.status).toBe(0);
    const scored = JSON.parse(ev.stdout);
    expect(scored.examples).toBe(16);
    expect(scored.metrics.accuracy).toBe(result.best.metrics.accuracy);
    const text = runCli(['evaluate', '--model', run, '--data', path.join(SAMPLE, 'dev.tsv'), '--device', 'cpu']);
    expect(text.stdout).toMatch(/accuracy\s+\d\.\d{4}/);

    // predict: GLUE submission TSV for the unlabelled test file, and JSONL.
    const sub = path.join(dir, 'SST-2.tsv');
    const pr = runCli(['predict', '--model', run, '--data', path.join(SAMPLE, 'test.tsv'), '--as', 'glue', '--out', sub, '--device', 'cpu']);
    expect(pr.status).toBe(0);
    const rows = fs.readFileSync(sub, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('index\tprediction');
    expect(rows.slice(1).map((r) => r.split('\t')[0])).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    for (const r of rows.slice(1)) expect(['0', '1']).toContain(r.split('\t')[1]);
    const js = runCli(['predict', '--model', run, '--data', path.join(SAMPLE, 'dev.tsv'), '--device', 'cpu']);
    const preds = js.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(preds).toHaveLength(16);
    const gold = fs.readFileSync(path.join(SAMPLE, 'dev.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t')[1]);
    const acc = preds.filter((p, i) => p.label === gold[i]).length / 16;
    expect(acc).toBe(scored.metrics.accuracy);

    // export: an HF directory whose logits equal ours.
    const hf = path.join(dir, 'hf');
    const ex = runCli(['export', run, '--out', hf]);
    expect(ex.status).toBe(0);
    expect(ex.stdout).toMatch(/ElectraForSequenceClassification/);
    const conf = JSON.parse(fs.readFileSync(path.join(hf, 'config.json'), 'utf8'));
    expect(conf.id2label).toEqual({ 0: '0', 1: '1' });
    expect(conf.finetuning_task).toBe('sst2');
    if (pythonReason) return;
    const model = await ClassifierModel.load(hf, { device: 'cpu' });
    const tok = WordPieceTokenizer.bertUncased();
    const S = 16;
    const enc = ['a wonderful film .', 'the plot is tedious'].map((t) => tok.encode(t, null, { maxLength: S, padding: 'max_length' }));
    const ids = enc.flatMap((e) => [...e.inputIds]);
    const mask = enc.flatMap((e) => [...e.attentionMask]);
    const ours = await model.logits({ inputIds: Int32Array.from(ids), tokenTypeIds: new Int32Array(2 * S), attentionMask: Int32Array.from(mask), rows: 2, seqLen: S });
    const req = { dir: hf, input_ids: [ids.slice(0, S), ids.slice(S)], token_type_ids: [new Array(S).fill(0), new Array(S).fill(0)], attention_mask: [mask.slice(0, S), mask.slice(S)], tokenizer: true };
    const r = spawnSync('python3', [CHECK], { input: JSON.stringify(req), encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(r.status).toBe(0);
    const theirs = JSON.parse(r.stdout) as { logits: number[]; class: string };
    expect(theirs.class).toBe('ElectraForSequenceClassification');
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - theirs.logits[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(theirs.logits[i])));
  }, 300_000);

  test('bad input: no model, an unknown task, a missing file', () => {
    expect(runCli(['finetune', '--task', 'sst2', '--train', path.join(SAMPLE, 'train.tsv')]).stderr).toMatch(/give --model/);
    const unk = runCli(['finetune', '--model', path.join(dir, 'pre'), '--task', 'nope', '--train', path.join(SAMPLE, 'train.tsv'), '--device', 'cpu']);
    expect(unk.status).not.toBe(0);
    const missing = runCli(['evaluate', '--model', path.join(dir, 'pre'), '--data', path.join(SAMPLE, 'dev.tsv')]);
    expect(missing.stderr).toMatch(/not a fine-tuned model/);
  });
});
