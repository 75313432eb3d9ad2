// Reliability of the library API (issue: nothing a user does or a machine
// suffers leaves a run unresumable or silently wrong): sound checkpoints only,
// digests verified on load, the run lock, lifetime, strict inputs, memory plan.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  activationBytes,
  ArrayDataset,
  buildWordVocab,
  countParameters,
  crc32c,
  ElectraError,
  ElectraModel,
  electraConfig,
  type EncoderSize,
  LossSpikeGuard,
  planMemory,
  RunLock,
  toyCorpus,
  toyExamples,
  Trainer,
  verifyCheckpoint,
} from '../lib';
import { CheckpointManager } from '../lib/checkpoints';
import { AppendLog } from '../lib/io/append-log';
import { parseManifest, writeManifest } from '../lib/checkpoint-manifest';
import { parseSafetensors, serializeSafetensors, toFloat32 } from '../lib/io/safetensors';
import { checkConfigKeys } from '../lib/config-keys';
import { repeatedFlags } from '../lib/cli/repeated-flags';
import { removeStaleTemporaries } from '../lib/run-lock';
import { removeAbandonedBuilds } from '../lib/data/default-corpus';

const docs = toyCorpus(60, 3);
const vocab = buildWordVocab(docs);
const ids = { padId: vocab.padId, unkId: vocab.unkId, clsId: vocab.clsId, sepId: vocab.sepId, maskId: vocab.maskId };
const cfg = electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 32, ...ids });
const examples = toyExamples(docs, vocab, 32);

/** The backend's answers the memory plan asks the model for (ElectraModel methods). */
type PlanQuery = 'attentionSavedFloats' | 'ffnGeluBf16' | 'attentionQkvBf16';

/**
 * The Trainer's plan takes the model's answer to `query`, whatever its backend says: with `query`
 * answering `answer`, a B x S Trainer asks it once per encoder with `args(encoder)` and plans
 * `expected` activation bytes.
 */
function expectPlanAsks(query: PlanQuery, answer: (...a: number[]) => number | boolean, args: (e: EncoderSize) => number[], B: number, S: number, expected: number): void {
  const m = ElectraModel.create(cfg);
  try {
    const ask = jest.spyOn(m, query).mockImplementation(answer as never);
    const t = new Trainer({ model: m, data: new ArrayDataset(examples), batchSize: B, seqLen: S });
    for (const e of [cfg.generator, cfg.discriminator]) expect(ask).toHaveBeenCalledWith(...args(e));
    expect(t.memoryPlan.activations).toBe(expected);
  } finally {
    m.dispose();
  }
}
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'electra-rel-'));

function trainer(opts: Partial<ConstructorParameters<typeof Trainer>[0]> = {}) {
  return new Trainer({ model: ElectraModel.create(cfg), data: new ArrayDataset(examples, { padId: vocab.padId }), batchSize: 2, seqLen: 32, optimizer: { lr: 1e-3, totalSteps: 20, warmupSteps: 0 }, ...opts });
}

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(ElectraError);
    return (e as ElectraError).code + ': ' + (e as Error).message;
  }
  return 'no error';
}

/** Flips one bit of byte `at` (negative: from the end) of a file. */
function flipBit(file: string, at: number, bit = 6): void {
  const b = fs.readFileSync(file);
  const i = at < 0 ? b.length + at : at;
  b[i] ^= 1 << bit;
  fs.writeFileSync(file, b);
}

