import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { ElectraModel, electraConfig, parseSafetensors, serializeSafetensors, toFloat32 } from '../lib';

const GOLDEN = path.join(__dirname, 'golden');
const HF_DIR = path.join(GOLDEN, 'electra_tiny_hf');

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'electra-model-'));
}

describe('ElectraConfig', () => {
  test('presets follow the paper: Small is 256/12/4/1024/128 with a 64-wide generator', () => {
    const c = electraConfig({ preset: 'small' });
    expect(c.discriminator).toEqual({ hidden: 256, layers: 12, heads: 4, intermediate: 1024 });
    expect(c.embeddingSize).toBe(128);
    expect(c.generator).toEqual({ hidden: 64, layers: 12, heads: 1, intermediate: 256 });
    expect(electraConfig({ preset: 'base' }).generator).toEqual({ hidden: 256, layers: 12, heads: 4, intermediate: 1024 });
    expect(electraConfig({ preset: 'large' }).generator.hidden).toBe(256);
  });

  test('invalid configs get clear errors', () => {
    expect(() => electraConfig({ discriminator: { heads: 3 } })).toThrow(/heads must divide hidden/);
    expect(() => electraConfig({ vocabSize: 4 })).toThrow(/vocab too small/);
    expect(() => electraConfig({ preset: 'huge' as never })).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARGUMENT' }));
    expect(() => electraConfig({ hiddenDropout: 1 })).toThrow(/hiddenDropout/);
  });

  test('ELECTRA-Small has about 14M parameters', () => {
    const m = ElectraModel.create(electraConfig({ preset: 'small' }));
    // Discriminator 13.5M + generator encoder/head; shared embeddings counted once.
    expect(m.numParameters).toBeGreaterThan(13e6);
    expect(m.numParameters).toBeLessThan(18e6);
  });
});

describe('ElectraModel save/load', () => {
  test('loads an HF save_pretrained pair (discriminator/ + generator/) with every tensor in place', async () => {
    const model = await ElectraModel.load(HF_DIR, { specialIds: { unkId: 1, clsId: 2, sepId: 3, maskId: 4 } });
    expect(model.config.discriminator).toEqual({ hidden: 32, layers: 2, heads: 2, intermediate: 64 });
    expect(model.config.generator.hidden).toBe(24);
    const golden = parseSafetensors(fs.readFileSync(path.join(GOLDEN, 'electra_tiny_step.safetensors')), 'golden');
    for (const s of model.tensorSpecs()) {
      const want = toFloat32(golden.tensors.get(`param/${s.name}`)!, 'golden', s.name);
      expect(Array.from(model.getTensor(s.name))).toEqual(Array.from(want));
    }
  });

  test('save then load round-trips every tensor and the config', async () => {
    const dir = tmp();
    try {
      const cfg = electraConfig({ preset: 'tiny', vocabSize: 64, maxPosition: 32, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 });
      const a = ElectraModel.create(cfg, { seed: 3 });
      await a.save(dir);
      const b = await ElectraModel.load(dir);
      expect(b.config).toEqual(a.config);
      for (const s of a.tensorSpecs()) expect(b.getTensor(s.name)).toEqual(a.getTensor(s.name));
      const hf = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect(hf).toMatchObject({ model_type: 'electra', architectures: ['ElectraForPreTraining'], hidden_size: 64 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('corrupt files get ERR_CORRUPT_FILE naming the file and the tensor', () => {
    let dir: string;
    let good: Buffer;
    const cfg = electraConfig({ preset: 'tiny', vocabSize: 64, maxPosition: 32, padId: 0, unkId: 1, clsId: 2, sepId: 3, maskId: 4 });
    beforeAll(async () => {
      dir = tmp();
      await ElectraModel.create(cfg).save(dir);
      good = fs.readFileSync(path.join(dir, 'model.safetensors'));
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    const header = (buf: Buffer) => JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString());
    const withHeader = (h: unknown, data: Buffer) => {
      const json = Buffer.from(JSON.stringify(h));
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([len, json, data]);
    };
    const dataOf = (buf: Buffer) => buf.subarray(8 + Number(buf.readBigUInt64LE(0)));

    const cases: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
      ['truncated file', (b) => b.subarray(0, b.length - 100), /out of range/],
      ['header length past the end', (b) => { const c = Buffer.from(b); c.writeBigUInt64LE(BigInt(b.length * 2), 0); return c; }, /header length .* past the end/],
      ['malformed JSON', (b) => { const c = Buffer.from(b); c.write('{{', 8); return c; }, /malformed JSON/],
      ['unknown dtype', (b) => { const h = header(b); h['generator_lm_head.bias'].dtype = 'F12'; return withHeader(h, dataOf(b)); }, /generator_lm_head\.bias.*unknown dtype/],
      ['overlapping offsets', (b) => {
        const h = header(b);
        const names = Object.keys(h).filter((k) => k !== '__metadata__');
        const [x, y] = [h[names[0]], h[names[1]]];
        if (x.data_offsets[1] - x.data_offsets[0] === y.data_offsets[1] - y.data_offsets[0]) y.data_offsets = [...x.data_offsets];
        else { y.shape = x.shape; y.data_offsets = [...x.data_offsets]; }
        return withHeader(h, dataOf(b));
      }, /overlaps/],
      ['shape that disagrees with the config', (b) => {
        const h = header(b);
        const t = h['generator_lm_head.bias'];
        t.shape = [32, 2];
        return withHeader(h, dataOf(b));
      }, /generator_lm_head\.bias.*shape \[32, 2\].*needs \[64\]/],
    ];
    test.each(cases)('%s', async (_name, corrupt, msg) => {
      const d = tmp();
      try {
        fs.copyFileSync(path.join(dir, 'config.json'), path.join(d, 'config.json'));
        fs.writeFileSync(path.join(d, 'model.safetensors'), corrupt(good));
        const err = await ElectraModel.load(d).then(() => null, (e: unknown) => e as Error & { code: string });
        expect(err).not.toBeNull();
        expect(err!.code).toBe('ERR_CORRUPT_FILE');
        expect(err!.message).toContain(path.join(d, 'model.safetensors'));
        expect(err!.message).toMatch(msg);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });

    test('a missing file is ERR_IO naming it; a missing tensor is named', async () => {
      await expect(ElectraModel.load(path.join(dir, 'nope'))).rejects.toMatchObject({ code: 'ERR_IO' });
      const d = tmp();
      try {
        fs.copyFileSync(path.join(dir, 'config.json'), path.join(d, 'config.json'));
        const st = parseSafetensors(good, 'x');
        const kept = [...st.tensors].filter(([n]) => n !== 'generator_lm_head.bias').map(([name, t]) => ({ name, shape: t.shape, data: toFloat32(t, 'x', name) }));
        fs.writeFileSync(path.join(d, 'model.safetensors'), serializeSafetensors(kept));
        await expect(ElectraModel.load(d)).rejects.toThrow(/tensor 'generator_lm_head\.bias' is missing/);
      } finally {
        fs.rmSync(d, { recursive: true, force: true });
      }
    });
  });
});
