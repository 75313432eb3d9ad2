'use strict';
/**
 * One pre-train-then-score unit of an experiment, shared by the experiment
 * scripts: a named run directory under `out`, trained for `steps` with the
 * given objective / config overrides (unless already done), then scored by
 * the evaluation suite (unless already scored).
 */
const fs = require('fs');
const path = require('path');
const { pretrain, score } = require('./runs');
const { suiteScore } = require('./score');
const { writeAtomic } = require('./report');

function fmtFlops(f) {
  return `${(f / 1e12).toPrecision(3)} TFLOP`;
}

/**
 * The pre-training run's own held-out metrics at its last evaluation
 * (eval.jsonl): generator accuracy, the discriminator's AUC and the share of
 * tokens replaced, which say how hard the generator made the task. null when
 * the run has no evaluation.
 */
function upstream(dir) {
  try {
    const lines = fs.readFileSync(path.join(dir, 'eval.jsonl'), 'utf8').trim().split('\n');
    const e = JSON.parse(lines[lines.length - 1]);
    return { step: e.step, genAccuracy: e.genAccuracy, discAuc: e.discAuc ?? null, replacedFraction: e.replacedFraction ?? null };
  } catch {
    return null;
  }
}

/**
 * opts: { out, preset, batch, seq, evalArgs: string[] }. Returns
 * run({ name, objective, steps, seed, lr, config, perStepFlops }) ->
 * { name, steps, flops, seed, lr, dev, test, upstream, ran } (ran: this call
 * pre-trained or scored it, rather than finding it complete).
 */
function makeRunner(opts) {
  fs.mkdirSync(opts.out, { recursive: true });
  return ({ name, objective = 'electra', steps, seed, lr, config, perStepFlops }) => {
    const dir = path.join(opts.out, name);
    const args = ['--preset', opts.preset, '--objective', objective, '--seed', String(seed), '--batch', String(opts.batch), '--seq', String(opts.seq), '--eval-batches', '2'];
    if (lr !== undefined) args.push('--lr', String(lr));
    if (config) {
      const file = path.join(opts.out, `${name}.config.json`);
      writeAtomic(file, JSON.stringify(config, null, 2) + '\n');
      args.push('--config', file);
    }
    const secs = pretrain(dir, steps, args);
    if (secs > 0) process.stderr.write(`  pre-trained ${name}: ${steps} steps, ${fmtFlops(steps * perStepFlops)}, ${secs.toFixed(0)} s\n`);
    const t0 = Date.now();
    const s = suiteScore(score(dir, [...opts.evalArgs, '--seed', String(seed)]));
    const ran = secs > 0 || Date.now() - t0 > 1000;
    return { name, objective, steps, flops: steps * perStepFlops, seed, lr, ...s, upstream: upstream(dir), ran };
  };
}

module.exports = { makeRunner, fmtFlops, upstream };
