/**
 * Device selection (lib/device.ts), the addon's Model options, and the
 * Trainer's device check. Runs everywhere: on a machine without a usable GPU
 * (CI: CUDA compiled in, no GPU; or a CPU-only node-gyp build) the GPU tests
 * are skipped with the reason printed, and the "no GPU" paths are checked.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  AdamW,
  ArrayDataset,
  ElectraModel,
  Trainer,
  buildWordVocab,
  electraConfig,
  formatCudaVersion,
  getInfo,
  loadNative,
  parseDevice,
  toyCorpus,
  toyExamples,
} from '../lib';
import type { NativeModel, NativeModelConfig } from '../lib/native-model';

const info = getInfo();
const cudaCompiled = info.cudaCompiled;
const hasGpu = info.cudaCompiled && info.cuda.deviceCount > 0;
const versions = `CUDA driver ${formatCudaVersion(info.cuda.driverVersion)}, runtime ${formatCudaVersion(info.cuda.runtimeVersion)}`;
const noGpuWhy = `cudaCompiled ${cudaCompiled}, ${info.cuda.deviceCount} CUDA devices${info.cuda.reason ? ` (${info.cuda.reason})` : ''}`;
if (!hasGpu) console.warn(`device tests: the GPU tests are skipped: no usable GPU here: ${noGpuWhy}`);
else console.warn(`device tests: the "no GPU" tests are skipped: this machine has ${info.cuda.deviceCount} GPU(s) (${info.cuda.devices[0].name})`);
if (!cudaCompiled) console.warn('device tests: the fallback-notice tests check that no notice is given: this binary has no CUDA');

const SEQ = 32;
const docs = toyCorpus(120, 3);
const vocab = buildWordVocab(docs);
const examples = toyExamples(docs, vocab, SEQ);
const ids = { padId: vocab.padId, unkId: vocab.unkId, clsId: vocab.clsId, sepId: vocab.sepId, maskId: vocab.maskId };
const cfg = electraConfig({ preset: 'tiny', vocabSize: vocab.tokens.length, maxPosition: 64, ...ids });
const nativeCfg = cfg as unknown as NativeModelConfig;

/** The thrown value of fn (sync). */
function thrown(fn: () => unknown): Error & { code?: string } {
  try {
    fn();
  } catch (e) {
    return e as Error & { code?: string };
  }
  throw new Error('expected a throw');
}

function trainerFor(model: ElectraModel, extra: Partial<ConstructorParameters<typeof Trainer>[0]> = {}): Trainer {
  return new Trainer({
    model,
    data: new ArrayDataset(examples, { seed: 5 }),
    optimizer: new AdamW({ lr: 1e-3, warmupSteps: 2, totalSteps: 100 }),
    batchSize: 4,
    seqLen: SEQ,
    seed: 3,
    ...extra,
  });
}