describe('sound checkpoints (case 1)', () => {
  test('a checkpoint of exploded weights is refused with ERR_DIVERGED and nothing is written; LATEST keeps naming the sound one', async () => {
    const run = tmp();
    try {
      const t = trainer();
      const cm = new CheckpointManager(run, { keep: 3 });
      await t.train({ steps: 1 });
      const good = await cm.save(t);
      await t.train({ steps: 1 });
      const w = t.model.getTensor('electra.embeddings.LayerNorm.weight');
      w[3] = 4.8e8; // finite but exploded, as --lr 1e3 gives
      t.model.setTensor('electra.embeddings.LayerNorm.weight', w);
      expect(await codeOf(cm.save(t))).toMatch(/^ERR_DIVERGED: not saving the checkpoint of step 2: weight electra\.embeddings\.LayerNorm\.weight\[3\] is 4\.80e\+8/);
      expect(cm.list()).toEqual(['step-000001']);
      expect(CheckpointManager.latest(run)).toBe(good);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });

  test('a negative second moment is refused on save (ERR_DIVERGED) and on load (ERR_CORRUPT_FILE)', async () => {
    const run = tmp();
    try {
      const t = trainer();
      await t.train({ steps: 1 });
      const dir = path.join(run, 'ck');
      await t.saveCheckpoint(dir);
      const v = t.model.native.getTensor('generator_lm_head.bias', 'v');
      v[0] = -1e-3;
      t.model.native.setTensor('generator_lm_head.bias', v, 'v');
      expect(await codeOf(t.saveCheckpoint(path.join(run, 'ck2')))).toMatch(/^ERR_DIVERGED: .*second moment v\/generator_lm_head\.bias\[0\] is -0\.001/);
      expect(fs.existsSync(path.join(run, 'ck2'))).toBe(false);
      // The same value written into a checkpoint by hand (and its manifest refreshed, as a tool would) is refused on load.
      const f = path.join(dir, 'optimizer.safetensors');
      const st = parseSafetensors(fs.readFileSync(f), f);
      const tensors = [...st.tensors].map(([name, e]) => {
        const data = toFloat32(e, f, name);
        if (name === 'v/generator_lm_head.bias') data[0] = -1;
        return { name, shape: e.shape, data };
      });
      fs.writeFileSync(f, serializeSafetensors(tensors, st.metadata));
      await writeManifest(dir);
      expect(await codeOf(Trainer.resume(dir, { data: new ArrayDataset(examples), batchSize: 2, seqLen: 32 }))).toMatch(/^ERR_CORRUPT_FILE: .*v\/generator_lm_head\.bias' has -1 at 0/);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });

  test('the step a non-finite loss is reported at is the 1-based step that failed, and nothing after it is counted', async () => {
    const t = trainer({ optimizer: { lr: 3e38, totalSteps: 100, warmupSteps: 0 }, maxAbsWeight: Infinity });
    const seen: number[] = [];
    const err = await codeOf(t.train({ steps: 10, onStep: (m) => void seen.push(m.step) }));
    expect(err).toMatch(/^ERR_DIVERGED: .*at step (\d+) \(1-based/);
    const step = Number(/at step (\d+)/.exec(err)![1]);
    expect(step).toBe(seen.length + 1);
    expect(t.globalStep).toBe(seen.length);
  });

  test('loss-spike guard: stop throws ERR_DIVERGED naming the step; skip withholds the update natively', async () => {
    const g = new LossSpikeGuard({ action: 'stop', window: 3, factor: 2 });
    for (const [i, l] of [5, 4, 3, 3.5].entries()) expect(g.observe(l, i + 1)).toBe(false);
    expect(() => g.observe(50, 5)).toThrow(/loss spike at step 5: loss 50\.00 > 2 x the running mean 3\.500/);
    const s = new LossSpikeGuard({ action: 'skip', window: 2, factor: 1.5 });
    s.observe(4, 1);
    s.observe(4, 2);
    expect(s.threshold()).toBe(6);
    expect(s.observe(7, 3)).toBe(true);
    expect(s.threshold()).toBe(6); // a spike does not enter the mean
    expect(() => new LossSpikeGuard({ action: 'stop', factor: 1 })).toThrow(/factor must be a finite number > 1/);
    // Native skip: a threshold below any loss leaves the weights and moments untouched.
    const t = trainer();
    const before = t.model.getTensor('generator_lm_head.bias');
    const batch = new ArrayDataset(examples).next(2, 32);
    const m = await t.model.native.trainStep(batch, { ...t.nativeTrainConfig(), skipAboveLoss: 1e-6 }, 0);
    expect(m.skipped).toBe(true);
    expect(t.model.getTensor('generator_lm_head.bias')).toEqual(before);
    const m2 = await t.model.native.trainStep(batch, { ...t.nativeTrainConfig(), skipAboveLoss: 0 }, 1);
    expect(m2.skipped).toBe(false);
    expect(t.model.getTensor('generator_lm_head.bias')).not.toEqual(before);
  });
});

describe('checksums (case 5)', () => {
  test('CRC-32C matches the published check value and continues across chunks', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    const b = Buffer.from('the quick brown fox jumps over the lazy dog');
    expect(crc32c(b.subarray(10), crc32c(b.subarray(0, 10)))).toBe(crc32c(b));
    expect(crc32c(new Float32Array([1, 2, 3]))).toBe(crc32c(Buffer.from(new Float32Array([1, 2, 3]).buffer)));
  });

  test('every checkpoint file is in the manifest; one flipped exponent bit anywhere is ERR_CORRUPT_FILE naming the file', async () => {
    const run = tmp();
    try {
      const t = trainer();
      await t.train({ steps: 2 });
      const dir = path.join(run, 'ck');
      await t.saveCheckpoint(dir, { 'vocab.txt': vocab.tokens.join('\n') + '\n' });
      const manifest = (await verifyCheckpoint(dir))!;
      expect(Object.keys(manifest.files).sort()).toEqual(['config.json', 'model.safetensors', 'optimizer.safetensors', 'trainer.json', 'vocab.txt']);
      for (const f of ['model.safetensors', 'optimizer.safetensors', 'trainer.json']) {
        const copy = path.join(run, `bad-${f}`);
        fs.cpSync(dir, copy, { recursive: true });
        flipBit(path.join(copy, f), -2); // the high byte of the last float: its exponent
        expect(await codeOf(ElectraModel.load(copy))).toMatch(new RegExp(`^ERR_CORRUPT_FILE: .*bad-${f.replace('.', '\\.')}/${f.replace('.', '\\.')}: checksum mismatch`));
      }
      expect((await ElectraModel.load(dir)).numParameters).toBe(t.model.numParameters);
      fs.appendFileSync(path.join(dir, 'trainer.json'), ' ');
      expect(await codeOf(verifyCheckpoint(dir))).toMatch(/trainer\.json: \d+ bytes, but manifest\.json recorded \d+ \(truncated or replaced\)/);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });

  test('a malformed manifest is ERR_CORRUPT_FILE, never a crash', () => {
    for (const bad of ['', '{', '[]', '{"format":"x","files":{}}', '{"format":"electra-native-manifest/1","files":{"../x":{"bytes":1,"crc32c":"00000000"}}}', '{"format":"electra-native-manifest/1","files":{"a":{"bytes":-1,"crc32c":"00000000"}}}']) {
      expect(() => parseManifest(bad, 'm.json')).toThrow(ElectraError);
    }
  });

  test('resume falls back past a corrupt LATEST to the newest checkpoint that verifies, saying so', async () => {
    const run = tmp();
    try {
      const t = trainer();
      const cm = new CheckpointManager(run, { keep: 3 });
      await t.train({ steps: 1 });
      await cm.save(t);
      await t.train({ steps: 1 });
      const latest = await cm.save(t);
      flipBit(path.join(latest, 'model.safetensors'), -2);
      const notes: string[] = [];
      const r = await CheckpointManager.loadNewestSound(
        CheckpointManager.candidates(run),
        (d) => Trainer.resume(d, { data: new ArrayDataset(examples), batchSize: 2, seqLen: 32, optimizer: { lr: 1e-3, totalSteps: 20, warmupSteps: 0 } }),
        (skipped, why, next) => notes.push(`${path.basename(skipped)} -> ${next && path.basename(next)}: ${why}`),
      );
      expect(path.basename(r.dir)).toBe('step-000001');
      expect(r.value.globalStep).toBe(1);
      expect(notes).toEqual([expect.stringMatching(/^step-000002 -> step-000001: .*model\.safetensors: checksum mismatch/)]);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});

describe('run lock (case 2)', () => {
  test('a second writer gets ERR_BUSY naming the holder; a dead holder on this host is stale and taken over', () => {
    const run = tmp();
    try {
      const a = RunLock.acquire(run);
      expect(() => RunLock.acquire(run)).toThrow(new RegExp(`in use by pid ${process.pid} on ${os.hostname()}.*Nothing was written`));
      a.release();
      const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
      const holder = { pid: Number(dead.stdout), host: os.hostname(), since: new Date().toISOString(), command: 'train' };
      fs.writeFileSync(path.join(run, 'run.lock'), JSON.stringify(holder));
      const stale: number[] = [];
      const b = RunLock.acquire(run, (h) => stale.push(h.pid));
      expect(stale).toEqual([holder.pid]);
      expect(JSON.parse(fs.readFileSync(path.join(run, 'run.lock'), 'utf8')).pid).toBe(process.pid);
      b.release();
      expect(fs.existsSync(path.join(run, 'run.lock'))).toBe(false);
      // Another host's lock cannot be checked: refused, with the way out.
      fs.writeFileSync(path.join(run, 'run.lock'), JSON.stringify({ ...holder, host: 'elsewhere' }));
      expect(() => RunLock.acquire(run)).toThrow(/taken on another host.*delete .*run\.lock/);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });

  test('temporaries of interrupted writes are removed; live builds of other processes are not', () => {
    const run = tmp();
    try {
      fs.mkdirSync(path.join(run, 'checkpoints', 'step-000002'), { recursive: true });
      fs.mkdirSync(path.join(run, 'datasets'), { recursive: true });
      const junk = [path.join(run, 'checkpoints', '.LATEST.123.456.tmp'), path.join(run, 'checkpoints', 'step-000002', '.model.safetensors.1.2.tmp'), path.join(run, '.vocab.txt.1.2.tmp')];
      for (const f of junk) fs.writeFileSync(f, 'x');
      fs.writeFileSync(path.join(run, 'checkpoints', 'LATEST'), 'step-000002\n');
      expect(removeStaleTemporaries(run).sort()).toEqual([...junk].sort());
      expect(fs.existsSync(path.join(run, 'checkpoints', 'LATEST'))).toBe(true);
      const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
      const abandoned = path.join(run, 'datasets', `corpus-abc.tmp-${dead}-1700000000000`);
      const live = path.join(run, 'datasets', `corpus-abc.tmp-${process.ppid}-1700000000000`);
      fs.mkdirSync(abandoned);
      fs.mkdirSync(live);
      expect(removeAbandonedBuilds(path.join(run, 'datasets'))).toEqual([abandoned]);
      expect(fs.existsSync(live)).toBe(true);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});

describe('writes that fail (case 4)', () => {
  test('a full disk while appending is one ERR_IO naming the file', () => {
    const log = new AppendLog('/dev/full');
    expect(() => log.append({ step: 1 })).toThrow(/^cannot write \/dev\/full: the disk is full \(ENOSPC\)$/);
  });
});

describe('strict inputs (case 6)', () => {
  test('misspelt config keys are an error with a suggestion', () => {
    expect(() => checkConfigKeys({ discriminator: { hiden: 64 } }, 'c.json')).toThrow(/unknown config key 'hiden' in discriminator \(c\.json\); did you mean 'hidden'\?/);
    expect(() => electraConfig({ embedingSize: 64 } as never)).toThrow(/unknown config key 'embedingSize'; did you mean 'embeddingSize'\?/);
    expect(() => electraConfig({ layer_norm_eps: 1e-5 } as never)).toThrow(/did you mean 'layerNormEps'/);
    expect(() => electraConfig({ zzz: 1 } as never)).toThrow(/unknown config key 'zzz' \(known keys: /);
  });

  test('a repeated scalar flag is found in the raw arguments', () => {
    expect(repeatedFlags(['train', '--seq', '32', '--seq', '1', '--corpus', 'a', '--corpus', 'b', '--', '--seq'])).toEqual(['seq', 'corpus']);
    expect(repeatedFlags(['train', '--cased', '--no-cased'])).toEqual(['cased']);
  });

  test('bad batch sources get an ElectraError saying what was expected', async () => {
    expect(() => new ArrayDataset([[2, 5, 6, 3]] as never)).toThrow(/examples\[0\] is a plain array of ids; expected \{ids: number\[\] \| Int32Array/);
    expect(() => new ArrayDataset([{ ids: [] }])).toThrow(/examples\[0\]\.ids is empty/);
    expect(() => new ArrayDataset(null as never)).toThrow(/needs an array of examples/);
    const nullSource = trainer({ data: { next: () => null as never } });
    expect(await codeOf(nullSource.trainStep())).toMatch(/^ERR_INVALID_ARGUMENT: bad batch: the data source returned null \(expected a TokenBatch/);
    const flat = trainer({ data: { next: () => [1, 2, 3] as never } });
    expect(await codeOf(flat.trainStep())).toMatch(/the data source returned an array/);
    const padded = trainer({
      data: {
        next: (rows: number, seq: number) => {
          const b = new ArrayDataset(examples).next(rows, seq);
          b.attentionMask!.fill(0, seq, 2 * seq);
          return b;
        },
      },
    });
    expect(await codeOf(padded.trainStep())).toMatch(/bad batch: row 1 is all padding \(its attentionMask is all 0\)/);
    expect(padded.globalStep).toBe(0);
  });
});

describe('lifetime (case 6)', () => {
  test('dispose frees native memory at once; use after dispose is an error; Symbol.dispose works', async () => {
    const big = electraConfig({ preset: 'tiny', vocabSize: 30522 }); // ~1.2M weights: ~19 MB with gradients and moments
    let rssAfterWarmUp = 0;
    let bytesPerModel = 0;
    for (let i = 0; i < 40; i++) {
      using m = ElectraModel.create(big);
      bytesPerModel = 16 * m.numParameters;
      if (i === 5) rssAfterWarmUp = process.memoryUsage().rss;
    }
    // Without dispose the last 34 models (~650 MB native, invisible to the GC) would all still be alive here;
    // with it, growth is the allocator's slack only (freed blocks are reused, not always returned to the OS).
    expect(process.memoryUsage().rss - rssAfterWarmUp).toBeLessThan(0.4 * 34 * bytesPerModel);
    const m = ElectraModel.create(cfg);
    m.dispose();
    m.dispose(); // a second call does nothing
    expect(m.isDisposed).toBe(true);
    expect(await codeOf(() => m.getTensor('generator_lm_head.bias'))).toMatch(/^ERR_INVALID_ARGUMENT: this ElectraModel was disposed/);
    expect(await codeOf(m.discriminate(new ArrayDataset(examples).next(1, 32)))).toMatch(/disposed/);
    const t = trainer();
    t[Symbol.dispose]();
    expect(await codeOf(t.trainStep())).toMatch(/disposed/);
  });

  test('the native handle itself refuses use after dispose (no dangling pointer)', async () => {
    const m = ElectraModel.create(cfg);
    const native = m.native;
    m.dispose();
    expect(native.isDisposed()).toBe(true);
    expect(() => native.numParameters()).toThrow(/the model was disposed/);
    expect(() => native.getTensor('generator_lm_head.bias')).toThrow(/the model was disposed/);
  });
});

describe('memory planning (case 6)', () => {
  test('the parameter count and the activation bytes agree with the native model after a real step', async () => {
    for (const c of [cfg, electraConfig({ ...cfg, objective: 'mlm' }), electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, embeddingSize: 64, maxPosition: 48, ...ids })]) {
      const model = ElectraModel.create(c);
      expect(countParameters(c)).toBe(model.numParameters);
      const t = new Trainer({ model, data: new ArrayDataset(examples), batchSize: 3, seqLen: 32 });
      const before = model.memory().bytesInUse;
      await t.trainStep();
      const plan = planMemory(c, model.numParameters, { batchSize: 3, seqLen: 32, maskProb: 0.15 });
      expect(model.memory().bytesInUse - before).toBe(plan.activations);
      expect(t.memoryPlan.activations).toBe(plan.activations);
      model.dispose();
    }
  });

  test("the backend's step workspaces: 0 on the CPU, added to the plan's workspace, argument errors typed", () => {
    const model = ElectraModel.create(cfg);
    try {
      expect(model.stepWorkspaceBytes(3, 32)).toBe(0);
      const base = planMemory(cfg, model.numParameters, { batchSize: 3, seqLen: 32, maskProb: 0.15 });
      const withWs = planMemory(cfg, model.numParameters, { batchSize: 3, seqLen: 32, maskProb: 0.15, backendWorkspace: 12345 });
      expect(withWs.workspace - base.workspace).toBe(12345);
      expect(withWs.total - base.total).toBe(12345);
      expect(() => model.stepWorkspaceBytes(0, 32)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      const t = new Trainer({ model, data: new ArrayDataset(examples), batchSize: 3, seqLen: 32 });
      expect(t.memoryPlan).toEqual(base);
    } finally {
      model.dispose();
    }
    // (CUDA's non-zero bound is checked against a real step's growth in native/tests/test_cuda_memory.cpp.)
  });

  test("the attention state in the plan is the backend's: the probabilities on the CPU, one float per query row where CUDA recomputes them", () => {
    const model = ElectraModel.create(cfg);
    try {
      for (const e of [cfg.generator, cfg.discriminator]) {
        expect(model.attentionSavedFloats(3, 32, e.heads, e.hidden / e.heads)).toBe(3 * e.heads * 32 * 32);
      }
      expect(() => model.attentionSavedFloats(3, 0, 1, 64)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
      const t = new Trainer({ model, data: new ArrayDataset(examples), batchSize: 3, seqLen: 32 });
      expect(t.memoryPlan.activations).toBe(activationBytes(cfg, 3, 32, 0.15));
    } finally {
      model.dispose();
    }
    // What CUDA's bf16 tensor-core attention answers (native/tests/test_cuda_memory.cpp checks that its
    // allocation is this plan): each layer's buffer shrinks from B*A*S*S floats to B*A*S, 64-byte rounded.
    const B = 3;
    const S = 32;
    const rows = (b: number, s: number, heads: number) => b * heads * s;
    const round = (floats: number) => Math.ceil((4 * floats) / 64) * 64;
    const saving = [cfg.generator, cfg.discriminator].reduce((a, e) => a + e.layers * (round(B * e.heads * S * S) - round(B * e.heads * S)), 0);
    expect(saving).toBeGreaterThan(0);
    expect(activationBytes(cfg, B, S, 0.15) - activationBytes(cfg, B, S, 0.15, 64, rows)).toBe(saving);
    const plan = planMemory(cfg, countParameters(cfg), { batchSize: B, seqLen: S, maskProb: 0.15, attentionSavedFloats: rows });
    expect(planMemory(cfg, countParameters(cfg), { batchSize: B, seqLen: S, maskProb: 0.15 }).total - plan.total).toBe(saving);
    expectPlanAsks('attentionSavedFloats', rows, (e) => [B, S, e.heads, e.hidden / e.heads], B, S, activationBytes(cfg, B, S, 0.15, 64, rows));
  });

  test("the GELU output in the plan is the backend's: fp32 on the CPU, half the bytes where CUDA keeps it as bf16", () => {
    const model = ElectraModel.create(cfg);
    try {
      for (const e of [cfg.generator, cfg.discriminator]) expect(model.ffnGeluBf16(e.hidden, e.intermediate)).toBe(false);
      expect(() => model.ffnGeluBf16(0, 64)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    } finally {
      model.dispose();
    }
    // What CUDA in bf16 answers (native/tests/test_cuda_memory.cpp checks that its allocation is this plan):
    // each layer's GELU output shrinks from B*S*F floats to B*S*F bf16, 64-byte rounded.
    const B = 3;
    const S = 32;
    const bf16 = () => true;
    const round = (bytes: number) => Math.ceil(bytes / 64) * 64;
    const saving = [cfg.generator, cfg.discriminator].reduce((a, e) => a + e.layers * (round(4 * B * S * e.intermediate) - round(2 * B * S * e.intermediate)), 0);
    expect(saving).toBeGreaterThan(0);
    expect(activationBytes(cfg, B, S, 0.15) - activationBytes(cfg, B, S, 0.15, 64, undefined, bf16)).toBe(saving);
    expectPlanAsks('ffnGeluBf16', bf16, (e) => [e.hidden, e.intermediate], B, S, activationBytes(cfg, B, S, 0.15, 64, undefined, bf16));
  });

  test("q, k, v in the plan are the backend's: fp32 on the CPU, half the bytes where CUDA keeps them as bf16", () => {
    const model = ElectraModel.create(cfg);
    try {
      for (const e of [cfg.generator, cfg.discriminator]) expect(model.attentionQkvBf16(32, e.heads, e.hidden / e.heads)).toBe(false);
      expect(() => model.attentionQkvBf16(32, 0, 64)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    } finally {
      model.dispose();
    }
    // What CUDA in bf16 answers (native/tests/test_cuda_memory.cpp checks that its allocation is this plan):
    // each layer's q, k, v shrink from 3 x B*S*H floats to 3 x B*S*H bf16, 64-byte rounded.
    const B = 3;
    const S = 32;
    const bf16 = () => true;
    const round = (bytes: number) => Math.ceil(bytes / 64) * 64;
    const saving = [cfg.generator, cfg.discriminator].reduce((a, e) => a + 3 * e.layers * (round(4 * B * S * e.hidden) - round(2 * B * S * e.hidden)), 0);
    expect(saving).toBeGreaterThan(0);
    expect(activationBytes(cfg, B, S, 0.15) - activationBytes(cfg, B, S, 0.15, 64, undefined, undefined, bf16)).toBe(saving);
    expectPlanAsks('attentionQkvBf16', bf16, (e) => [S, e.heads, e.hidden / e.heads], B, S, activationBytes(cfg, B, S, 0.15, 64, undefined, undefined, bf16));
  });

  test('a batch that cannot fit is ERR_OUT_OF_MEMORY before anything is allocated, with the numbers and a suggestion', () => {
    const model = ElectraModel.create(cfg);
    try {
      const before = model.memory().bytesInUse;
      expect(() => new Trainer({ model, data: new ArrayDataset(examples), batchSize: 10_000_000, seqLen: 32 })).toThrow(
        /^a 10000000 x 32 micro-batch needs [\d.]+ GiB more \(.*activations [\d.]+ GiB.*\), but only [\d.]+ (GiB|MiB) is available on this machine \(free memory\)\. Use a smaller batch, e\.g\. --batch \d+ --grad-accum \d+/,
      );
      expect(model.memory().bytesInUse).toBe(before);
    } finally {
      model.dispose();
    }
  });
});
