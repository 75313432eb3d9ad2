#!/usr/bin/env node
/**
 * Checks a finished default run (`electra-native train` with no arguments)
 * against issue 12's targets, on held-out data:
 *   - the discriminator's ROC-AUC for "replaced" (over the tokens that could
 *     be replaced) is at least 0.75;
 *   - its loss over those tokens is at least 5% below the constant predictor's.
 * It reads the run's last held-out evaluation (eval.jsonl); nothing is
 * trained or evaluated again.
 *
 * usage: node scripts/default-run/check.js RUN_DIR [--seconds S]
 * (S: the run's wall time, printed in minutes; a run over 10 minutes is
 * reported, not failed, since CI machines are shared.) Exit code 1 when a
 * target is missed.
 */
'use strict';
const fs = require('fs');
const path = require('path');

const TARGET = { auc: 0.75, belowConstant: 0.05, minutes: 10 };

function lastEval(run) {
  const file = path.join(run, 'eval.jsonl');
  if (!fs.existsSync(file)) throw new Error(`${file}: no held-out evaluations (was this a default run?)`);
  const rows = fs.readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  return rows[rows.length - 1];
}

function main() {
  const args = process.argv.slice(2);
  const run = args[0];
  if (!run) throw new Error('usage: check.js RUN_DIR [--seconds S]');
  const si = args.indexOf('--seconds');
  const seconds = si >= 0 ? Number(args[si + 1]) : NaN;
  const e = lastEval(run);
  const below = 1 - e.discCandidateLoss / e.discBaselineLoss;
  const recipe = JSON.parse(fs.readFileSync(path.join(run, 'recipe.json'), 'utf8'));
  const fmt = (x, d = 3) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  const lines = [
    ['step', String(e.step)],
    ['wall time', Number.isFinite(seconds) ? `${(seconds / 60).toFixed(1)} min (target <= ${TARGET.minutes})` : 'not given'],
    [`held-out AUC (generator samples at T=${recipe.training.temperature})`, `${fmt(e.discAuc)} (target >= ${TARGET.auc})`],
    ['held-out loss vs constant', `${fmt(e.discCandidateLoss, 4)} vs ${fmt(e.discBaselineLoss, 4)}: ${(100 * below).toFixed(1)}% below (target >= ${100 * TARGET.belowConstant}%)`],
    ['held-out generator accuracy', `${(100 * e.genAccuracy).toFixed(1)}%`],
  ];
  for (const [k, v] of lines) console.log(`  ${k.padEnd(44)} ${v}`);
  const fails = [];
  if (!(e.discAuc >= TARGET.auc)) fails.push(`AUC ${fmt(e.discAuc)} < ${TARGET.auc}`);
  if (!(below >= TARGET.belowConstant)) fails.push(`loss only ${(100 * below).toFixed(1)}% below the constant predictor`);
  if (Number.isFinite(seconds) && seconds > TARGET.minutes * 60) console.log(`  note: the run took longer than ${TARGET.minutes} minutes on this machine`);
  if (fails.length) {
    console.log(`default run: FAILED (${fails.join('; ')})`);
    process.exitCode = 1;
  } else {
    console.log('default run: targets met');
  }
}

try {
  main();
} catch (err) {
  console.error(`check.js: ${err.message}`);
  process.exitCode = 1;
}