// First in the file: the process-wide "once" of the default notice is fresh
// here (jest gives every test file its own module registry).
describe("device 'auto'", () => {
  test('without a usable GPU: the default notice is ONE process.emitWarning per process, however many models', () => {
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const a = ElectraModel.create(cfg);
      const b = ElectraModel.create(cfg, { device: 'auto' });
      const c = ElectraModel.create(cfg, { device: 'auto' });
      const calls = spy.mock.calls.filter((args) => String(args[0]).includes("device 'auto'"));
      if (hasGpu) {
        console.warn('device tests: with a GPU, auto picks it: checking that no notice is given');
        expect(a.device.backend).toBe('cuda');
        expect(calls).toHaveLength(0);
        return;
      }
      for (const m of [a, b, c]) expect(m.device).toEqual({ backend: 'cpu', precision: 'fp32', description: 'cpu' });
      if (!cudaCompiled) {
        expect(calls).toHaveLength(0);
        return;
      }
      expect(calls).toHaveLength(1);
      const [message, opts] = calls[0] as [string, { type?: string; code?: string }];
      expect(message).not.toMatch(/\n/);
      expect(message).toContain(versions);
      expect(opts).toMatchObject({ type: 'ElectraDeviceNotice', code: 'ELECTRA_CPU_FALLBACK' });
    } finally {
      spy.mockRestore();
    }
  });

  test('with onDeviceNotice: exactly one notice per model, naming the reason and the driver and runtime versions', () => {
    const notices: string[] = [];
    const spy = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      const m = ElectraModel.create(cfg, { device: 'auto', onDeviceNotice: (n) => void notices.push(n) });
      expect(spy).not.toHaveBeenCalled(); // the callback replaces the default
      if (hasGpu) {
        expect(notices).toEqual([]);
        expect(m.device).toMatchObject({ backend: 'cuda', index: 0, precision: 'bf16' });
        return;
      }
      expect(m.device.backend).toBe('cpu');
      if (!cudaCompiled) {
        expect(notices).toEqual([]);
        return;
      }
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatch(/^device 'auto': no usable GPU, using the CPU: /);
      expect(notices[0]).toContain(versions);
      if (info.cuda.reason) expect(notices[0]).toContain(info.cuda.reason);
      ElectraModel.create(cfg, { onDeviceNotice: (n) => void notices.push(n) });
      expect(notices).toHaveLength(2); // a callback hears of every fallback; it decides what to print
    } finally {
      spy.mockRestore();
    }
  });

  (hasGpu ? test.skip : test)("precision 'bf16' under auto without a usable GPU is ERR_INVALID_ARGUMENT, not a silent fp32", () => {
    const e = thrown(() => ElectraModel.create(cfg, { precision: 'bf16', onDeviceNotice: () => undefined }));
    expect(e.code).toBe('ERR_INVALID_ARGUMENT');
    expect(e.message).toMatch(/precision 'bf16' needs a CUDA GPU, but no GPU can be used: /);
    expect(e.message).toContain(versions);
  });
});

