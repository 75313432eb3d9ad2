// kill -9 harness: a training run that checkpoints every step is killed with
// SIGKILL at seeded random moments (mostly mid-checkpoint: saving is most of
// a toy step's time); after each kill the run must still have a LATEST that
// verifies and resumes. CI runs ELECTRA_KILL9_TRIALS (default 6) trials;
// set it higher to run more.
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ArrayDataset, buildWordVocab, toyCorpus, toyExamples, Trainer, verifyCheckpoint } from '../lib';
import { CheckpointManager } from '../lib/checkpoints';
import { rng } from './fuzz/mutate';

const BIN = path.join(__dirname, '..', 'bin', 'electra-native.js');
const TRIALS = Number(process.env.ELECTRA_KILL9_TRIALS ?? 6);
const SEED = Number(process.env.ELECTRA_KILL9_SEED ?? 1);
const TINY = ['--corpus', 'toy', '--batch', '4', '--seq', '32', '--eval-batches', '0', '--checkpoint-minutes', '0'];

test(`kill -9 during checkpointing, ${TRIALS} trials: LATEST always verifies and resumes`, async () => {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-kill9-'));
  const run = path.join(scratch, 'run');
  const r = rng(SEED);
  let intact = 0;
  let killedMidRun = 0;
  try {
    const first = spawnSync(process.execPath, [BIN, 'train', ...TINY, '--steps', '2', '--checkpoint-every', '1', '--out', run], { encoding: 'utf8' });
    expect(first.status).toBe(0);
    // The toy data the CLI trains on (seed 0), to resume in-process.
    const docs = toyCorpus(2000, 1);
    const vocab = buildWordVocab(docs);
    const examples = toyExamples(docs, vocab, 32);
    for (let t = 0; t < TRIALS; t++) {
      const child = spawn(process.execPath, [BIN, 'train', ...TINY, '--resume', run, '--steps', '100000', '--checkpoint-every', '1', '--keep', '2'], { stdio: 'ignore' });
      // Let it get past start-up (about 1 s) into its save-every-step loop, then kill it at a random moment.
      await new Promise((res) => setTimeout(res, 1200 + Math.floor(r() * 1500)));
      const exited = child.exitCode !== null;
      child.kill('SIGKILL');
      await new Promise((res) => child.on('close', res));
      if (!exited) killedMidRun++;
      const latest = CheckpointManager.latest(run);
      expect(latest).not.toBeNull();
      expect(await verifyCheckpoint(latest!)).not.toBeNull();
      const trainer = await Trainer.resume(latest!, { data: new ArrayDataset(examples, { padId: vocab.padId }), batchSize: 4, seqLen: 32, device: 'cpu' });
      expect(trainer.globalStep).toBeGreaterThanOrEqual(2);
      trainer.dispose();
      intact++;
    }
    // The CLI takes over the dead run's lock and continues.
    const resumed = spawnSync(process.execPath, [BIN, 'train', ...TINY, '--resume', run, '--steps', String(Number(path.basename(CheckpointManager.latest(run)!).slice(5)) + 1)], { encoding: 'utf8' });
    expect(resumed.stderr).toMatch(/removing the stale lock of pid \d+/);
    expect(resumed.stderr).toMatch(/done at step/);
    expect(resumed.status).toBe(0);
    process.stdout.write(`kill -9 harness (seed ${SEED}): ${intact}/${TRIALS} trials left a LATEST that verifies and resumes (${killedMidRun} killed mid-run)\n`);
    expect(killedMidRun).toBe(TRIALS);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}, 600000);
