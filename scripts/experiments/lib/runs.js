'use strict';
/**
 * Runs of an experiment: each pre-training or scoring run is a normal
 * `electra-native` run directory, done by the CLI, and skipped when already
 * complete, so an interrupted experiment resumes where it stopped (a
 * pre-training run cut short continues from its newest checkpoint).
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..', '..', '..');
const CLI = path.join(ROOT, 'bin', 'electra-native.js');

/** The global step of a run's newest checkpoint, or -1 when it has none. */
function latestStep(runDir) {
  try {
    const name = fs.readFileSync(path.join(runDir, 'checkpoints', 'LATEST'), 'utf8').trim();
    const m = /^step-(\d+)$/.exec(name);
    return m ? Number(m[1]) : -1;
  } catch {
    return -1;
  }
}

/** Runs the CLI, streaming its output to `log` (appended); throws on failure. */
function cli(args, { log, quiet = false, capture = false } = {}) {
  const shown = `electra-native ${args.join(' ')}`;
  if (!quiet) process.stderr.write(`  $ ${shown}\n`);
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (log) fs.appendFileSync(log, `$ ${shown}\n${r.stdout ?? ''}${r.stderr ?? ''}\n`);
  if (r.status !== 0) {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').slice(-15).join('\n');
    throw new Error(`${shown} failed (exit ${r.status}${r.signal ? `, ${r.signal}` : ''}):\n${tail}`);
  }
  return capture ? r.stdout : '';
}

/**
 * Pre-trains into `dir` for `steps` optimizer steps unless it already holds a
 * checkpoint at that step; a run cut short is resumed. Returns the seconds
 * spent (0 when skipped).
 */
function pretrain(dir, steps, args, opts = {}) {
  const have = latestStep(dir);
  if (have >= steps) return 0;
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  const t0 = Date.now();
  const common = ['--log-every', '1000000', '--checkpoint-minutes', '5', '--keep', '1'];
  if (have >= 0) cli(['train', '--resume', dir, '--steps', String(steps), ...common], { log: path.join(dir, 'experiment.log'), ...opts });
  else {
    fs.mkdirSync(dir, { recursive: true });
    cli(['train', '--out', dir, '--steps', String(steps), ...args, ...common], { log: path.join(dir, 'experiment.log'), ...opts });
  }
  return (Date.now() - t0) / 1000;
}

/**
 * Fine-tunes and scores a pre-trained run with the embedded evaluation suite
 * (`eval-suite --json`). The result is cached in the run directory under a
 * name derived from the suite's arguments, so scoring the same run again with
 * the same arguments is free and with other arguments (another task, more
 * epochs) is a new score that never reads the old one.
 */
function scoreFile(dir, args) {
  const key = crypto.createHash('sha256').update(JSON.stringify(args)).digest('hex').slice(0, 12);
  return path.join(dir, `eval-suite-${key}.json`);
}

function score(dir, args = [], opts = {}) {
  const file = scoreFile(dir, args);
  if (fs.existsSync(file)) {
    const cached = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (JSON.stringify(cached.args) === JSON.stringify(args)) return cached.result;
  }
  const out = cli(['eval-suite', dir, '--json', ...args], { log: path.join(dir, 'experiment.log'), capture: true, ...opts });
  const result = JSON.parse(out);
  fs.writeFileSync(file + '.tmp', JSON.stringify({ args, result }, null, 2) + '\n');
  fs.renameSync(file + '.tmp', file);
  return result;
}

module.exports = { ROOT, CLI, latestStep, cli, pretrain, score, scoreFile };