describe('device names', () => {
  test("'cuda:abc', 'gpu' and other malformed devices are ERR_INVALID_ARGUMENT", async () => {
    for (const d of ['cuda:abc', 'gpu', 'cuda:', 'cuda:-1', 'CPU', 'cuda:1.5', '', 42, null]) {
      const e = thrown(() => ElectraModel.create(cfg, { device: d as never }));
      expect(e).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/^device must be 'auto', 'cpu', 'cuda' or 'cuda:N'/) });
    }
    // load checks its device options before reading any file.
    await expect(ElectraModel.load('/nonexistent', { device: 'gpu' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(ElectraModel.load('/nonexistent', { precision: 'fp16' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    expect(parseDevice('cuda')).toEqual({ kind: 'cuda', index: 0 });
    expect(parseDevice('cuda:3')).toEqual({ kind: 'cuda', index: 3 });
    expect(parseDevice('auto')).toEqual({ kind: 'auto' });
    expect(formatCudaVersion(12040)).toBe('12.4');
    expect(formatCudaVersion(13000)).toBe('13.0');
    expect(formatCudaVersion(0)).toBe('none');
  });

  test("precision: 'bf16' on the CPU and unknown precisions are ERR_INVALID_ARGUMENT; the CPU is fp32", () => {
    const bf16 = thrown(() => ElectraModel.create(cfg, { device: 'cpu', precision: 'bf16' }));
    expect(bf16).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: expect.stringMatching(/precision 'bf16' needs a CUDA GPU.*use precision 'fp32'/) });
    const fp16 = thrown(() => ElectraModel.create(cfg, { device: 'cpu', precision: 'fp16' as never }));
    expect(fp16).toMatchObject({ code: 'ERR_INVALID_ARGUMENT', message: "precision must be 'fp32' or 'bf16', got 'fp16'" });
    const m = ElectraModel.create(cfg, { device: 'cpu', precision: 'fp32' });
    expect(m.device).toEqual({ backend: 'cpu', precision: 'fp32', description: 'cpu' });
    expect(ElectraModel.create(cfg, { device: 'cpu' }).device.precision).toBe('fp32');
  });

  (hasGpu ? test.skip : test)("device 'cuda' without a usable GPU: ERR_NO_DEVICE naming the reason and the driver and runtime versions", async () => {
    for (const d of ['cuda', 'cuda:0'] as const) {
      const e = thrown(() => ElectraModel.create(cfg, { device: d }));
      expect(e.code).toBe('ERR_NO_DEVICE');
      expect(e.message).toMatch(new RegExp(`^device '${d}' requested, but `));
      expect(e.message).toContain(versions);
      expect(e.message).toContain(cudaCompiled ? (info.cuda.reason ?? 'no CUDA device') : 'built without CUDA');
      expect(e.message).toMatch(/use device 'cpu' or 'auto'$/);
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-device-'));
    try {
      await ElectraModel.create(cfg, { device: 'cpu' }).save(dir);
      await expect(ElectraModel.load(dir, { device: 'cuda' })).rejects.toMatchObject({ code: 'ERR_NO_DEVICE', message: expect.stringContaining(versions) });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test("'cuda:N' beyond the devices info() reports is ERR_NO_DEVICE, with the versions", () => {
    const e = thrown(() => ElectraModel.create(cfg, { device: 'cuda:99' }));
    expect(e.code).toBe('ERR_NO_DEVICE');
    expect(e.message).toMatch(/^device 'cuda:99' requested, but /);
    expect(e.message).toContain(versions);
    if (hasGpu) expect(e.message).toMatch(/there (is 1 CUDA device|are \d+ CUDA devices)/);
  });
});

describe('the addon Model options', () => {
  /** The constructor with loose types (the point is to pass wrong ones). */
  const Native = loadNative().Model as unknown as new (c: unknown, o?: unknown) => NativeModel;

  test('bad backend, device and precision options are ERR_INVALID_ARGUMENT with a readable message', () => {
    const cases: [unknown, RegExp][] = [
      [{ backend: 'tpu' }, /^Model options: backend must be 'cpu' or 'cuda', got 'tpu'$/],
      [{ backend: 1 }, /backend must be 'cpu' or 'cuda', got number/],
      [{ device: -1 }, /^Model options: device must be an integer >= 0, got -1$/],
      [{ device: 1.5 }, /device must be an integer/],
      [{ device: '0' }, /device must be a number, got string/],
      [{ device: NaN }, /device must be finite/],
      [{ precision: 'fp16' }, /^Model options: precision must be 'fp32' or 'bf16', got 'fp16'$/],
      [{ backend: 'cpu', precision: 'bf16' }, /precision 'bf16' needs the CUDA backend/],
      [{ precision: 'bf16' }, /precision 'bf16' needs the CUDA backend/],
      [{ backnd: 'cuda' }, /unknown option 'backnd'/],
      ['cuda', /options must be an object, got string/],
    ];
    for (const [opts, msg] of cases) {
      const e = thrown(() => new Native(nativeCfg, opts));
      expect(e.code).toBe('ERR_INVALID_ARGUMENT');
      expect(e.message).toMatch(msg);
    }
  });

  test('no options, undefined or {} give a CPU fp32 model; device() and memory() describe it', () => {
    for (const o of [undefined, {}, { backend: 'cpu' }, { backend: 'cpu', device: 0, precision: 'fp32' }]) {
      const m = new Native(nativeCfg, o);
      expect(m.device()).toEqual({ backend: 'cpu', device: 0, precision: 'fp32', description: 'cpu' });
    }
    const m = new Native(nativeCfg);
    const mem = m.memory();
    expect(Number.isInteger(mem.bytesInUse) && mem.bytesInUse >= 0).toBe(true);
    expect(mem.peakBytes).toBeGreaterThanOrEqual(mem.bytesInUse);
  });

  test('memory() is ERR_BUSY while a step runs, like the other host accesses', async () => {
    const model = ElectraModel.create(cfg, { device: 'cpu' });
    const t = trainerFor(model);
    const batch = new ArrayDataset(examples).next(4, SEQ);
    const p = model.native.trainStep(batch, t.nativeTrainConfig(), 0);
    expect(() => model.memory()).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    expect(() => model.getTensor('generator_lm_head.bias')).toThrow(expect.objectContaining({ code: 'ERR_BUSY' }));
    await p;
    expect(model.memory().peakBytes).toBeGreaterThanOrEqual(model.memory().bytesInUse);
  });

  (hasGpu ? test.skip : test)("backend 'cuda' without a usable GPU is ERR_NO_DEVICE from the addon itself", () => {
    const e = thrown(() => new Native(nativeCfg, { backend: 'cuda', device: 0 }));
    expect(e.code).toBe('ERR_NO_DEVICE');
    expect(e.message).toMatch(/^Model: /);
  });
});

describe('Trainer and devices', () => {
  test("a Trainer device that disagrees with the model's is ERR_INVALID_ARGUMENT pointing at ElectraModel.create/load", async () => {
    const model = ElectraModel.create(cfg, { device: 'cpu' });
    for (const d of ['cuda', 'cuda:1'] as const) {
      const e = thrown(() => trainerFor(model, { device: d }));
      expect(e.code).toBe('ERR_INVALID_ARGUMENT');
      expect(e.message).toMatch(new RegExp(`Trainer device '${d}' does not match the model's device \\(cpu\\)`));
      expect(e.message).toMatch(/pass device to ElectraModel\.create \/ ElectraModel\.load/);
    }
    expect(thrown(() => trainerFor(model, { device: 'tpu' as never })).code).toBe('ERR_INVALID_ARGUMENT');
    for (const d of [undefined, 'auto', 'cpu'] as const) expect(trainerFor(model, { device: d }).device).toBe('cpu');
    const res = await trainerFor(model).train({ steps: 1 });
    expect(res).toMatchObject({ device: 'cpu', steps: 1 });
  });

  test('Trainer.resume creates the model on the requested device', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'electra-device-'));
    try {
      const first = trainerFor(ElectraModel.create(cfg, { device: 'cpu', seed: 1 }));
      await first.train({ steps: 2 });
      await first.saveCheckpoint(dir);
      const opts = { data: new ArrayDataset(examples, { seed: 5 }), optimizer: new AdamW({ lr: 1e-3, warmupSteps: 2, totalSteps: 100 }), batchSize: 4, seqLen: SEQ, seed: 3 };
      const onCpu = await Trainer.resume(dir, { ...opts, device: 'cpu' });
      expect(onCpu.model.device.backend).toBe('cpu');
      expect(onCpu.device).toBe('cpu');
      expect(onCpu.globalStep).toBe(2);
      if (hasGpu) {
        const onGpu = await Trainer.resume(dir, { ...opts, device: 'cuda', precision: 'fp32' });
        expect(onGpu.model.device).toMatchObject({ backend: 'cuda', index: 0, precision: 'fp32' });
        expect(onGpu.device).toBe('cuda:0');
        for (const s of onCpu.model.tensorSpecs()) expect(onGpu.model.getTensor(s.name)).toEqual(onCpu.model.getTensor(s.name));
      } else {
        await expect(Trainer.resume(dir, { ...opts, device: 'cuda' })).rejects.toMatchObject({ code: 'ERR_NO_DEVICE', message: expect.stringContaining(versions) });
        await expect(Trainer.resume(dir, { ...opts, device: 'cpu', precision: 'bf16' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('on a GPU', () => {
  const gpuTest = hasGpu ? test : test.skip;

  gpuTest("device 'cuda': bf16 by default, fp32 on request; device() and memory() report the GPU", () => {
    const m = ElectraModel.create(cfg, { device: 'cuda', seed: 2 });
    expect(m.device).toMatchObject({ backend: 'cuda', index: 0, precision: 'bf16', description: expect.stringMatching(/^cuda:0\b/) });
    const f = ElectraModel.create(cfg, { device: 'cuda:0', precision: 'fp32', seed: 2 });
    expect(f.device).toMatchObject({ backend: 'cuda', index: 0, precision: 'fp32' });
    expect(f.memory().bytesInUse).toBeGreaterThan(0);
    expect(f.memory().peakBytes).toBeGreaterThanOrEqual(f.memory().bytesInUse);
    // The same seed gives the same initial weights on the GPU and the CPU (init runs on the host).
    const c = ElectraModel.create(cfg, { device: 'cpu', seed: 2 });
    for (const s of c.tensorSpecs()) expect(f.getTensor(s.name)).toEqual(c.getTensor(s.name));
  });

  gpuTest('setTensor / getTensor round-trip on the GPU, and a step changes the weights the host reads back', async () => {
    const m = ElectraModel.create(cfg, { device: 'cuda', precision: 'fp32' });
    const name = 'discriminator_predictions.dense.bias';
    const data = Float32Array.from(m.getTensor(name), (_, i) => 0.01 * i);
    m.setTensor(name, data);
    expect(m.getTensor(name)).toEqual(data);
    const before = m.getTensor('electra.embeddings.word_embeddings.weight');
    await trainerFor(m, { device: 'cuda' }).train({ steps: 2 });
    expect(m.getTensor('electra.embeddings.word_embeddings.weight')).not.toEqual(before);
    expect(m.getTensor(name)).not.toEqual(data);
  });

  gpuTest('the first training step on the GPU matches the CPU (fp32 closely, bf16 loosely)', async () => {
    const first = async (device: 'cpu' | 'cuda', precision: 'fp32' | 'bf16') => {
      const t = trainerFor(ElectraModel.create(cfg, { device, precision, seed: 4 }));
      return t.trainStep();
    };
    const cpu = await first('cpu', 'fp32');
    const fp32 = await first('cuda', 'fp32');
    const bf16 = await first('cuda', 'bf16');
    expect(Math.abs(fp32.genLoss - cpu.genLoss)).toBeLessThan(1e-3 * Math.abs(cpu.genLoss));
    expect(Math.abs(fp32.loss - cpu.loss)).toBeLessThan(2e-2 * Math.abs(cpu.loss));
    expect(Math.abs(bf16.genLoss - cpu.genLoss)).toBeLessThan(2e-2 * Math.abs(cpu.genLoss));
    expect(Number.isFinite(bf16.loss)).toBe(true);
  });

  gpuTest('GPU out of memory is an ERR_OUT_OF_MEMORY rejection, and the model keeps working', async () => {
    const V = 30522;
    const big = electraConfig({ preset: 'tiny', vocabSize: V, maxPosition: 512, ...ids });
    const m = ElectraModel.create(big, { device: 'cuda' });
    const gpuBytes = info.cuda.devices[0].memory;
    // The generator's logits alone ([masked rows, V] floats) need more than the GPU holds.
    const S = 512;
    const rows = Math.ceil((2 * gpuBytes) / (0.15 * V * 4 * S));
    const n = rows * S;
    const inputIds = new Int32Array(n);
    for (let i = 0; i < n; i++) inputIds[i] = 5 + (i % 1000);
    const t = new Trainer({ model: m, data: new ArrayDataset(examples), batchSize: rows, seqLen: S, optimizer: { lr: 1e-4, totalSteps: 10 } });
    await expect(m.native.trainStep({ inputIds, rows, seqLen: S }, t.nativeTrainConfig(), 0)).rejects.toMatchObject({ code: 'ERR_OUT_OF_MEMORY' });
    const small = trainerFor(m, { device: 'cuda' });
    const ok = await small.trainStep();
    expect(Number.isFinite(ok.loss)).toBe(true);
  });
});
